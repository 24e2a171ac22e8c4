import t from 'tap';
import { createLogger } from '../../src/observe/logger.js';
import { newAuditRecord, writeAudit } from '../../src/observe/audit.js';
// writeAudit serializes the record itself (one JSON.stringify) instead of through pino's
// field-by-field serializer; the line must stay exactly what pino writes for the same record.
function capture(level = 'info') {
    const lines = [];
    const log = createLogger({ level, destination: { write: (s) => void lines.push(s) } });
    return { lines, log };
}
function record(overrides = {}) {
    return Object.assign(newAuditRecord('request', 'r-1'), {
        workload: 'agent', identity: 'default', method: 'GET', scheme: 'https', host: 'api.test', port: 443,
        path: '/v1/"quoted"\\path\u2028', query_keys: ['a', 'b'], route: 'api', decision: 'allow', reason: 'route-allows',
        credential: 'key', credential_source: 'static', status: 200, bytes_down: 12, decision_ms: 0.12345, upstream_ms: 3.21,
    }, overrides);
}
t.test('the line is the one pino writes for the same record', async (t) => {
    const ours = capture();
    const pinos = capture();
    const a = record();
    writeAudit(ours.log, a, performance.now() - 5);
    pinos.log.info({ ...a }, 'audit');
    t.equal(ours.lines.length, 1);
    t.ok(ours.lines[0].endsWith('}\n'), 'one line, newline-terminated');
    const mine = JSON.parse(ours.lines[0]);
    const theirs = JSON.parse(pinos.lines[0]);
    t.match(mine.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ISO time, as pino.stdTimeFunctions.isoTime');
    delete mine.time;
    delete theirs.time;
    t.same(mine, theirs, 'same fields and values');
    t.same(Object.keys(mine), Object.keys(theirs), 'in the same order');
    t.equal(mine.path, '/v1/"quoted"\\path\u2028', 'strings escaped as JSON');
    t.equal(mine.decision_ms, 0.123, 'durations rounded to microseconds');
    t.ok(typeof mine.total_ms === 'number' && mine.total_ms >= 5, 'total_ms measured from the start');
});
t.test('the level follows the outcome, and the logger level still filters', async (t) => {
    const { lines, log } = capture('warn');
    writeAudit(log, record(), performance.now());
    t.equal(lines.length, 0, 'an allowed request is info, below warn');
    writeAudit(log, record({ decision: 'deny', reason: 'no-route', status: 403, error: 'SIDEKEY_ERR_NO_ROUTE' }), performance.now());
    writeAudit(log, record({ status: 502, error: 'SIDEKEY_ERR_UPSTREAM' }), performance.now());
    // An agent that hung up is no one's fault, before or after a decision.
    writeAudit(log, record({ status: 499, error: 'SIDEKEY_ERR_AGENT_GONE' }), performance.now());
    writeAudit(log, record({ decision: 'deny', reason: 'agent-gone', status: 499, error: 'SIDEKEY_ERR_AGENT_GONE' }), performance.now());
    t.same(lines.map((l) => JSON.parse(l).level), ['warn', 'error'], 'an agent gone is info');
});
//# sourceMappingURL=audit-line.test.js.map