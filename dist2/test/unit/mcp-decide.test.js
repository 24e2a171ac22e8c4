import t from 'tap';
import { SidekeyError } from '../../src/errors.js';
import { decideMcpMessage, visible } from '../../src/mcp/decide.js';
import { describeCall, nameIn } from '../../src/mcp/facts.js';
import { compilePolicy } from '../../src/policy/load.js';
// The per-message decision of an MCP route, table-driven over one policy: which methods, tools,
// resources and prompts are allowed, by which rule, and what is refused with which code and reason.
const policy = compilePolicy([
    {
        file: 'mcp.yaml',
        text: `
version: v1
routes:
  - name: gh
    host: mcp.example.com
    mcp:
      methods: { deny: [logging/*] }
      tools:
        - name: delete_protected
          action: deny
        - name: delete_*
          approval: {}
        - name: search_issues
        - name: create_issue
          conditions: { rate: { requests: 5, per_s: 60 } }
      resources:
        - uri: "repo://acme/private/*"
          action: deny
        - uri: "repo://acme/*"
      prompts:
        - name: triage
`,
    },
]).routes[0].mcp;
const call = (method, params) => ({ kind: 'request', id: 1, method, params });
const decide = (m) => {
    try {
        const v = decideMcpMessage(policy, m);
        return { reason: v.reason, rule: v.rule?.pattern ?? null, guarded: v.rule?.guard?.name ?? null };
    }
    catch (err) {
        if (!(err instanceof SidekeyError))
            throw err;
        return { code: err.code, mcp_reason: err.details?.mcp_reason };
    }
};
t.test('decideMcpMessage', async (t) => {
    const table = [
        ['initialize (default methods)', call('initialize', {}), { reason: 'mcp-allowed', rule: null }],
        ['tools/list', call('tools/list'), { reason: 'mcp-allowed' }],
        ['a notification', { kind: 'notification', id: null, method: 'notifications/initialized', params: undefined }, { reason: 'mcp-allowed' }],
        ['a response to the server', { kind: 'response', id: 's1' }, { reason: 'mcp-response' }],
        ['a method outside the defaults', call('tasks/list'), { code: 'SIDEKEY_ERR_MCP_DENIED', mcp_reason: 'mcp-method-denied' }],
        ['a denied method', call('logging/setLevel', { level: 'debug' }), { code: 'SIDEKEY_ERR_MCP_DENIED', mcp_reason: 'mcp-method-denied' }],
        ['an allowed tool', call('tools/call', { name: 'search_issues' }), { reason: 'mcp-allowed', rule: 'search_issues', guarded: null }],
        ['a tool with limits runs its rule as a route', call('tools/call', { name: 'create_issue' }), { rule: 'create_issue', guarded: 'gh/tool:create_issue' }],
        ['a glob with approval', call('tools/call', { name: 'delete_repo' }), { rule: 'delete_*', guarded: 'gh/tool:delete_*' }],
        ['the first rule decides: deny before the glob', call('tools/call', { name: 'delete_protected' }), { code: 'SIDEKEY_ERR_MCP_DENIED', mcp_reason: 'mcp-tool-denied' }],
        ['no rule: default deny', call('tools/call', { name: 'admin_wipe' }), { code: 'SIDEKEY_ERR_MCP_DENIED', mcp_reason: 'mcp-tool-not-allowed' }],
        ['a case variant of a rule\'s name', call('tools/call', { name: 'Search_Issues' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['a case variant of a glob', call('tools/call', { name: 'DELETE_repo' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['a case variant of a deny rule', call('tools/call', { name: 'Delete_Protected' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['a Cyrillic look-alike', call('tools/call', { name: 'delete_r\u0435po' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['a zero-width joiner', call('tools/call', { name: 'search\u200d_issues' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['a space', call('tools/call', { name: 'search issues' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['an empty name', call('tools/call', { name: '' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['129 characters', call('tools/call', { name: 'a'.repeat(129) }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['no name', call('tools/call', { arguments: {} }), { code: 'SIDEKEY_ERR_MCP_INVALID' }],
        ['a name that is not a string', call('tools/call', { name: ['search_issues'] }), { code: 'SIDEKEY_ERR_MCP_INVALID' }],
        ['a resource under an allowed prefix', call('resources/read', { uri: 'repo://acme/readme' }), { rule: 'repo://acme/*' }],
        ['a resource under a denied prefix', call('resources/read', { uri: 'repo://acme/private/keys' }), { code: 'SIDEKEY_ERR_MCP_DENIED', mcp_reason: 'mcp-resource-denied' }],
        ['subscribing is decided like reading', call('resources/subscribe', { uri: 'repo://other/x' }), { code: 'SIDEKEY_ERR_MCP_DENIED', mcp_reason: 'mcp-resource-not-allowed' }],
        ['a resource URI in another case', call('resources/read', { uri: 'REPO://acme/readme' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['a URI with a non-ASCII character', call('resources/read', { uri: 'repo://acme/r\u00e9adme' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['a dot segment past the glob', call('resources/read', { uri: 'repo://acme/../private/keys' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['an encoded dot segment', call('resources/read', { uri: 'repo://acme/%2E%2e/x' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['an encoded slash', call('resources/read', { uri: 'repo://acme/a%2Fb' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['a backslash', call('resources/read', { uri: 'repo://acme/..\\private' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['an encoded plain letter', call('resources/read', { uri: 'repo://acme/%70rivate/keys' }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['a template completion with a dot segment', call('completion/complete', { ref: { type: 'ref/resource', uri: 'repo://acme/./{file}' } }), { code: 'SIDEKEY_ERR_MCP_NAME_REFUSED' }],
        ['dots inside a segment are a name', call('resources/read', { uri: 'repo://acme/a..b/.well-known/x.txt' }), { rule: 'repo://acme/*' }],
        ['an encoded reserved character is data', call('resources/read', { uri: 'repo://acme/a%20b%3F' }), { rule: 'repo://acme/*' }],
        ['an allowed prompt', call('prompts/get', { name: 'triage' }), { rule: 'triage' }],
        ['completions of an allowed prompt', call('completion/complete', { ref: { type: 'ref/prompt', name: 'triage' }, argument: { name: 'a', value: '' } }), { rule: 'triage' }],
        ['completions of another prompt', call('completion/complete', { ref: { type: 'ref/prompt', name: 'exfiltrate' }, argument: { name: 'a', value: '' } }), { code: 'SIDEKEY_ERR_MCP_DENIED', mcp_reason: 'mcp-prompt-not-allowed' }],
        ['completions of a resource template', call('completion/complete', { ref: { type: 'ref/resource', uri: 'repo://acme/{file}' } }), { rule: 'repo://acme/*' }],
        ['completions without a ref', call('completion/complete', { argument: {} }), { code: 'SIDEKEY_ERR_MCP_INVALID' }],
        ['another prompt', call('prompts/get', { name: 'exfiltrate' }), { code: 'SIDEKEY_ERR_MCP_DENIED', mcp_reason: 'mcp-prompt-not-allowed' }],
    ];
    for (const [what, m, expected] of table)
        t.match(decide(m), expected, what);
});
t.test('visible: what list answers keep', async (t) => {
    const table = [
        ['tool', 'search_issues', true],
        ['tool', 'delete_repo', true],
        ['tool', 'delete_protected', false],
        ['tool', 'admin_wipe', false],
        ['tool', 'Search_issues', false],
        ['tool', 'search_issue\u0455', false],
        ['tool', 42, false],
        ['resource', 'repo://acme/readme', true],
        ['resource', 'repo://acme/private/x', false],
        ['prompt', 'triage', true],
        ['prompt', 'other', false],
    ];
    for (const [kind, name, shown] of table)
        t.equal(visible(policy, kind, name), shown, `${kind} ${String(name)}`);
});
t.test('policy problems in mcp blocks', async (t) => {
    const problems = (mcp) => {
        try {
            compilePolicy([{ file: 'p.yaml', text: `version: v1\nroutes:\n  - name: r\n    host: a.test\n${mcp}` }]);
            return [];
        }
        catch (err) {
            return err.problems.map((p) => `${p.path}: ${p.message}`);
        }
    };
    t.same(problems('    mcp: { tools: [{ name: search }] }\n'), []);
    t.match(problems('    mcp: { tools: [{ nme: search }] }\n'), [/tools/]);
    t.match(problems('    mcp: { tools: [{ name: "sеarch" }] }\n'), [/outside printable ASCII/]);
    t.match(problems('    mcp: { tools: [{ name: x, action: deny, approval: {} }] }\n'), [/apply to action allow only/]);
    t.match(problems('    mcp: { tools: [{ name: x, conditions: { cel: ["mcp.tool =="] } }] }\n'), [/not valid CEL/]);
    t.match(problems('    action: deny\n    mcp: {}\n'), [/mcp applies to action allow only/]);
    t.match(problems('    mcp: { resources: [{ name: x }] }\n'), [/uri/]);
    t.match(problems('    mcp: { tools: [{ name: x, approval: { mode: async } }] }\n'), [/mode: async does not suit MCP calls/]);
});
t.test('a call is named by the field its method is decided on, never another', async (t) => {
    // Found by a red-team run: resources/read with the URI it reads and an extra `name` was audited,
    // and put to the approver, under the name.
    const read = { kind: 'request', id: 1, method: 'resources/read', params: { uri: 'repo://acme/secrets', name: 'repo://acme/readme' } };
    t.equal(nameIn(read), 'repo://acme/secrets');
    t.equal(describeCall(read), 'resources/read "repo://acme/secrets"');
    t.equal(nameIn({ kind: 'request', id: 2, method: 'tools/call', params: { name: 'search_issues', uri: 'repo://x' } }), 'search_issues');
    t.equal(nameIn({ kind: 'request', id: 3, method: 'tools/list', params: { name: 'admin_wipe' } }), null, 'a method that names nothing has no name');
});
//# sourceMappingURL=mcp-decide.test.js.map