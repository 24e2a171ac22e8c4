import t from 'tap';
import { idKey, mcpResponsePlan } from '../../src/mcp/list-filter.js';
import { compilePolicy } from '../../src/policy/load.js';
// List answers on their way back: items the agent may not use are removed from JSON and SSE
// answers, page by page (the cursor untouched), events pass on as soon as they are complete, and
// other answers pass as they came, their outcome noted.
const policy = compilePolicy([{ file: 'p.yaml', text: 'version: v1\nroutes:\n  - name: r\n    host: a.test\n    mcp:\n      tools: [{ name: search_issues }, { name: "create_*" }]\n' }]).routes[0].mcp;
function run(method, contentType, chunks) {
    const outcomes = [];
    let hidden = 0;
    const plan = mcpResponsePlan(null, { policy, requests: new Map([[idKey(1), method]]), onOutcome: (_id, o) => outcomes.push(o), onHidden: (n) => (hidden += n) });
    const shaped = plan.begin(200, { 'content-type': contentType, 'content-length': '999' });
    const out = [];
    for (const c of chunks)
        out.push(shaped.filter.push(Buffer.from(c))?.toString() ?? '');
    out.push(shaped.filter.end()?.toString() ?? '');
    return { out, outcomes, hidden, headers: shaped.headers, acceptEncoding: plan.acceptEncoding };
}
const page = (names, cursor) => JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: names.map((name) => ({ name, inputSchema: {} })), ...(cursor ? { nextCursor: cursor } : {}) } });
t.test('a JSON list page is filtered whole, its cursor kept', async (t) => {
    const body = page(['search_issues', 'admin_wipe', 'create_issue', 'delete_repo'], 'page-2');
    const r = run('tools/list', 'application/json', [body.slice(0, 20), body.slice(20)]);
    t.same(r.out.slice(0, 2), ['', ''], 'nothing passes before the whole answer is read');
    const result = JSON.parse(r.out.join(''));
    t.same(result.result.tools.map((x) => x.name), ['search_issues', 'create_issue']);
    t.equal(result.result.nextCursor, 'page-2');
    t.equal(r.hidden, 2);
    t.same(r.outcomes, ['result']);
    t.equal(r.headers['content-length'], undefined, 'the length changed');
    t.equal(r.acceptEncoding, 'identity', 'the filter reads plain text');
});
t.test('an SSE list answer: events pass as they complete, the list one rewritten', async (t) => {
    const progress = 'event: message\ndata: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}\n\n';
    const list = `id: 7\nevent: message\ndata: ${page(['admin_wipe', 'search_issues'])}\n\n`;
    const r = run('tools/list', 'text/event-stream', [progress.slice(0, 30), progress.slice(30) + list.slice(0, 10), list.slice(10)]);
    t.equal(r.out[0], '', 'half an event waits');
    t.equal(r.out[1], progress, 'a complete event passes at once, unchanged');
    t.match(r.out[2], /^id: 7\nevent: message\ndata: /);
    const data = JSON.parse(r.out[2].split('data: ')[1]);
    t.same(data.result.tools.map((x) => x.name), ['search_issues']);
    t.equal(r.hidden, 1);
});
t.test('SSE with CRLF line endings and a UTF-8 character split across chunks', async (t) => {
    const event = `data: ${page(['search_issues', 'créer'])}\r\n\r\n`;
    const bytes = Buffer.from(event);
    const at = bytes.indexOf(Buffer.from('é')) + 1;
    const plan = mcpResponsePlan(null, { policy, requests: new Map([[idKey(1), 'tools/list']]), onOutcome: () => undefined, onHidden: () => undefined });
    const f = plan.begin(200, { 'content-type': 'text/event-stream' }).filter;
    const out = [f.push(bytes.subarray(0, at)), f.push(bytes.subarray(at)), f.end()].map((b) => b?.toString() ?? '').join('');
    t.same(JSON.parse(out.split('data: ')[1]).result.tools.map((x) => x.name), ['search_issues']);
});
t.test('a tool result passes as it came, once whole; only its outcome is noted', async (t) => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: '{"tools":[{"name":"admin_wipe"}]}' }] } });
    const r = run('tools/call', 'application/json', [body.slice(0, 15), body.slice(15)]);
    t.equal(r.out.join(''), body, 'byte for byte: a list inside a tool\'s text is the tool\'s result, not a list answer');
    t.same(r.out.slice(0, -1), ['', ''], 'held until whole: it is read for answers under other ids (a client parses it only once whole anyway)');
    t.same(r.outcomes, ['result']);
    const err = run('tools/call', 'application/json', [JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'bad' } })]);
    t.same(err.outcomes, ['error:-32602']);
});
t.test('a GET stream: lists replayed on it are filtered by their shape, whatever their id', async (t) => {
    let hidden = 0;
    const plan = mcpResponsePlan(null, { policy, requests: new Map(), byShape: true, onOutcome: () => undefined, onHidden: (n) => (hidden += n) });
    const f = plan.begin(200, { 'content-type': 'text/event-stream' }).filter;
    const replay = `id: 3\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 99, result: { tools: [{ name: 'admin_wipe' }, { name: 'search_issues' }] } })}\n\n`;
    const notice = 'data: {"jsonrpc":"2.0","method":"notifications/tools/list_changed"}\n\n';
    const out = [f.push(Buffer.from(replay + notice)), f.end()].map((b) => b?.toString() ?? '').join('');
    t.match(out, /"tools":\[\{"name":"search_issues"\}\]/);
    t.match(out, /list_changed/, 'notifications pass');
    t.equal(hidden, 1);
});
t.test('a compressed answer sidekey asked not to get is refused', async (t) => {
    const plan = mcpResponsePlan(null, { policy, requests: new Map([[idKey(1), 'tools/list']]), onOutcome: () => undefined, onHidden: () => undefined });
    t.throws(() => plan.begin(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }), { code: 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE' });
});
t.test('a list answered under the id of a call (a server that routes answers by id across a session) is filtered', async (t) => {
    // Found by a red-team run: tools/list sent with id 1 on one POST, tools/call with id 1 on another;
    // the SDK's server put the list answer on the call's POST, which sidekey passed as a tool result.
    for (const type of ['application/json', 'text/event-stream']) {
        const list = page(['search_issues', 'admin_wipe', 'delete_repo']);
        const r = run('tools/call', type, [type === 'text/event-stream' ? `event: message\ndata: ${list}\n\n` : list]);
        const text = r.out.join('');
        const data = JSON.parse(type === 'text/event-stream' ? text.split('data: ')[1] : text);
        t.same(data.result.tools.map((x) => x.name), ['search_issues'], `${type}: the hidden tools are removed`);
        t.equal(r.hidden, 2);
        t.same(r.outcomes, ['result'], 'and the outcome is noted for the call');
    }
});
//# sourceMappingURL=mcp-list-filter.test.js.map