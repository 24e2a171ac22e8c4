import t from 'tap';
import { SidekeyError } from '../../src/errors.js';
import { checkMirroredHeaders, decodeHeaderValue, mcpHeaders } from '../../src/mcp/headers.js';
import { nestingDepth, parseMcpBody } from '../../src/mcp/jsonrpc.js';
// The JSON-RPC parser and the mirrored-header check of MCP routes, table-driven: what parses to
// which messages, and what is refused with which code (and, for refusals, the JSON-RPC code and id
// the error answer carries).
const refusal = (f) => {
    try {
        f();
        return null;
    }
    catch (err) {
        if (!(err instanceof SidekeyError))
            throw err;
        return { code: err.code, jsonrpc: err.details?.jsonrpc_code, id: err.details?.jsonrpc_id, message: err.message };
    }
};
t.test('parseMcpBody: what is one message, a batch, or refused', async (t) => {
    const req = (extra = '') => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_issues","arguments":{"q":"x"}}${extra}}`;
    const ok = [
        ['a request', req(), '2026-07-28', { batch: false, messages: [{ kind: 'request', id: 1, method: 'tools/call' }] }],
        ['a notification', '{"jsonrpc":"2.0","method":"notifications/initialized"}', '2025-11-25', { messages: [{ kind: 'notification', id: null }] }],
        ['a response to a server request', '{"jsonrpc":"2.0","id":"s1","result":{}}', '2025-11-25', { messages: [{ kind: 'response', id: 's1' }] }],
        ['an error response with a null id', '{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"x"}}', null, { messages: [{ kind: 'response', id: null }] }],
        ['a string id', '{"jsonrpc":"2.0","id":"a","method":"ping"}', null, { messages: [{ id: 'a' }] }],
        ['a batch without MCP-Protocol-Version (2025-03-26)', `[${req()},{"jsonrpc":"2.0","method":"notifications/x"}]`, null, { batch: true, messages: [{ kind: 'request' }, { kind: 'notification' }] }],
        ['a batch under 2025-03-26', `[${req()}]`, '2025-03-26', { batch: true }],
        ['a key repeated in different objects is fine', '{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":{"name":1},"b":{"name":2}}}', null, { batch: false }],
    ];
    for (const [what, body, version, expected] of ok)
        t.match(parseMcpBody(Buffer.from(body), version), expected, what);
    const refused = [
        ['not JSON', 'hello', null, { jsonrpc: -32700, id: undefined }],
        ['not UTF-8', Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), null, { jsonrpc: -32700 }],
        ['a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(req())]), null, { jsonrpc: -32700 }],
        ['jsonrpc missing', '{"id":1,"method":"m"}', null, { jsonrpc: -32600, id: 1 }],
        ['jsonrpc "1.0"', '{"jsonrpc":"1.0","id":1,"method":"m"}', null, { jsonrpc: -32600 }],
        ['a method that is not a string', '{"jsonrpc":"2.0","id":1,"method":7}', null, { jsonrpc: -32600, id: 1 }],
        ['a null id on a request', '{"jsonrpc":"2.0","id":null,"method":"m"}', null, { jsonrpc: -32600, id: undefined }],
        ['a fractional id', '{"jsonrpc":"2.0","id":1.5,"method":"m"}', null, { jsonrpc: -32600, id: undefined }],
        ['params as an array', '{"jsonrpc":"2.0","id":1,"method":"m","params":[1]}', null, { jsonrpc: -32600, id: 1 }],
        ['method with result', '{"jsonrpc":"2.0","id":1,"method":"m","result":{}}', null, { jsonrpc: -32600 }],
        ['a response with both result and error', '{"jsonrpc":"2.0","id":1,"result":{},"error":{}}', null, { jsonrpc: -32600 }],
        ['a scalar', '7', null, { jsonrpc: -32600 }],
        ['a duplicate key at the top', '{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}', null, { jsonrpc: -32600, id: 1, message: /"method" is given twice in message;/ }],
        ['a duplicate key in arguments', req().replace('{"q":"x"}', '{"q":"x","q":"y"}'), null, { jsonrpc: -32600, message: /message\.params\.arguments/ }],
        ['keys differing in case', req().replace('"name":"search_issues"', '"name":"search_issues","NAME":"admin"'), null, { jsonrpc: -32600, message: /differ only in letter case/ }],
        ['an escaped duplicate', '{"jsonrpc":"2.0","id":1,"method":"m","params":{"name":"a","n\\u0061me":"b"}}', null, { jsonrpc: -32600 }],
        ['33 levels deep', `{"jsonrpc":"2.0","id":1,"method":"m","params":${'['.repeat(32)}${']'.repeat(32)}}`, null, { jsonrpc: -32600, id: 1, message: /nests 33 levels/ }],
        ['a batch under 2025-06-18', `[${req()}]`, '2025-06-18', { jsonrpc: -32600, message: /not part of MCP revision 2025-06-18/ }],
        ['a batch under 2026-07-28', `[${req()}]`, '2026-07-28', { jsonrpc: -32600 }],
        ['an empty batch', '[]', null, { jsonrpc: -32600 }],
        ['a batch reusing an id', `[${req()},${req()}]`, null, { jsonrpc: -32600, message: /id 1 is used twice/ }],
        ['initialize in a batch', '[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}]', null, { jsonrpc: -32600 }],
        ['"Method" alone, in what would be a response', '{"jsonrpc":"2.0","id":1,"Method":"tools/call","result":{}}', null, { jsonrpc: -32600, id: 1, message: /"Method" differs from "method" only in letter case/ }],
        ['"ID" on a notification', '{"jsonrpc":"2.0","ID":1,"method":"tools/call","params":{"name":"x"}}', null, { jsonrpc: -32600 }],
        ['"Arguments" in params', req().replace('"arguments"', '"Arguments"'), null, { jsonrpc: -32600, message: /params: the key "Arguments"/ }],
        ['"URI" in a completion ref', '{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","URI":"x"}}}', null, { jsonrpc: -32600, message: /params\.ref: / }],
        ['a Kelvin sign Go folds to k', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","tas\\u212aId":"t"}}', null, { jsonrpc: -32600, message: /"tas\u212aId" differs from "taskId"/ }],
    ];
    for (const [what, body, version, expected] of refused)
        t.match(refusal(() => parseMcpBody(Buffer.isBuffer(body) ? body : Buffer.from(body), version)), { code: 'SIDEKEY_ERR_MCP_INVALID', ...expected }, what);
});
t.test('nestingDepth counts brackets outside strings', async (t) => {
    for (const [text, depth] of [['1', 0], ['[]', 1], ['{"a":[{}]}', 3], ['"[[[["', 0], ['{"a":"\\"[["}', 1]])
        t.equal(nestingDepth(text), depth, text);
});
t.test('mirrored headers must agree with the body', async (t) => {
    const body = (method, params, id = 1) => parseMcpBody(Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...(id === null ? {} : { id }), method, params })), '2026-07-28');
    const call = body('tools/call', { name: 'create_issue', arguments: { repo: 'acme/site', count: 3, nested: { region: 'eu' } } });
    const v = { 'mcp-protocol-version': '2026-07-28' };
    const b64 = (s) => `=?base64?${Buffer.from(s).toString('base64')}?=`;
    const table = [
        ['agreeing Mcp-Method and Mcp-Name', { ...v, 'mcp-method': 'tools/call', 'mcp-name': 'create_issue' }, call, null],
        ['Mcp-Name in base64', { ...v, 'mcp-method': 'tools/call', 'mcp-name': b64('create_issue') }, call, null],
        ['Mcp-Param named like an argument', { ...v, 'mcp-method': 'tools/call', 'mcp-name': 'create_issue', 'mcp-param-repo': 'acme/site' }, call, null],
        ['Mcp-Param of a nested argument, by value', { ...v, 'mcp-method': 'tools/call', 'mcp-name': 'create_issue', 'mcp-param-x-region': 'eu' }, call, null],
        ['Mcp-Param numeric, compared as a number', { ...v, 'mcp-method': 'tools/call', 'mcp-name': 'create_issue', 'mcp-param-count': '3.0' }, call, null],
        ['a notification needs no Mcp-Method', v, body('notifications/initialized', {}, null), null],
        ['before 2026-07-28 the headers are optional', {}, call, null],
        ['Mcp-Method differs', { ...v, 'mcp-method': 'tools/list', 'mcp-name': 'create_issue' }, call, /Mcp-Method header says "tools\/list"/],
        ['Mcp-Method differs in case', { ...v, 'mcp-method': 'Tools/Call', 'mcp-name': 'create_issue' }, call, /Mcp-Method/],
        ['Mcp-Name differs', { ...v, 'mcp-method': 'tools/call', 'mcp-name': 'search_issues' }, call, /Mcp-Name header names "search_issues"/],
        ['Mcp-Name with a broken sentinel', { ...v, 'mcp-method': 'tools/call', 'mcp-name': '=?base64?!!?=' }, call, /not canonical base64/],
        ['Mcp-Name on a method that names nothing', { ...v, 'mcp-method': 'tools/list', 'mcp-name': 'x' }, body('tools/list', {}), /names nothing/],
        ['Mcp-Method missing under 2026-07-28', v, call, /requires the Mcp-Method header/],
        ['Mcp-Name missing under 2026-07-28', { ...v, 'mcp-method': 'tools/call' }, call, /requires the Mcp-Name header/],
        ['Mcp-Param with another value', { ...v, 'mcp-method': 'tools/call', 'mcp-name': 'create_issue', 'mcp-param-repo': 'evil/site' }, call, /Mcp-Param-repo/],
        ['Mcp-Param on another method', { ...v, 'mcp-method': 'prompts/get', 'mcp-name': 'p', 'mcp-param-a': '1' }, body('prompts/get', { name: 'p' }), /go with tools\/call/],
        ['mirrored headers on a batch', { 'mcp-method': 'tools/call' }, parseMcpBody(Buffer.from('[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}]'), null), /the body is a batch/],
    ];
    for (const [what, headers, parsed, refused] of table) {
        const r = refusal(() => checkMirroredHeaders(mcpHeaders(Object.entries(headers).flat()), parsed));
        if (refused === null)
            t.equal(r, null, what);
        else
            t.match(r, { code: 'SIDEKEY_ERR_MCP_HEADER_MISMATCH', jsonrpc: -32020, message: refused }, what);
    }
    t.match(refusal(() => mcpHeaders(['Mcp-Name', 'a', 'mcp-name', 'b'])), { code: 'SIDEKEY_ERR_MCP_HEADER_MISMATCH', message: /more than once/ }, 'a header sent twice');
    // A CGI-style server reads `Mcp_Method` as `Mcp-Method`: the same header, so checked as one.
    t.match(refusal(() => mcpHeaders(['Mcp-Method', 'tools/call', 'Mcp_Method', 'tools/list'])), { code: 'SIDEKEY_ERR_MCP_HEADER_MISMATCH', message: /more than once/ }, 'the same header spelled with an underscore');
    t.match(refusal(() => checkMirroredHeaders(mcpHeaders(['Mcp_Method', 'tools/list']), parseMcpBody(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}}'), null))), { code: 'SIDEKEY_ERR_MCP_HEADER_MISMATCH' }, 'and compared with the body alone');
    t.equal(decodeHeaderValue(b64('dеlete')), 'dеlete', 'base64 carries UTF-8');
    t.equal(decodeHeaderValue(`=?base64?${Buffer.from([0xff]).toString('base64')}?=`), null, 'base64 of bytes that are not UTF-8');
});
//# sourceMappingURL=mcp-parse.test.js.map