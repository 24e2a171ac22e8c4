import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
/**
 * The one place sidekey opens an outbound connection. It takes a `CheckedAddress`, which only the
 * SSRF guard (`resolveChecked`) can make, and connects to that address and nothing else: no name is
 * resolved here, so no code path (pooled requests, blind tunnels, WebSocket upgrades) can reach an
 * address the guard did not approve, nor one a second DNS answer would substitute.
 */
export function dialChecked(to, tls) {
    return tls === undefined ? connectTcp({ host: to.address, port: to.port }) : connectTls({ ...tls, host: to.address, port: to.port });
}
/**
 * Dial `to` and wait until connected (the TLS handshake done, with `tls`): resolves with the
 * socket, rejects with the connect error, or with ETIMEDOUT after `timeoutMs`.
 */
export function dialConnected(to, timeoutMs, tls) {
    return new Promise((resolve, reject) => {
        const socket = dialChecked(to, tls);
        const timer = setTimeout(() => socket.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
        socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
            clearTimeout(timer);
            socket.removeListener('error', reject);
            resolve(socket);
        });
        socket.once('error', (err) => {
            clearTimeout(timer);
            reject(err);
        });
    });
}
//# sourceMappingURL=dial.js.map