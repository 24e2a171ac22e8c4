/**
 * The first part of a graceful shutdown (SIGTERM; in Kubernetes, the kubelet stopping the pod):
 * stop accepting on every proxy listener, so a new connection is refused and the agent's client
 * fails fast instead of hanging; close idle connections now; let requests in flight, SSE
 * responses, blind tunnels and WebSockets finish, for at most `timeoutMs` (the pod's
 * terminationGracePeriodSeconds less the time closing and flushing the log take). The caller then
 * closes sidekey, which cuts whatever is still open.
 */
export async function drainConnections(listeners, connections, timeoutMs) {
    const started = Date.now();
    // The callback runs once the listener's own connections are gone; `whenEmpty` covers them all.
    for (const listener of listeners)
        listener.close(() => undefined);
    connections.closeWhenIdle();
    let timer;
    const timedOut = new Promise((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const drained = await Promise.race([connections.whenEmpty().then(() => true), timedOut]);
    clearTimeout(timer);
    return { drained, left: connections.size, ms: Date.now() - started };
}
//# sourceMappingURL=drain.js.map