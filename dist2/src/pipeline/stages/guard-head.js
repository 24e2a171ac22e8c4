import { refusePathOverride } from '../../accept/path-override.js';
import { refuseRepeatedSingletons } from '../../accept/singleton-fields.js';
import { detected } from '../../guard/secret-scan.js';
import { known } from '../exchange.js';
/**
 * Guard what the agent sent before anything acts on it. An agent sending a secret sidekey holds is
 * exfiltrating it, wherever it puts it: the target as sent (with its host, in absolute form), the
 * host and path as normalised (what is resolved and forwarded), every header name and value. This
 * runs before any DNS lookup, which would carry the host out. Headers that would make the upstream
 * run another path than the one decided on are refused here too, and so are fields sent twice
 * that say how the body is read (accept/singleton-fields.ts).
 */
export const guardRequestHead = {
    name: 'guard the request head',
    run(ctx, ex) {
        const target = known(ex.target, 'a target');
        if (ctx.scanner.foundInRequest(ex.req.url ?? '', ex.req.rawHeaders) || ctx.scanner.foundInFields([target.host, target.path]))
            throw detected();
        refusePathOverride(ex.req.rawHeaders);
        refuseRepeatedSingletons(ex.req.rawHeaders);
    },
};
/**
 * A secret in a connection's authority would leave in the DNS query for it (a `*.example` route
 * resolves `<secret>.example`), or in the name a leaf is minted for, before any request inside
 * could be scanned.
 */
export const guardConnectionHead = {
    name: 'guard the request head',
    run(ctx, ex) {
        if (ctx.scanner.foundInRequest(ex.sent.target, ex.sent.rawHeaders))
            throw detected();
    },
};
//# sourceMappingURL=guard-head.js.map