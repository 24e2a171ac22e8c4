import { SidekeyError } from '../errors.js';
import { foldKey, quoteKey } from '../guard/json-keys.js';
/**
 * Tool arguments a CEL condition reads, held to their exact spelling. Go's encoding/json fills a
 * struct field from a key of any letter case (and folds `ſ` to `s`, the Kelvin sign to `k`), so
 * for `!has(mcp.arguments.force)` an agent sending `{"Force": true}` would pass the condition
 * (CEL sees no `force`) and a Go server would still run with force set. An argument key that folds
 * to a name a condition reads without being it is refused. The names are those the parsed
 * expression reads of `mcp.arguments` by a literal name (policy/cel.ts `fieldNamesRead`), so this
 * covers the first level.
 */
/** The argument names the CEL of `routes` (conditions and approval `when`) reads, by folded name. */
export function argumentsRead(...routes) {
    const out = new Map();
    for (const route of routes) {
        const predicates = [...(route?.conditions?.cel ?? []), ...(route?.approval?.when ? [route.approval.when] : [])];
        for (const p of predicates)
            for (const name of p.argumentReads)
                out.set(foldKey(name), name);
    }
    return out;
}
/** Throws SIDEKEY_ERR_MCP_INVALID when a key of `args` folds to a name in `read` without being it. */
export function checkArgumentKeys(args, read) {
    if (read.size === 0 || typeof args !== 'object' || args === null || Array.isArray(args))
        return;
    for (const key of Object.keys(args)) {
        const meant = read.get(foldKey(key));
        if (meant !== undefined && meant !== key) {
            throw new SidekeyError('SIDEKEY_ERR_MCP_INVALID', `the argument ${quoteKey(key)} differs only in letter case from ${quoteKey(meant)}, which a condition reads; servers that match names without case would take it for ${quoteKey(meant)}`, { details: { jsonrpc_code: -32602 } });
        }
    }
}
//# sourceMappingURL=argument-keys.js.map