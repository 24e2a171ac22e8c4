import { connectDecision, requestDecision } from './decide.js';
/**
 * Connections that outlive their decision (tunnels, upgraded connections) are registered to be
 * decided again on every policy reload, and closed when the answer changes; the registry also
 * closes them when their token is revoked or their workload quarantined.
 */
/**
 * A blind tunnel stays only while its destination is still a tunnel route (nothing inside it is
 * ever decided, so a route that now inspects, or denies, ends it); an intercepted one stays unless
 * its destination is now denied (each request inside is decided anyway).
 */
export function holdTunnel(ctx, socket, audit, caller, authority, blind) {
    const allowedUnder = (policy) => {
        const decision = connectDecision(ctx, policy, caller, authority);
        // Report-only mode logs what enforcement would refuse; it closes nothing.
        if (decision.reportOnly)
            return true;
        return blind ? decision.action === 'tunnel' : decision.action !== 'deny';
    };
    ctx.connections.hold(socket, { audit, allowedUnder, streaming: blind });
}
/**
 * An upgraded connection (after its 101) is a relay nobody decides again: it is asked again on
 * every policy reload (and closed when its route is gone), closed with its connection when its
 * token is revoked or its workload quarantined, and closed after the tunnel idle timeout.
 */
export function holdUpgrade(ctx, client, socket, audit, facts) {
    const allowedUnder = (policy) => {
        const decision = requestDecision(ctx, policy, facts);
        return decision.reportOnly || decision.action !== 'deny';
    };
    ctx.connections.hold(client, { audit, allowedUnder, streaming: true });
    socket.setTimeout(ctx.config.tunnelIdleTimeoutMs);
    socket.once('timeout', () => {
        audit.closed ??= 'idle';
        socket.destroy();
    });
    closeOutsideTimeWindow(ctx, socket, audit, facts);
}
/** How often an upgraded connection on a route with a time window checks it is still inside. */
export const TIME_WINDOW_CHECK_MS = 1000;
/**
 * An upgraded connection on a route with a time window ends when the window does: it was decided
 * once, when it opened, and a WebSocket opened at 17:59 would otherwise relay all night (found by
 * a red-team run). Checked every TIME_WINDOW_CHECK_MS on sidekey's clock; the audit line says
 * `closed: outside-time-window`. A quota counts the upgrade once, as one request.
 */
function closeOutsideTimeWindow(ctx, socket, audit, facts) {
    const decision = requestDecision(ctx, ctx.policy.current, facts);
    const window = decision.reportOnly ? null : (decision.route?.conditions?.time ?? null);
    if (window === null)
        return;
    const timer = setInterval(() => {
        if (window.contains(ctx.now()))
            return;
        audit.closed ??= 'outside-time-window';
        socket.destroy();
    }, TIME_WINDOW_CHECK_MS);
    timer.unref();
    socket.once('close', () => clearInterval(timer));
}
/** A blind tunnel idle for the tunnel idle timeout is closed, and its audit line says so. */
export function idleClose(ctx, audit) {
    return { ms: ctx.config.tunnelIdleTimeoutMs, onIdle: () => (audit.closed ??= 'idle') };
}
//# sourceMappingURL=hold.js.map