import { argumentsRead } from './argument-keys.js';
import { compileApproval, compileConditions } from '../policy/conditions.js';
import { nameGlob } from '../policy/glob.js';
/**
 * The methods an `mcp:` block allows when it lists none: the lifecycle, listing, and the three
 * methods that name a tool, a resource or a prompt (decided further by the rules). Anything else
 * (tasks, a method a later revision adds) is refused until a policy names it.
 */
export const DEFAULT_MCP_METHODS = Object.freeze([
    'initialize',
    'ping',
    'server/discover',
    'notifications/*',
    'tools/list',
    'tools/call',
    'resources/list',
    'resources/templates/list',
    'resources/read',
    'resources/subscribe',
    'resources/unsubscribe',
    'prompts/list',
    'prompts/get',
    'completion/complete',
    'logging/setLevel',
    'subscriptions/listen',
]);
/** Compile `m`, the `mcp:` block of `route` (built without it), reporting problems at paths below `mcp`. */
export function compileMcp(m, route, defaultApprovalTimeoutMs, problem) {
    const rules = (kind, list, field) => (list ?? []).map((r, i) => {
        const pattern = (kind === 'resource' ? r.uri : r.name) ?? '';
        // Names and URIs are compared as printable ASCII (names.ts): a glob outside it could never match.
        if (!/^[\x21-\x7e]+$/.test(pattern))
            problem([field, i, kind === 'resource' ? 'uri' : 'name'], `"${pattern}" has characters outside printable ASCII; MCP names and URIs sidekey lets through are printable ASCII, so it would never match`);
        const action = r.action ?? 'allow';
        const at = (p, message) => problem([field, i, ...p], message);
        const conditions = compileConditions(r.conditions, (p, message) => at(['conditions', ...p], message));
        const approval = compileApproval(r.approval, defaultApprovalTimeoutMs, (p, message) => at(['approval', ...p], message));
        if (action === 'deny' && (conditions !== null || approval !== null))
            at(['action'], 'conditions and approval apply to action allow only');
        // An async approval lets through the identical request sent again, and an MCP client sends
        // every call with a new JSON-RPC id: the retry would never match.
        if (approval?.mode === 'async')
            at(['approval', 'mode'], 'mode: async does not suit MCP calls: a client sends each call with a new JSON-RPC id, so the call sent again never matches its approval; use mode: wait');
        const guard = conditions === null && approval === null
            ? null
            : Object.freeze({ ...route, name: `${route.name}/${kind}:${pattern}`, conditions, approval, inspectBodyBytes: route.inspectBodyBytes, mcp: null });
        return Object.freeze({ kind, pattern, action, exact: nameGlob(pattern), folded: nameGlob(pattern, true), guard, argumentsRead: argumentsRead(route, guard) });
    });
    return Object.freeze({
        stateless: m.stateless ?? false,
        logArguments: m.log_arguments ?? false,
        methodsAllow: Object.freeze((m.methods?.allow ?? DEFAULT_MCP_METHODS).map((g) => nameGlob(g))),
        methodsDeny: Object.freeze((m.methods?.deny ?? []).map((g) => nameGlob(g))),
        tools: Object.freeze(rules('tool', m.tools, 'tools')),
        resources: Object.freeze(rules('resource', m.resources, 'resources')),
        prompts: Object.freeze(rules('prompt', m.prompts, 'prompts')),
    });
}
//# sourceMappingURL=policy.js.map