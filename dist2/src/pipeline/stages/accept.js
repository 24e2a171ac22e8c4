import { assertWholeHead } from '../../accept/http-limits.js';
import { requestTarget } from '../../accept/target.js';
import { auditPath } from '../../observe/audit.js';
import { SidekeyError } from '../../errors.js';
/**
 * The accept stage: where the exchange is going, as the agent named it. A request's target is
 * parsed and normalised (the form every later stage decides on and forwards) and its head checked
 * whole; a connection's authority was read by its entry point (CONNECT line, SNI).
 */
export const acceptRequest = {
    name: 'accept',
    run(ctx, ex) {
        const target = requestTarget(ex.req, ex.tunnel);
        ex.target = target;
        Object.assign(ex.audit, { scheme: target.scheme, host: target.host, port: target.port }, auditPath(target.path));
        assertWholeHead(ex.req, ctx.config.maxHeaderCount);
    },
};
export const acceptConnection = {
    name: 'accept',
    run(_ctx, ex) {
        if (ex.authority === null)
            throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', ex.unnamed);
        Object.assign(ex.audit, { host: ex.authority.host, port: ex.authority.port });
    },
};
//# sourceMappingURL=accept.js.map