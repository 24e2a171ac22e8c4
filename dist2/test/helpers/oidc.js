import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, jwtVerify, createRemoteJWKSet } from 'jose';
import { Provider, errors } from 'oidc-provider';
export const CRM_AUDIENCE = 'https://crm.test';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** Client secrets registered with the server (they are sidekey's secrets, never the agent's). */
export const CLIENT_SECRETS = {
    basic: 'cs-basic-4d1e9f0b7a2c5e8d',
    post: 'cs-post-9a7c3e1f5b2d8a4c',
    exchange: 'cs-exchange-2f8e6a4c1b9d7e5a',
};
/**
 * Start oidc-provider with the client credentials grant, JWT access tokens for the CRM resource,
 * clients for client_secret_basic, client_secret_post and private_key_jwt, and RFC 8693 token
 * exchange registered through oidc-provider's own grant extension point. The exchange handler
 * verifies the subject token against `subjectJwks` (sidekey's JWKS, or a stand-in Kubernetes
 * issuer's keys) before issuing an access token.
 */
export async function startOidc(options = {}) {
    const signing = await generateKeyPair('RS256', { extractable: true });
    const client = await generateKeyPair('RS256', { extractable: true });
    const clientPublic = { ...(await exportJWK(client.publicKey)), kid: 'sidekey-client-1', alg: 'RS256', use: 'sig' };
    const { exportPKCS8 } = await import('jose');
    const clientKeyPem = await exportPKCS8(client.privateKey);
    const http = createServer();
    await new Promise((r) => http.listen(0, '127.0.0.1', r));
    const port = http.address().port;
    const issuer = `http://127.0.0.1:${port}`;
    const ttl = options.accessTokenTTL ?? 60;
    const grantTypes = ['client_credentials'];
    const scope = 'crm.read crm.write';
    const provider = new Provider(issuer, {
        clients: [
            { client_id: 'crm-basic', client_secret: CLIENT_SECRETS.basic, grant_types: grantTypes, redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope },
            { client_id: 'crm-post', client_secret: CLIENT_SECRETS.post, grant_types: grantTypes, redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_post', scope },
            { client_id: 'crm-jwt', grant_types: grantTypes, redirect_uris: [], response_types: [], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [clientPublic] }, scope },
            { client_id: 'crm-exchange', client_secret: CLIENT_SECRETS.exchange, grant_types: [TOKEN_EXCHANGE], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope },
        ],
        jwks: { keys: [{ ...(await exportJWK(signing.privateKey)), kid: 'as-1', alg: 'RS256', use: 'sig' }] },
        scopes: ['crm.read', 'crm.write'],
        features: {
            devInteractions: { enabled: false },
            clientCredentials: { enabled: true },
            resourceIndicators: {
                enabled: true,
                defaultResource: () => CRM_AUDIENCE,
                useGrantedResource: () => true,
                getResourceServerInfo: () => ({ scope, audience: CRM_AUDIENCE, accessTokenTTL: ttl, accessTokenFormat: 'jwt' }),
            },
        },
    });
    const exchangedSubjects = [];
    provider.registerGrantType(TOKEN_EXCHANGE, async (ctx) => {
        const params = ctx.oidc.params;
        if (params.subject_token_type !== 'urn:ietf:params:oauth:token-type:jwt')
            throw new errors.InvalidRequest('unsupported subject_token_type');
        let sub;
        for (const { jwks, issuer: subjectIssuer } of options.subjectVerifiers?.() ?? []) {
            try {
                sub = (await jwtVerify(params.subject_token, jwks, { issuer: subjectIssuer, audience: issuer })).payload.sub;
                break;
            }
            catch {
                // try the next trusted subject issuer
            }
        }
        if (sub === undefined)
            throw new errors.InvalidGrant('subject_token did not verify');
        exchangedSubjects.push(sub);
        const token = new provider.ClientCredentials({ client: ctx.oidc.client, scope: 'crm.read' });
        token.resourceServer = new provider.ResourceServer(CRM_AUDIENCE, { scope, audience: CRM_AUDIENCE, accessTokenTTL: ttl, accessTokenFormat: 'jwt' });
        const value = await token.save();
        ctx.body = { access_token: value, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: token.expiration };
    }, ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type', 'audience', 'resource', 'scope']);
    const callback = provider.callback();
    const server = {
        issuer,
        port,
        tokenRequests: 0,
        mode: 'ok',
        exchangedSubjects,
        clientKeyPem,
        async verify(token) {
            const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
            return (await jwtVerify(token, jwks, { issuer, audience: CRM_AUDIENCE })).payload;
        },
        stop: () => new Promise((r) => {
            http.closeAllConnections();
            http.close(() => r());
        }),
        restart: () => new Promise((r) => http.listen(port, '127.0.0.1', r)),
    };
    http.on('request', (req, res) => {
        if (req.method === 'POST' && req.url?.startsWith('/token')) {
            server.tokenRequests++;
            // Faults injected in front of the real server, for the failure tests.
            if (server.mode === 'http-500')
                return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"server_error"}');
            if (server.mode === 'garbage')
                return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_tok');
            if (server.mode === 'html')
                return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Sign in</body></html>');
            if (server.mode === 'slow')
                return void setTimeout(() => callback(req, res), 3000);
        }
        callback(req, res);
    });
    return server;
}
//# sourceMappingURL=oidc.js.map