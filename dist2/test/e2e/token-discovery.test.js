import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import t, {} from 'tap';
import { Agent } from 'undici';
import { SidekeyError } from '../../src/errors.js';
import { TokenEndpoint } from '../../src/credentials/token-endpoint.js';
import { startUpstream } from '../helpers/upstream.js';
// Discovering a token endpoint from an issuer's metadata (RFC 8414, then OpenID Connect
// Discovery) goes through the shared provider call, against real servers on loopback: an issuer
// that never answers fails with the provider call's timeout and code, at the first path asked.
const TIMEOUT_MS = 300;
const RFC8414 = '/.well-known/oauth-authorization-server';
const OIDC = '/.well-known/openid-configuration';
function endpointFor(t, issuer) {
    const dispatcher = new Agent();
    t.teardown(() => dispatcher.close());
    return new TokenEndpoint('crm', { issuer }, { method: 'none', clientId: null }, { dispatcher, timeoutMs: TIMEOUT_MS });
}
async function failureOf(promise) {
    const outcome = await promise.then((value) => ({ value }), (error) => ({ error }));
    if (!('error' in outcome) || !(outcome.error instanceof SidekeyError))
        throw new Error(`expected a SidekeyError, got ${JSON.stringify(outcome)}`);
    return outcome.error;
}
t.test('an issuer whose metadata endpoint never answers: the provider call times out, and the next path is not tried', async (t) => {
    // Takes the request and never writes a byte back.
    const silent = await startUpstream(() => { });
    t.teardown(() => silent.close());
    const issuer = `http://127.0.0.1:${silent.port}`;
    const err = await failureOf(endpointFor(t, issuer).endpoint());
    t.equal(err.code, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE');
    t.equal(err.message, `credential "crm": issuer ${issuer} did not answer within ${TIMEOUT_MS} ms`);
    t.same(silent.seen.map((s) => s.url), [RFC8414]);
});
t.test('an issuer nobody listens on: unreachable, with the provider call\'s code', async (t) => {
    const probe = createServer();
    await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address();
    await new Promise((resolve) => probe.close(() => resolve()));
    const err = await failureOf(endpointFor(t, `http://127.0.0.1:${port}`).endpoint());
    t.equal(err.code, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE');
    t.match(err.message, /^credential "crm": issuer http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)$/);
});
t.test('metadata missing at the RFC 8414 path is looked for at the OpenID Connect path', async (t) => {
    const idp = await startUpstream((req, res) => {
        if (req.url !== OIDC) {
            res.writeHead(404).end();
            return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: `http://127.0.0.1:${idp.port}/`, token_endpoint: `http://127.0.0.1:${idp.port}/token` }));
    });
    t.teardown(() => idp.close());
    const endpoint = endpointFor(t, `http://127.0.0.1:${idp.port}`);
    t.equal(await endpoint.endpoint(), `http://127.0.0.1:${idp.port}/token`);
    t.equal(await endpoint.endpoint(), `http://127.0.0.1:${idp.port}/token`, 'discovered once');
    t.same(idp.seen.map((s) => s.url), [RFC8414, OIDC]);
});
t.test('answers that are not metadata at either path: cannot discover', async (t) => {
    const idp = await startUpstream((req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(req.url === RFC8414 ? '<html>sign in</html>' : JSON.stringify({ issuer: 'x' }));
    });
    t.teardown(() => idp.close());
    const issuer = `http://127.0.0.1:${idp.port}`;
    const err = await failureOf(endpointFor(t, issuer).endpoint());
    t.equal(err.code, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE');
    t.equal(err.message, `credential "crm": cannot discover the token endpoint of ${issuer}`);
});
t.test('metadata that names another issuer is refused', async (t) => {
    const idp = await startUpstream((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: 'https://elsewhere.test', token_endpoint: 'https://elsewhere.test/token' }));
    });
    t.teardown(() => idp.close());
    const issuer = `http://127.0.0.1:${idp.port}`;
    const err = await failureOf(endpointFor(t, issuer).endpoint());
    t.equal(err.message, `credential "crm": discovery at ${issuer} names another issuer`);
});
t.test('an issuer with a path: the well-known suffix goes between host and path (RFC 8414 section 3.1), then OpenID Connect inserted, then appended', async (t) => {
    const inserted = `${RFC8414}/tenant1`;
    const idp = await startUpstream((req, res) => {
        if (req.url !== inserted) {
            res.writeHead(404).end();
            return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: `http://127.0.0.1:${idp.port}/tenant1`, token_endpoint: `http://127.0.0.1:${idp.port}/tenant1/token` }));
    });
    t.teardown(() => idp.close());
    t.equal(await endpointFor(t, `http://127.0.0.1:${idp.port}/tenant1/`).endpoint(), `http://127.0.0.1:${idp.port}/tenant1/token`);
    t.same(idp.seen.map((s) => s.url), [inserted], 'the RFC 8414 form first, and nothing under the path itself');
    const none = await startUpstream((_req, res) => res.writeHead(404).end());
    t.teardown(() => none.close());
    const issuer = `http://127.0.0.1:${none.port}/realms/a/b`;
    const err = await failureOf(endpointFor(t, issuer).endpoint());
    t.equal(err.message, `credential "crm": cannot discover the token endpoint of ${issuer}`);
    t.same(none.seen.map((s) => s.url), [`${RFC8414}/realms/a/b`, `${OIDC}/realms/a/b`, `/realms/a/b${OIDC}`], 'the three forms, in the MCP authorization spec\'s order');
});
t.test('a real OpenID Connect server mounted under a path (oidc-provider, as Keycloak-style realms are): found at its appended discovery URL', async (t) => {
    const { Provider } = await import('oidc-provider');
    const http = createHttpServer();
    await new Promise((r) => http.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => http.close(() => r())));
    const base = `http://127.0.0.1:${http.address().port}`;
    const issuer = `${base}/realms/agents`;
    const provider = new Provider(issuer, {
        clients: [{ client_id: 'crm', client_secret: 'cs-mounted-8e1f', grant_types: ['client_credentials'], redirect_uris: [], response_types: [] }],
        features: { devInteractions: { enabled: false }, clientCredentials: { enabled: true } },
    });
    const callback = provider.callback();
    const asked = [];
    http.on('request', (req, res) => {
        asked.push(req.url);
        // Mounted as oidc-provider documents it: the prefix stripped, the original URL kept.
        if (!req.url.startsWith('/realms/agents/'))
            return void res.writeHead(404).end();
        req.originalUrl = req.url;
        req.url = req.url.slice('/realms/agents'.length);
        void callback(req, res);
    });
    const endpoint = await endpointFor(t, issuer).endpoint();
    t.equal(endpoint, `${issuer}/token`, 'the token endpoint the server publishes');
    t.same(asked, [`${RFC8414}/realms/agents`, `${OIDC}/realms/agents`, `/realms/agents${OIDC}`]);
});
t.test('an issuer with a query, or named by the network as one, is refused before anything is asked', async (t) => {
    const idp = await startUpstream((_req, res) => res.writeHead(404).end());
    t.teardown(() => idp.close());
    for (const issuer of [`http://127.0.0.1:${idp.port}/t?x=1`, `http://127.0.0.1:${idp.port}/t#f`, 'ftp://127.0.0.1/t']) {
        const err = await failureOf(endpointFor(t, issuer).endpoint());
        t.equal(err.code, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE');
        t.match(err.message, /is not an http\(s\) URL without query or fragment \(RFC 8414 section 2\)$/);
    }
    t.same(idp.seen, []);
});
//# sourceMappingURL=token-discovery.test.js.map