import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { curl, rawExchange } from '../helpers/clients.js';
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream } from '../helpers/upstream.js';
// Plain http:// through sidekey, with real clients (curl -x, undici's ProxyAgent) against a real
// loopback upstream. The upstream is on 127.0.0.1, which the SSRF guard refuses unless a route
// names it, so routes here carry `addresses: [127.0.0.1]`.
const policy = (port) => `
version: v1
credentials:
  api-key:
    type: static
    env: TEST_OPENAI_KEY
  missing:
    type: static
    env: TEST_NOT_SET_ANYWHERE
routes:
  - name: api
    host: api.test
    ports: [${port}]
    paths: ["/v1/**", "/redirect"]
    workloads: [agent]
    credential: api-key
    addresses: [127.0.0.1]
  - name: broken-secret
    host: broken.test
    ports: [${port}]
    credential: missing
    addresses: [127.0.0.1]
  - name: public-open
    host: open.test
    ports: [${port}]
    workloads: [anonymous, agent]
    addresses: [127.0.0.1]
  - name: metadata
    host: metadata.test
    ports: [${port}]
  - name: admin-denied
    host: api.test
    ports: [${port}]
    paths: ["/admin/**"]
    action: deny
`;
t.test('plain HTTP: decide, inject, forward', async (t) => {
    const upstream = await startUpstream((req, res) => {
        if (req.url === '/redirect') {
            res.writeHead(302, { location: 'http://evil.test/steal' });
            res.end();
            return;
        }
        res.writeHead(200, { 'content-type': 'application/json', connection: 'x-upstream-private', 'x-upstream-private': 'hop' });
        res.end(JSON.stringify({ path: req.url }));
    });
    t.teardown(() => upstream.close());
    const port = upstream.port;
    const connectTo = Object.fromEntries(['api.test', 'broken.test', 'open.test', 'evil.test'].map((h) => [`${h}:${port}`, { host: '127.0.0.1', port }]));
    connectTo[`metadata.test:${port}`] = { host: '169.254.169.254', port };
    const sk = await startTestSidekey(t, policy(port), { connectTo });
    const proxy = sk.proxyUrlFor('agent');
    t.test('curl: the credential is injected and the agent never sent it', async (t) => {
        const r = await curl(['-x', proxy, `http://api.test:${port}/v1/models?limit=2`]);
        t.equal(r.status, 200, r.stderr + r.body);
        const seen = upstream.seen.at(-1);
        t.equal(seen.headers.authorization, `Bearer ${SECRETS.OPENAI}`);
        t.equal(seen.headers['proxy-authorization'], undefined, 'Proxy-Authorization consumed');
        t.equal(seen.headers.host, `api.test:${port}`);
        t.notOk(r.headers.toLowerCase().includes('x-upstream-private'), 'response header named in Connection removed');
        const audit = await sk.sink.waitForAudit((a) => a.path === '/v1/models');
        t.match(audit, { event: 'request', workload: 'agent', identity: 'run-token', method: 'GET', host: 'api.test', port, route: 'api', decision: 'allow', reason: 'route-allows', credential: 'api-key', credential_source: 'env', status: 200 });
        t.same(audit.query_keys, ['limit'], 'query names kept, values dropped');
        t.ok(audit.bytes_down > 0);
        t.type(audit.total_ms, 'number');
    });
    t.test('undici ProxyAgent (absolute-form): agent Authorization is replaced, not appended', async (t) => {
        const dispatcher = new ProxyAgent({ uri: proxy, proxyTunnel: false });
        t.teardown(() => dispatcher.close());
        const res = await request(`http://api.test:${port}/v1/chat`, { dispatcher, method: 'POST', headers: { authorization: 'Bearer sk-placeholder', 'content-type': 'application/json' }, body: '{"x":1}' });
        t.equal(res.statusCode, 200);
        await res.body.dump();
        const seen = upstream.seen.at(-1);
        t.equal(seen.body, '{"x":1}', 'body streamed up');
        const auths = seen.rawHeaders.filter((_, i, a) => i % 2 === 0 && a[i].toLowerCase() === 'authorization');
        t.equal(auths.length, 1, 'exactly one Authorization header');
        t.equal(seen.headers.authorization, `Bearer ${SECRETS.OPENAI}`);
    });
    t.test('Connection: authorization cannot strip the injected header', async (t) => {
        const r = await curl(['-x', proxy, '-H', 'Connection: authorization, x-drop-me', '-H', 'x-drop-me: 1', `http://api.test:${port}/v1/conn`]);
        t.equal(r.status, 200);
        const seen = upstream.seen.at(-1);
        t.equal(seen.headers.authorization, `Bearer ${SECRETS.OPENAI}`);
        t.equal(seen.headers['x-drop-me'], undefined, 'header listed in Connection removed');
    });
    t.test('redirects go back to the agent; the credential never reaches the other host', async (t) => {
        const before = upstream.seen.length;
        const r = await curl(['-x', proxy, `http://api.test:${port}/redirect`]);
        t.equal(r.status, 302);
        t.match(r.headers, /location: http:\/\/evil\.test\/steal/i);
        t.equal(upstream.seen.length, before + 1, 'sidekey made exactly one upstream request');
        const follow = await curl(['-x', proxy, `http://evil.test:${port}/steal`]);
        t.equal(follow.status, 403, 'the next hop is a new decision: no route');
        t.match(follow.headers, /x-sidekey-error: SIDEKEY_ERR_NO_ROUTE/i);
    });
    t.test('default deny: unknown destination is 403 with a reason', async (t) => {
        const r = await curl(['-x', proxy, 'http://unknown.test/']);
        t.equal(r.status, 403);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_NO_ROUTE/i);
        t.match(JSON.parse(r.body), { code: 'SIDEKEY_ERR_NO_ROUTE', reason: 'no-route' });
    });
    t.test('a deny route refuses, with its name in the message', async (t) => {
        const r = await curl(['-x', proxy, `http://api.test:${port}/admin/users`]);
        t.equal(r.status, 403);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_NO_ROUTE|SIDEKEY_ERR_ROUTE_DENIED/i);
    });
    t.test('missing run token is 407 unless the route allows anonymous callers', async (t) => {
        const r = await curl(['-x', sk.proxyUrl, `http://api.test:${port}/v1/models`]);
        t.equal(r.status, 407);
        t.match(r.headers, /proxy-authenticate: Basic/i);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_PROXY_AUTH_REQUIRED/i);
        const open = await curl(['-x', sk.proxyUrl, `http://open.test:${port}/anything`]);
        t.equal(open.status, 200, 'anonymous route works without a token');
        t.equal(upstream.seen.at(-1).headers.authorization, undefined, 'no credential on a route without one');
    });
    t.test('a wrong or revoked token is 407 and never falls back', async (t) => {
        const bad = await curl(['-x', sk.proxyUrl.replace('http://', 'http://agent:sk_run_forged@'), `http://open.test:${port}/x`]);
        t.equal(bad.status, 407);
        t.match(bad.headers, /x-sidekey-error: SIDEKEY_ERR_PROXY_AUTH_INVALID/i);
        const { token, info } = sk.runTokens.mint('agent');
        sk.runTokens.revoke(info.id);
        const revoked = await curl(['-x', sk.proxyUrl.replace('http://', `http://agent:${token}@`), `http://api.test:${port}/v1/x`]);
        t.equal(revoked.status, 407);
    });
    t.test('workload not on the route is refused', async (t) => {
        const other = sk.proxyUrlFor('intruder');
        const r = await curl(['-x', other, `http://api.test:${port}/v1/models`]);
        t.equal(r.status, 403);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_WORKLOAD_NOT_ALLOWED/i);
    });
    t.test('a secret that cannot be read fails closed with 502 and nothing is sent', async (t) => {
        const before = upstream.seen.length;
        const r = await curl(['-x', proxy, `http://broken.test:${port}/x`]);
        t.equal(r.status, 502);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE/i);
        t.match(r.body, /TEST_NOT_SET_ANYWHERE/);
        t.equal(upstream.seen.length, before, 'no request went upstream');
    });
    t.test('the metadata address is refused even though a route matches the name', async (t) => {
        const r = await curl(['-x', proxy, `http://metadata.test:${port}/latest/meta-data/`]);
        t.equal(r.status, 403);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_DESTINATION_BLOCKED/i);
        const literal = await curl(['-x', proxy, 'http://169.254.169.254/latest/meta-data/']);
        t.equal(literal.status, 403);
    });
    t.test('Content-Length with Transfer-Encoding is refused (smuggling)', async (t) => {
        const raw = await rawExchange(sk.proxyPort, `POST http://open.test:${port}/x HTTP/1.1\r\nHost: open.test:${port}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: open.test\r\n\r\n`);
        t.match(raw, /^HTTP\/1\.1 400 /);
        t.match(raw, /x-sidekey-error: SIDEKEY_ERR_BAD_REQUEST/);
        t.notOk(upstream.seen.some((s) => s.url === '/smuggled'), 'nothing smuggled upstream');
    });
    t.test('oversized headers are 431', async (t) => {
        const raw = await rawExchange(sk.proxyPort, `GET http://open.test:${port}/x HTTP/1.1\r\nHost: open.test\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
        t.match(raw, /^HTTP\/1\.1 431 /);
        t.match(raw, /x-sidekey-error: SIDEKEY_ERR_HEADERS_TOO_LARGE/);
    });
    t.test('origin-form on the proxy port gets a clear 400', async (t) => {
        const raw = await rawExchange(sk.proxyPort, 'GET /v1/models HTTP/1.1\r\nHost: api.test\r\nConnection: close\r\n\r\n');
        t.match(raw, /^HTTP\/1\.1 400 /);
        t.match(raw, /x-sidekey-error: SIDEKEY_ERR_NOT_PROXY_REQUEST/);
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=proxy-http.test.js.map