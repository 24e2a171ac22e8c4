import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { curl } from '../helpers/clients.js';
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream, upstreamTrust } from '../helpers/upstream.js';
// Every entry point runs the same stages, so every audit line carries the same fields: the
// decision, its route and how long deciding took (decision_ms), the caller. Before the request
// path was one pipeline, a redirected TLS connection's line had no decision_ms.
t.test('each entry point writes a whole audit line', async (t) => {
    const trust = await upstreamTrust();
    const api = await startUpstream(undefined, { trust, host: 'api.test' });
    t.teardown(() => api.close());
    const plain = await startUpstream();
    t.teardown(() => plain.close());
    const blind = await startUpstream((_req, res) => res.end('blind'), { trust, host: 'tunnel.test' });
    t.teardown(() => blind.close());
    const certsDir = await mkdtemp(join(tmpdir(), 'sidekey-audit-entry-'));
    await writeFile(join(certsDir, 'up.pem'), trust.caPem);
    const sk = await startTestSidekey(t, `
version: v1
routes:
  - { name: api, host: api.test, addresses: [127.0.0.1] }
  - { name: plain, host: plain.test, addresses: [127.0.0.1] }
  - { name: tunnel, host: tunnel.test, action: tunnel, addresses: [127.0.0.1] }
`, {
        transparent: true,
        workload: 'agent',
        upstreamCaFile: join(certsDir, 'up.pem'),
        connectTo: { 'api.test:443': { host: '127.0.0.1', port: api.port }, 'plain.test:80': { host: '127.0.0.1', port: plain.port }, 'tunnel.test:443': { host: '127.0.0.1', port: blind.port } },
    });
    const proxy = `http://127.0.0.1:${sk.proxyPort}`;
    const whole = { workload: 'agent', decision_ms: Number, decision: String, reason: String };
    const cases = [
        { name: 'absolute-form on the proxy port', args: ['--proxy', proxy, 'http://plain.test/a'], lines: [{ event: 'request', method: 'GET', host: 'plain.test', route: 'plain' }] },
        {
            name: 'CONNECT, intercepted, and the request inside',
            args: ['--proxy', proxy, '--cacert', sk.ca.certPath, 'https://api.test/b'],
            lines: [
                { event: 'tunnel', method: 'CONNECT', host: 'api.test', route: 'api' },
                { event: 'request', method: 'GET', host: 'api.test', route: 'api' },
            ],
        },
        { name: 'CONNECT relayed blind', args: ['--proxy', proxy, '--cacert', trust.caFile, 'https://tunnel.test/c'], lines: [{ event: 'tunnel', method: 'CONNECT', host: 'tunnel.test', route: 'tunnel' }] },
        {
            name: 'transparent TLS, intercepted, and the request inside',
            args: ['--connect-to', `api.test:443:127.0.0.1:${sk.transparentHttpsPort}`, '--cacert', sk.ca.certPath, 'https://api.test/d'],
            lines: [
                { event: 'tunnel', method: 'TLS', host: 'api.test', route: 'api' },
                { event: 'request', method: 'GET', host: 'api.test', route: 'api' },
            ],
        },
        { name: 'transparent TLS relayed blind', args: ['--connect-to', `tunnel.test:443:127.0.0.1:${sk.transparentHttpsPort}`, '--cacert', trust.caFile, 'https://tunnel.test/e'], lines: [{ event: 'tunnel', method: 'TLS', host: 'tunnel.test', route: 'tunnel' }] },
        { name: 'transparent plain HTTP', args: ['--connect-to', `plain.test:80:127.0.0.1:${sk.transparentHttpPort}`, 'http://plain.test/f'], lines: [{ event: 'request', method: 'GET', host: 'plain.test', route: 'plain' }] },
    ];
    const seen = new Set();
    for (const c of cases) {
        t.test(c.name, async (t) => {
            const r = await curl(c.args);
            t.equal(r.status, 200, r.stderr);
            for (const line of c.lines) {
                const audit = await sk.sink.waitForAudit((a) => a.event === line.event && a.method === line.method && a.host === line.host && !seen.has(a.id));
                seen.add(audit.id);
                t.match(audit, { ...line, ...whole }, `${line.event} ${line.method} ${line.host}`);
                t.type(audit.decision_ms, 'number', 'decision_ms is recorded');
            }
        });
    }
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=audit-entry-points.test.js.map