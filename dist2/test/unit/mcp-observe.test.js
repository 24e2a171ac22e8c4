import t from 'tap';
import { applyDelta, Baseline, DEFAULT_THRESHOLDS } from '../../src/observe/baseline.js';
import { newAuditRecord } from '../../src/observe/audit.js';
import { Metrics } from '../../src/observe/metrics.js';
// What MCP calls add to monitoring: a `new-tool` anomaly for a tool the workload never called
// (once learning is over), and per-rule metrics whose labels come from policy, never from the
// tool name the agent sent.
const HOUR = 3_600_000;
const WINDOW = 60_000;
t.test('new-tool: raised once per tool after learning, not for refused calls, merged across replicas', async (t) => {
    const b = new Baseline('agent', undefined, 0);
    const call = (at, tool, denied = false) => b.observe({ at, destination: 'mcp.test:443 (gh)', denied, bytesUp: 10, tool }, WINDOW, HOUR, DEFAULT_THRESHOLDS).map((a) => a.kind);
    t.same(call(1000, 'gh search_issues'), [], 'learning');
    t.same(call(2 * HOUR, 'gh search_issues'), [], 'a tool learned while learning');
    t.same(call(2 * HOUR + 1, 'gh delete_repo'), ['new-tool'], 'a tool never called before');
    t.same(call(2 * HOUR + 2, 'gh delete_repo'), [], 'known from now on');
    t.same(call(2 * HOUR + 3, 'gh admin_wipe', true), ['probing'], 'a refused call is probing, not a new tool');
    t.same(call(2 * HOUR + 4, 'gh admin_wipe'), ['new-tool'], 'it was not learned from the refusal');
    const delta = b.takeDelta();
    t.same(applyDelta(undefined, delta, WINDOW).tools, ['gh search_issues', 'gh delete_repo', 'gh admin_wipe']);
    const old = new Baseline('agent', { ...b.state, tools: undefined }, 0);
    t.same(old.observe({ at: 3 * HOUR, destination: 'mcp.test:443 (gh)', denied: false, bytesUp: 0, tool: 'gh x' }, WINDOW, HOUR, DEFAULT_THRESHOLDS).map((a) => a.kind), ['new-tool'], 'a baseline saved before MCP routes');
    // Found by a red-team run: a batch [search_issues, delete_repository] raised nothing, since only
    // the first tool was observed, and delete_repository was never learned either.
    const batch = (at, tools) => b.observe({ at, destination: 'mcp.test:443 (gh)', denied: false, bytesUp: 10, tool: tools[0], tools }, WINDOW, HOUR, DEFAULT_THRESHOLDS);
    t.same(batch(2 * HOUR + 10, ['gh search_issues', 'gh delete_repository']).map((a) => [a.kind, a.evidence.observed]), [['new-tool', { tool: 'gh delete_repository' }]], 'a batch: each tool it calls');
    t.same(batch(2 * HOUR + 11, ['gh search_issues', 'gh delete_repository']), [], 'and learned');
});
t.test('metrics per MCP rule', async (t) => {
    const m = new Metrics();
    const record = (rule, error, tool) => {
        const a = newAuditRecord('request', 'id');
        Object.assign(a, { route: 'gh', decision: error === null ? 'allow' : 'deny', status: 200, error, mcp_method: 'tools/call', mcp_tool: tool, total_ms: 12, ...(rule === undefined ? {} : { mcp_rule: rule }) });
        m.observe(a);
    };
    record('delete_*', null, 'delete_repo');
    record('delete_*', null, 'delete_branch');
    record(undefined, 'SIDEKEY_ERR_MCP_DENIED', 'made_up_tool_1234');
    const text = await m.registry.metrics();
    t.match(text, /sidekey_mcp_calls_total\{route="gh",rule="delete_\*",outcome="served"\} 2/);
    t.match(text, /sidekey_mcp_calls_total\{route="gh",rule="none",outcome="refused"\} 1/);
    t.match(text, /sidekey_mcp_call_duration_seconds_count\{route="gh",rule="delete_\*"\} 2/);
    t.notMatch(text, /made_up_tool_1234|delete_repo/, 'no label holds a tool name the agent sent');
});
//# sourceMappingURL=mcp-observe.test.js.map