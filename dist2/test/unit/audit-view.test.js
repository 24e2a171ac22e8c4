import t from 'tap';
import { AuditView, COLOURS, PLAIN } from '../../src/cli/audit-view.js';
// `sidekey audit`: one readable line per exchange from sidekey's JSON log lines, tunnels folded
// under the requests they carried, filters, and colour by outcome.
const line = (fields) => JSON.stringify({ level: 'info', time: '2026-01-02T03:04:05.000Z', event: 'request', id: 'r', tunnel: null, workload: 'agent', method: 'GET', scheme: 'https', host: 'api.test', port: 443, path: '/x', route: 'api', decision: 'allow', reason: 'route-allows', report_only: false, condition: null, approval: null, credential: null, status: 200, error: null, total_ms: 2.4, ...fields });
t.test('one line per exchange; a tunnel folds under its requests, or stands alone when it carried none', async (t) => {
    const view = new AuditView({}, PLAIN);
    t.equal(view.line(line({ id: 'r1', tunnel: 't1' })), '03:04:05  agent        200 GET https://api.test/x  allow (route-allows)  route=api  2 ms');
    t.equal(view.line(line({ event: 'tunnel', id: 't1', method: 'CONNECT', path: null, total_ms: 50 })), '    └ tunnel api.test:443 closed after 1 request(s), 50 ms');
    t.equal(view.line(line({ event: 'tunnel', id: 't2', method: 'CONNECT', path: null, route: null, decision: 'deny', reason: 'no-route', status: 403, error: 'SIDEKEY_ERR_NO_ROUTE' })), '03:04:05  agent        403 CONNECT api.test:443  deny (no-route)  SIDEKEY_ERR_NO_ROUTE  2 ms');
    t.equal(view.line(line({ scheme: 'http', port: 8080, workload: null, status: null, credential: 'k', condition: 'rate', approval: 'ap_1' })), '03:04:05  anonymous    --- GET http://api.test:8080/x  allow (route-allows)  route=api credential=k condition=rate approval=ap_1  2 ms');
});
t.test('an IPv6 destination is bracketed, as a URL and a host:port name it', async (t) => {
    const view = new AuditView({}, PLAIN);
    t.equal(view.line(line({ host: '2001:db8::7', port: 8443 })), '03:04:05  agent        200 GET https://[2001:db8::7]:8443/x  allow (route-allows)  route=api  2 ms');
    t.equal(view.line(line({ host: '2001:db8::7' })), '03:04:05  agent        200 GET https://[2001:db8::7]/x  allow (route-allows)  route=api  2 ms');
    t.equal(view.line(line({ event: 'tunnel', id: 't3', host: '::1', method: 'CONNECT', path: null, route: null, decision: 'deny', reason: 'no-route', status: 403, error: 'SIDEKEY_ERR_NO_ROUTE' })), '03:04:05  agent        403 CONNECT [::1]:443  deny (no-route)  SIDEKEY_ERR_NO_ROUTE  2 ms');
});
t.test('other log lines: warnings and errors shown, the rest not; text that is not JSON passed through', async (t) => {
    const view = new AuditView({}, PLAIN);
    t.equal(view.line(JSON.stringify({ level: 'warn', time: '2026-01-02T03:04:05.000Z', event: 'credential_unavailable', msg: 'no key' })), '03:04:05  warning: no key (credential_unavailable)');
    t.equal(view.line(JSON.stringify({ level: 'error', time: '2026-01-02T03:04:05.000Z', msg: 'broke' })), '03:04:05  error: broke');
    t.equal(view.line(JSON.stringify({ level: 'info', event: 'policy_reloaded', msg: 'reloaded' })), null);
    t.equal(view.line('plain text'), 'plain text');
    t.equal(view.line(''), null);
});
t.test('filters: workload, route, decision, status and status class; all must match', async (t) => {
    const table = [
        { filter: { workload: 'agent' }, shown: true },
        { filter: { workload: 'other' }, shown: false },
        { filter: { route: 'api' }, shown: true },
        { filter: { route: 'nope' }, shown: false },
        { filter: { decision: 'deny' }, shown: true },
        { filter: { decision: 'allow' }, shown: false },
        { filter: { status: '403' }, shown: true },
        { filter: { status: '4xx' }, shown: true },
        { filter: { status: '4XX' }, shown: true },
        { filter: { status: '5xx' }, shown: false },
        { filter: { workload: 'agent', status: '2xx' }, shown: false },
    ];
    for (const { filter, shown } of table) {
        const out = new AuditView(filter, PLAIN).line(line({ decision: 'deny', reason: 'route-denies', status: 403 }));
        t.equal(out !== null, shown, JSON.stringify(filter));
    }
    t.equal(new AuditView({ workload: 'agent' }, PLAIN).line(JSON.stringify({ level: 'warn', msg: 'x' })), null, 'a filter hides the operational log');
});
t.test('colour by outcome, not by the policy decision', async (t) => {
    const view = new AuditView({}, COLOURS);
    const table = [
        [{ status: 200 }, '\u001b[32m'],
        [{ status: 404 }, '\u001b[33m'],
        [{ status: 502, error: 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE' }, '\u001b[31m'],
        [{ decision: 'deny', status: 403 }, '\u001b[31m'],
        [{ approval: 'ap_1', status: 200 }, '\u001b[36m'],
    ];
    for (const [fields, colour] of table)
        t.ok(view.line(line(fields)).startsWith(colour), JSON.stringify(fields));
});
//# sourceMappingURL=audit-view.test.js.map