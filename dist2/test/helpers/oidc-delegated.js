import { createServer } from 'node:http';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { Provider } from 'oidc-provider';
import { chromium } from 'playwright-core';
/** The API the delegated tokens are for (RFC 8707 resource indicator, the JWT access tokens' audience). */
export const API_RESOURCE = 'https://api.test';
export const DELEGATED_CLIENT = { id: 'sidekey-delegated', secret: 'cs-delegated-7b3e91c04d5a2f68' };
/**
 * Start the server on a loopback port; the provider is made in `register`, once sidekey's redirect
 * URI is known. With `registration`, clients may also register themselves (RFC 7591). Access tokens live `accessTokenTTL` seconds; every refresh rotates the refresh
 * token (oidc-provider then treats a reused one as theft and revokes the grant: `invalid_grant`).
 */
export async function startDelegatedAs(options = {}) {
    const signing = await generateKeyPair('RS256', { extractable: true });
    const jwks = { keys: [{ ...(await exportJWK(signing.privateKey)), kid: 'delegated-as-1', alg: 'RS256', use: 'sig' }] };
    let handle = null;
    const http = createServer((req, res) => (handle === null ? res.writeHead(503).end() : handle(req, res)));
    await new Promise((r) => http.listen(0, '127.0.0.1', r));
    const issuer = `http://127.0.0.1:${http.address().port}`;
    const ttl = options.accessTokenTTL ?? 60;
    const scope = 'api.read api.write';
    const events = { grants: [], grantErrors: [], registrations: 0, revocations: 0 };
    return {
        issuer,
        events,
        register(redirectUri) {
            const provider = new Provider(issuer, {
                clients: [
                    {
                        client_id: DELEGATED_CLIENT.id,
                        client_secret: DELEGATED_CLIENT.secret,
                        grant_types: ['authorization_code', 'refresh_token'],
                        response_types: ['code'],
                        redirect_uris: [redirectUri],
                        token_endpoint_auth_method: 'client_secret_basic',
                    },
                ],
                jwks,
                cookies: { keys: ['delegated-as-cookie-key-5d1c'] },
                scopes: ['openid', 'offline_access', 'api.read', 'api.write'],
                findAccount: (_ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
                pkce: { required: () => true },
                rotateRefreshToken: () => true,
                features: {
                    devInteractions: { enabled: true },
                    revocation: { enabled: true },
                    // RFC 7591, open (no initial access token), as MCP authorization servers offer it.
                    registration: { enabled: options.registration === true },
                    resourceIndicators: {
                        enabled: true,
                        defaultResource: () => API_RESOURCE,
                        useGrantedResource: () => true,
                        getResourceServerInfo: (_ctx, indicator) => ({ scope, audience: indicator, accessTokenTTL: ttl, accessTokenFormat: 'jwt' }),
                    },
                },
            });
            provider.on('grant.success', (ctx) => events.grants.push(String(ctx.oidc.params.grant_type)));
            provider.on('grant.error', (_ctx, err) => events.grantErrors.push(err.error ?? 'error'));
            provider.on('grant.revoked', () => events.revocations++);
            provider.on('registration_create.success', () => events.registrations++);
            handle = provider.callback();
        },
        async verify(token, audience = API_RESOURCE) {
            const keys = createRemoteJWKSet(new URL(`${issuer}/jwks`));
            return (await jwtVerify(token, keys, { issuer, audience })).payload;
        },
        async revokeDirectly(token) {
            const res = await fetch(`${issuer}/token/revocation`, {
                method: 'POST',
                headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${DELEGATED_CLIENT.id}:${DELEGATED_CLIENT.secret}`).toString('base64')}` },
                body: new URLSearchParams({ token }).toString(),
            });
            return res.status;
        },
        close: () => new Promise((r) => {
            http.closeAllConnections();
            http.close(() => r());
        }),
    };
}
/**
 * The delegated credential the tests connect (YAML lines under `credentials:`): this server's
 * pre-registered client, the scopes that get a refresh token, and consent asked every time.
 */
export function delegatedCredential(name, issuer, refreshAt) {
    process.env.TEST_DELEGATED_SECRET = DELEGATED_CLIENT.secret;
    return `  ${name}:
    type: oauth2-authorization-code
    issuer: ${issuer}
    client_id: ${DELEGATED_CLIENT.id}
    client_secret: { env: TEST_DELEGATED_SECRET }
    scopes: [openid, offline_access, api.read]
    resource: ${API_RESOURCE}
    params: { prompt: consent }
${refreshAt === undefined ? '' : `    refresh_at: ${refreshAt}\n`}`;
}
/** Debian's Chromium, headless, as the console tests launch it. */
export function launchChromium() {
    return chromium.launch({
        executablePath: process.env.SIDEKEY_CHROMIUM ?? '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
    });
}
/** The person's part at the provider's own pages: sign in (unless its session remembers them), then consent. */
export async function signInAndConsent(page, account) {
    await page.waitForSelector('input[name=login], input[name=prompt][value=consent]', { state: 'attached' });
    if ((await page.locator('input[name=login]').count()) > 0) {
        await page.fill('input[name=login]', account);
        await page.fill('input[name=password]', 'any-password');
        await page.click('button[type=submit]');
    }
    await page.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
    await page.click('button[type=submit]');
}
//# sourceMappingURL=oidc-delegated.js.map