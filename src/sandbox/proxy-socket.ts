import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** File name of the proxy socket in its directory (inside the sandbox: SOCKET_DIR_INSIDE/proxy.sock). */
export const PROXY_SOCKET_NAME = 'proxy.sock'

/** sidekey's proxy, reachable on a Unix socket in a directory of its own. */
export interface ProxySocket {
  /** The directory (mode 0700), bound read-only into the sandbox. */
  readonly dir: string
  close(): Promise<void>
}

/**
 * Listen on a Unix socket in a new private directory and hand every connection to `serve` (the
 * proxy server, or a pipe to a running sidekey's proxy port). This is the sandbox's only way out:
 * its network namespace has no route to the host's loopback.
 */
export async function openProxySocket(serve: (socket: Socket) => void): Promise<ProxySocket> {
  // mkdtemp creates the directory with mode 0700: only this user reaches the socket from outside.
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-run-'))
  const open = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
    serve(socket)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(join(dir, PROXY_SOCKET_NAME), () => resolve())
  })
  return {
    dir,
    // The agent is gone by now: what is still open has no one at the other end.
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      for (const socket of open) socket.destroy()
      await closed
      await rm(dir, { recursive: true, force: true })
    },
  }
}
