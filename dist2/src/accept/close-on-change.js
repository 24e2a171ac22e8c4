import { callerRefusal } from '../identity/standing.js';
/**
 * A decision made when a connection opened must not outlive what it was made on. Requests are
 * re-checked one by one, but a blind tunnel or a WebSocket carries bytes nobody decides again,
 * and a request in flight finishes on the word it started with. So, as soon as it happens:
 *
 * - a revoked run token closes every connection opened with it;
 * - a quarantine (made here, or on another replica and announced through the shared store)
 *   closes every connection of the workload, and those of callers without a run token that could
 *   be it (see `callerRefusal`);
 * - a policy reload closes every tunnel and WebSocket the new policy no longer allows.
 *
 * Each sweep is logged with how many it closed; each closed tunnel's audit line says why.
 * Returns an unsubscribe for the subscriptions that have one.
 */
export function closeOnChange(connections, deps) {
    const { runTokens, state, policy, log } = deps;
    const report = (closed, why, detail) => {
        if (closed.count === 0)
            return;
        log.warn({ event: 'connections_closed', why, count: closed.count, workloads: closed.workloads, ...detail }, 'open connections closed: what allowed them no longer holds');
    };
    const offRevoke = runTokens.onRevoke((info) => {
        report(connections.closeCallers((caller) => caller.tokenId === info.id, 'token-revoked'), 'token-revoked', { token: info.id });
    });
    const offQuarantine = state.onQuarantineChange(() => {
        const closed = connections.closeCallers((caller) => callerRefusal(caller, runTokens, state)?.code === 'SIDEKEY_ERR_QUARANTINED', 'quarantined');
        report(closed, 'quarantined', {});
    });
    policy.onReload(() => report(connections.closeDisallowed(policy.current), 'route-gone', {}));
    return () => {
        offRevoke();
        offQuarantine();
    };
}
//# sourceMappingURL=close-on-change.js.map