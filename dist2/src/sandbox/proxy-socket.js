import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
/** File name of the proxy socket in its directory (inside the sandbox: SOCKET_DIR_INSIDE/proxy.sock). */
export const PROXY_SOCKET_NAME = 'proxy.sock';
/**
 * Listen on a Unix socket in a new private directory and hand every connection to `serve` (the
 * proxy server, or a pipe to a running sidekey's proxy port). This is the sandbox's only way out:
 * its network namespace has no route to the host's loopback.
 */
export async function openProxySocket(serve) {
    // mkdtemp creates the directory with mode 0700: only this user reaches the socket from outside.
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-run-'));
    const open = new Set();
    const server = createServer({ allowHalfOpen: true }, (socket) => {
        open.add(socket);
        socket.once('close', () => open.delete(socket));
        serve(socket);
    });
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(join(dir, PROXY_SOCKET_NAME), () => resolve());
    });
    return {
        dir,
        // The agent is gone by now: what is still open has no one at the other end.
        async close() {
            const closed = new Promise((resolve) => server.close(() => resolve()));
            for (const socket of open)
                socket.destroy();
            await closed;
            await rm(dir, { recursive: true, force: true });
        },
    };
}
//# sourceMappingURL=proxy-socket.js.map