import t from 'tap';
import { curl } from '../helpers/clients.js';
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream } from '../helpers/upstream.js';
// Report-only rollout: what enforcement would refuse is logged with report_only: true and
// forwarded without any credential; authentication is still enforced.
t.test('report-only mode', async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const port = upstream.port;
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: admin-off-limits, host: api.test, ports: [${port}], paths: ["/admin/**"], action: deny, addresses: [127.0.0.1] }
`, { reportOnly: true, connectTo: { [`api.test:${port}`]: { host: '127.0.0.1', port } } });
    const r = await curl(['-x', sk.proxyUrlFor('agent'), '-H', 'Authorization: Bearer agent-own', `http://api.test:${port}/admin/users`]);
    t.equal(r.status, 200, 'a request enforcement would deny is forwarded');
    t.equal(upstream.seen.at(-1).headers.authorization, 'Bearer agent-own', 'no credential was injected');
    const line = await sk.sink.waitForAudit((a) => a.path === '/admin/users');
    t.match(line, { decision: 'allow', reason: 'route-denies', report_only: true, route: 'admin-off-limits', credential: null });
    const bad = await curl(['-x', sk.proxyUrl.replace('http://', 'http://a:forged@'), `http://api.test:${port}/admin/users`]);
    t.equal(bad.status, 407, 'an invalid run token is still refused');
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=report-only.test.js.map