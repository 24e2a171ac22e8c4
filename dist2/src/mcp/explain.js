import { SidekeyError } from '../errors.js';
import { decideMcpMessage } from './decide.js';
import { celFacts, describeCall } from './facts.js';
/** The explain lines for the MCP call `params` names on `route`; none when it names none. `explainRule` explains a rule's route. */
export function explainMcpCall(route, params, explainRule) {
    const name = params.get('mcp_tool');
    if (name === null)
        return [];
    if (route.mcp === null)
        return [{ condition: 'mcp', result: 'fail', detail: `route "${route.name}" is not an MCP endpoint (no mcp: block): the body is not decided per tool` }];
    let args;
    try {
        args = JSON.parse(params.get('mcp_args') ?? '{}');
    }
    catch {
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', '--mcp-args must be a JSON object');
    }
    const call = { kind: 'request', id: 1, method: 'tools/call', params: { name, arguments: args } };
    const about = describeCall(call);
    try {
        const verdict = decideMcpMessage(route.mcp, call);
        const line = { condition: `mcp ${about}`, result: 'pass', detail: `allowed by rule "${verdict.rule?.pattern}"` };
        const guard = verdict.rule?.guard ?? null;
        if (guard === null)
            return [line];
        const body = JSON.stringify({ jsonrpc: '2.0', id: call.id, method: call.method, params: call.params });
        return [line, ...explainRule(guard, body, celFacts(call, verdict.subject)).map((c) => ({ ...c, condition: `${guard.name} ${c.condition}` }))];
    }
    catch (err) {
        if (!(err instanceof SidekeyError))
            throw err;
        return [{ condition: `mcp ${about}`, result: 'fail', detail: `${err.message}: refused with ${err.code}` }];
    }
}
//# sourceMappingURL=explain.js.map