import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { curl } from '../helpers/clients.js';
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream } from '../helpers/upstream.js';
// The admin listener: health, readiness, routes without secrets, explain, and run tokens that
// only the admin token can mint.
t.test('admin API', async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
  q: { type: static, env: TEST_QUERY_KEY }
routes:
  - { name: api, host: api.test, ports: [${upstream.port}], workloads: [ops], credential: key, addresses: [127.0.0.1] }
  - { name: maps, host: maps.test, ports: [${upstream.port}], credential: q, inject: { query: key }, addresses: [127.0.0.1] }
`, { connectTo: { [`api.test:${upstream.port}`]: { host: '127.0.0.1', port: upstream.port }, [`maps.test:${upstream.port}`]: { host: '127.0.0.1', port: upstream.port } } });
    const get = async (path, headers = {}) => {
        const res = await request(`${sk.adminUrl}${path}`, { headers });
        return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    };
    const post = async (path, body, headers = {}) => {
        const res = await request(`${sk.adminUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
        return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    };
    const admin = { authorization: `Bearer ${sk.adminToken}` };
    t.test('health and readiness', async (t) => {
        t.match(JSON.parse((await get('/healthz')).text), { status: 'ok' });
        const ready = await get('/readyz');
        t.equal(ready.status, 200);
        t.match(JSON.parse(ready.text), { status: 'ready', routes: 2, proxy: `127.0.0.1:${sk.proxyPort}` });
    });
    t.test('routes show names and types, never a secret', async (t) => {
        const r = await get('/v1/routes');
        t.equal(r.status, 200);
        const body = JSON.parse(r.text);
        t.same(body.routes.map((x) => x.name), ['api', 'maps']);
        t.same(body.routes[0].credential, { name: 'key', type: 'static' });
        t.same(body.routes[1].inject, { query: 'key', value: '{secret}' });
        t.same(body.secret_env.sort(), ['TEST_OPENAI_KEY', 'TEST_QUERY_KEY']);
        for (const secret of Object.values(SECRETS))
            t.notOk(r.text.includes(secret));
    });
    t.test('explain', async (t) => {
        const r = JSON.parse((await get(`/v1/explain?method=GET&url=${encodeURIComponent(`http://api.test:${upstream.port}/x`)}&workload=ops`)).text);
        t.match(r, { decision: { action: 'allow', reason: 'route-allows', route: 'api' }, credential: 'key' });
        const other = JSON.parse((await get(`/v1/explain?method=GET&url=${encodeURIComponent(`http://api.test:${upstream.port}/x`)}&workload=intruder`)).text);
        t.match(other, { decision: { action: 'deny', reason: 'workload-not-allowed' } });
        const bad = await get('/v1/explain?url=notaurl');
        t.equal(bad.status, 400);
        t.equal(bad.headers['x-sidekey-error'], 'SIDEKEY_ERR_BAD_REQUEST');
    });
    t.test('run tokens need the admin token', async (t) => {
        const denied = await post('/v1/run-tokens', { workload: 'ops' });
        t.equal(denied.status, 401);
        t.equal(denied.headers['x-sidekey-error'], 'SIDEKEY_ERR_ADMIN_UNAUTHORIZED');
        const wrong = await post('/v1/run-tokens', { workload: 'ops' }, { authorization: 'Bearer sk_admin_guess' });
        t.equal(wrong.status, 401);
        const badName = await post('/v1/run-tokens', { workload: '../../etc' }, admin);
        t.equal(badName.status, 400);
        const minted = await post('/v1/run-tokens', { workload: 'ops' }, admin);
        t.equal(minted.status, 201);
        const { id, token } = JSON.parse(minted.text);
        const through = await curl(['-x', sk.proxyUrl.replace('http://', `http://ops:${token}@`), `http://api.test:${upstream.port}/v1/x`]);
        t.equal(through.status, 200, 'the minted token works as proxy credentials');
        const list = await get('/v1/run-tokens', admin);
        t.notOk(list.text.includes(token), 'the token itself is never listed');
        const revoked = await request(`${sk.adminUrl}/v1/run-tokens/${id}`, { method: 'DELETE', headers: admin });
        t.equal(revoked.statusCode, 200);
        await revoked.body.dump();
        const after = await curl(['-x', sk.proxyUrl.replace('http://', `http://ops:${token}@`), `http://api.test:${upstream.port}/v1/x`]);
        t.equal(after.status, 407);
    });
    t.test('query injection replaces what the agent sent, and the audit line keeps only names', async (t) => {
        const r = await curl(['-x', sk.proxyUrlFor('any'), `http://maps.test:${upstream.port}/geo?q=paris&key=agent-guess`]);
        t.equal(r.status, 200);
        const url = new URL(upstream.seen.at(-1).url, 'http://x');
        t.same(url.searchParams.getAll('key'), [SECRETS.QUERY]);
        t.equal(url.searchParams.get('q'), 'paris');
        const line = await sk.sink.waitForAudit((a) => a.path === '/geo');
        t.same(line.query_keys, ['q', 'key']);
    });
    t.test('unknown endpoints are 404; the admin token file is mode 0600', async (t) => {
        const r = await get('/v1/nothing');
        t.equal(r.status, 404);
        t.equal(r.headers['x-sidekey-error'], 'SIDEKEY_ERR_NOT_FOUND');
        t.equal((await stat(join(sk.dir, 'certs', 'admin.token'))).mode & 0o777, 0o600);
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=admin-api.test.js.map