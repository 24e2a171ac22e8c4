import { request } from 'node:http';
import t from 'tap';
import { freePort } from '../helpers/redis.js';
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js';
// Issue #18: the kubelet's probes and Prometheus reach listeners of their own, on the pod IP, that
// serve nothing else, so the admin API (routes, explain, workloads, console, approvals) can stay on
// loopback. They answer any Host: the kubelet and Prometheus send the pod IP.
t.test('health-only and metrics-only listeners', async (t) => {
    const healthPort = await freePort();
    const metricsPort = await freePort();
    const sk = await startTestSidekey(t, 'version: v1\nroutes:\n  - { name: api, host: api.example.com }\n', { config: { health: { host: '127.0.0.1', port: healthPort }, metrics: { host: '127.0.0.1', port: metricsPort } } });
    /** A request as the kubelet or Prometheus sends it: the pod IP as Host (node:http sends the Host given). */
    const call = (port, path, method = 'GET', headers = {}) => new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, method, headers: { host: '10.244.1.7', ...headers } }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (d) => (body += d));
            res.on('end', () => resolve({ status: res.statusCode, body, error: res.headers['x-sidekey-error'] ?? null }));
        });
        req.on('error', reject);
        req.end();
    });
    const get = (port, path) => call(port, path);
    t.match(await get(healthPort, '/healthz'), { status: 200, body: /"ok"/ }, 'liveness, with the pod IP as Host');
    t.match(await get(healthPort, '/readyz'), { status: 200, body: /"ready"/ }, 'readiness');
    t.match(await get(metricsPort, '/metrics'), { status: 200, body: /sidekey_/ }, 'metrics');
    for (const path of ['/v1/routes', '/v1/explain?url=https://api.example.com/', '/v1/workloads', '/console', '/v1/ca.pem', '/metrics']) {
        t.match(await get(healthPort, path), { status: 404, error: 'SIDEKEY_ERR_NOT_FOUND' }, `the health listener does not serve ${path}`);
    }
    for (const path of ['/v1/routes', '/healthz', '/readyz', '/v1/approvals', '/.well-known/jwks.json']) {
        t.match(await get(metricsPort, path), { status: 404, error: 'SIDEKEY_ERR_NOT_FOUND' }, `the metrics listener does not serve ${path}`);
    }
    t.match(await call(healthPort, '/v1/policy/reload', 'POST', { authorization: `Bearer ${sk.adminToken}` }), { status: 404 }, 'not even with the admin token');
    t.match(await get(Number(new URL(sk.adminUrl).port), '/v1/routes'), { status: 421, error: 'SIDEKEY_ERR_ADMIN_HOST' }, 'the admin listener still refuses a Host that is not its own');
    noSecretsLogged(t, sk);
});
// The chart binds the probe and metrics listeners to `*`: every address, IPv4 and IPv6, so the
// kubelet reaches them on the pod IP in IPv4-only, dual-stack and IPv6-only clusters alike.
t.test('a listener on * answers on IPv4 and on IPv6', async (t) => {
    const healthPort = await freePort();
    await startTestSidekey(t, 'version: v1\nroutes:\n  - { name: api, host: api.example.com }\n', { config: { health: { host: '*', port: healthPort } } });
    const healthz = (host) => new Promise((resolve, reject) => {
        const req = request({ host, port: healthPort, path: '/healthz', headers: { host: 'pod' } }, (res) => {
            res.resume();
            resolve(res.statusCode);
        });
        req.on('error', reject);
        req.end();
    });
    t.equal(await healthz('127.0.0.1'), 200, 'on the IPv4 loopback');
    t.equal(await healthz('::1'), 200, 'on the IPv6 loopback (this machine has IPv6, so Node bound ::, which takes both)');
});
//# sourceMappingURL=probe-listeners.test.js.map