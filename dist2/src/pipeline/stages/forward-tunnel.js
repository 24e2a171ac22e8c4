import { dialConnected } from '../../forward/dial.js';
import { upstreamFailure } from '../../forward/forward.js';
import { relay } from '../../forward/relay.js';
import { known } from '../exchange.js';
import { recordFailure, recordIntercepted } from './audit.js';
import { holdTunnel, idleClose } from './hold.js';
import { admitCaller, guardCaller } from './identify.js';
import { checkedDestination } from './guard.js';
/**
 * The forward stage for a connection. A tunnel route relays blind: the destination is resolved and
 * checked, dialled, and bytes copied both ways (the client's first bytes included). Anything else
 * is intercepted: handed to the inner HTTP server, where each request inside runs the request
 * stages on its own (report-only "allow" lands here too, so its requests are still decided).
 */
export const forwardConnection = {
    name: 'forward',
    async run(ctx, ex) {
        const authority = known(ex.authority, 'an authority');
        const caller = known(ex.caller, 'a caller');
        const decision = known(ex.decision, 'a decision');
        const socket = ex.socket;
        const tunnel = { id: ex.id, authority, caller, tls: false, client: socket };
        if (decision.action === 'tunnel') {
            // Nothing inside a blind tunnel is decided again: the caller's standing is checked now.
            if (ex.refusalsInside) {
                guardCaller(ctx, caller);
                admitCaller(ctx, socket, caller);
            }
            holdTunnel(ctx, socket, ex.audit, caller, authority, true);
            const to = await checkedDestination(ctx, authority, decision.route);
            let upstream;
            try {
                upstream = await dialConnected(to, ctx.config.connectTimeoutMs);
            }
            catch (err) {
                throw upstreamFailure(err, authority);
            }
            // The agent left meanwhile.
            if (socket.destroyed) {
                upstream.destroy();
                return;
            }
            ex.established?.();
            relay(socket, upstream, ex.head, () => undefined, idleClose(ctx, ex.audit));
            return;
        }
        recordIntercepted(ex.audit);
        if (ex.refusalsInside) {
            // Past the workload's connection limit, the connection is not counted, and each request
            // inside is refused with the 429 (the request stages count it again, request by request).
            ctx.connections.identify(socket, caller);
        }
        else {
            holdTunnel(ctx, socket, ex.audit, caller, authority, false);
        }
        ex.established?.();
        ex.handOver(socket, ex.head, tunnel, (code, why, detail, level) => {
            if (ex.audit.error !== null)
                return;
            recordFailure(ex.audit, code, why);
            // The detail may quote the agent's SNI.
            ctx.log[level]({ event: 'intercept_failed', id: ex.id, via: ex.audit.method, why, detail: ctx.scanner.mask(detail) }, 'intercepted connection failed');
        });
    },
};
//# sourceMappingURL=forward-tunnel.js.map