import t from 'tap';
import { Activity } from '../../src/observe/activity.js';
import { newAuditRecord } from '../../src/observe/audit.js';
import { outcomeOf } from '../../src/observe/outcome.js';
// The console's last hour per workload and route, and the outcome rows are coloured by: a served
// request, an approver's denial, a 502 for a missing credential and a failed handshake each land
// where they belong, minutes roll over after an hour, and the p95 is its latency bucket's bound.
const MINUTE = 60_000;
function record(fields) {
    return { ...newAuditRecord('request', 'r'), workload: 'agent', route: 'api', decision: 'allow', reason: 'route-allows', status: 200, total_ms: 3, ...fields };
}
const outcomes = [
    ['served', {}, 'served'],
    ['a redirect is served', { status: 302 }, 'served'],
    ['the upstream answered 404', { status: 404 }, 'upstream-error'],
    ['the upstream answered 503', { status: 503 }, 'upstream-error'],
    ['an approver denied it', { status: 403, error: 'SIDEKEY_ERR_APPROVAL_DENIED' }, 'refused'],
    ['a person must approve it first', { status: 403, error: 'SIDEKEY_ERR_APPROVAL_PENDING' }, 'pending'],
    ['no credential: 502', { status: 502, error: 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE' }, 'failed'],
    ['a failed handshake in a tunnel answered 200', { event: 'tunnel', decision: 'intercept', status: 200, error: 'SIDEKEY_ERR_TLS_HANDSHAKE' }, 'failed'],
    ['no route', { decision: 'deny', reason: 'no-route', route: null, status: 403, error: 'SIDEKEY_ERR_NO_ROUTE' }, 'refused'],
    ['a rate limit', { status: 429, error: 'SIDEKEY_ERR_RATE_LIMITED' }, 'refused'],
    ['a blind tunnel', { event: 'tunnel', decision: 'tunnel', status: 200 }, 'served'],
    ['the agent hung up before the answer', { status: 499, error: 'SIDEKEY_ERR_AGENT_GONE' }, 'agent-gone'],
    ['the agent hung up mid-answer', { status: 200, error: 'SIDEKEY_ERR_AGENT_GONE' }, 'agent-gone'],
];
for (const [name, fields, outcome] of outcomes) {
    t.test(`outcome: ${name}`, async (t) => {
        t.equal(outcomeOf(record(fields)), outcome);
    });
}
t.test('a workload and a route over the last hour', async (t) => {
    let clock = 1_700_000_000_000 - (1_700_000_000_000 % MINUTE);
    const activity = new Activity(() => clock);
    for (let i = 0; i < 19; i++)
        activity.observe(record({ total_ms: 4 }));
    activity.observe(record({ total_ms: 700 }));
    activity.observe(record({ status: 502, error: 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', total_ms: 1 }));
    // Counted through the requests it carried, not again as a line of its own.
    activity.observe(record({ event: 'tunnel', decision: 'intercept', status: 200, total_ms: 9000 }));
    clock += 5 * MINUTE;
    activity.observe(record({ route: 'other', status: 403, error: 'SIDEKEY_ERR_APPROVAL_DENIED', total_ms: 2 }));
    activity.anomaly('agent', 'rate');
    const { workloads, routes } = activity.snapshot();
    t.same(workloads.map((w) => [w.name, w.requests, w.refusals]), [['agent', 22, 2]]);
    t.same(routes.map((r) => [r.name, r.requests, r.refusals]), [['api', 21, 1], ['other', 1, 1]]);
    const agent = workloads[0];
    t.equal(agent.minutes.length, 60);
    t.equal(agent.minutes.at(-1).at, new Date(clock).toISOString(), 'the last minute is the current one');
    t.same(agent.minutes.at(-6), { at: new Date(clock - 5 * MINUTE).toISOString(), requests: 21, refusals: 1, p95_ms: 5 });
    t.equal(routes[0].p95_ms, 5, 'one slow request in 21 is above the 95th percentile');
    t.same(agent.anomalies, [{ kind: 'rate', at: new Date(clock).toISOString() }]);
    clock += 55 * MINUTE;
    const later = activity.snapshot();
    t.same(later.routes.map((r) => r.name), ['other'], 'an hour later the first minute has left the window');
    t.equal(later.workloads[0].requests, 1);
    t.same(later.workloads[0].anomalies, [{ kind: 'rate', at: new Date(clock - 55 * MINUTE).toISOString() }]);
    clock += 60 * MINUTE;
    t.same(activity.snapshot(), { workloads: [], routes: [] }, 'and after two nothing is left');
});
//# sourceMappingURL=activity.test.js.map