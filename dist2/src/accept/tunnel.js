/** Which tunnel a decrypted or cleartext socket belongs to (set when it is handed to the inner server). */
const tunnels = new WeakMap();
export function bindTunnel(socket, tunnel) {
    tunnels.set(socket, tunnel);
}
export function tunnelOf(socket) {
    return tunnels.get(socket) ?? null;
}
/**
 * The audit fields a tunnel knows, for a line written before any request inside it was read (a
 * parser refusal, a stream refused unread): its destination and the caller who opened it.
 */
export function tunnelAuditFields(tunnel) {
    return { host: tunnel.authority.host, port: tunnel.authority.port, workload: tunnel.caller.workload };
}
//# sourceMappingURL=tunnel.js.map