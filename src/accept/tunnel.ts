import { connect, type Socket } from 'node:net'
import type { Caller } from '../identity/identify.js'
import type { Authority } from '../policy/host.js'
import type { CheckedAddress } from '../forward/ssrf.js'

/** A CONNECT tunnel sidekey accepted: its destination and who opened it. */
export interface Tunnel {
  readonly id: string
  readonly authority: Authority
  readonly caller: Caller
  /** The client's TCP connection the tunnel runs on (what the connection registry tracks). */
  readonly client: Socket
  /** True once the agent started TLS inside the tunnel (then requests are https). */
  tls: boolean
}

/** Which tunnel a decrypted or cleartext socket belongs to (set when it is handed to the inner server). */
const tunnels = new WeakMap<object, Tunnel>()

export function bindTunnel(socket: object, tunnel: Tunnel): void {
  tunnels.set(socket, tunnel)
}

export function tunnelOf(socket: object): Tunnel | null {
  return tunnels.get(socket) ?? null
}

/**
 * Blind relay for `action: tunnel` routes: dial the checked address, then copy bytes both ways.
 * Resolves once connected (so the caller can answer 200), rejects if the dial fails.
 */
export function dialTunnel(to: CheckedAddress, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const upstream = connect({ host: to.address, port: to.port })
    const timer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), timeoutMs)
    upstream.once('connect', () => {
      clearTimeout(timer)
      upstream.removeListener('error', reject)
      resolve(upstream)
    })
    upstream.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

/**
 * Copy both ways until either side ends; `done` runs once with the byte counts. With `idle`, a
 * relay that carries no byte either way for `idle.ms` is closed (`idle.onIdle` runs first): a
 * blind tunnel nobody uses must not hold a connection (and its upstream socket) for ever.
 */
export function relay(client: Socket, upstream: Socket, head: Buffer, done: (bytesUp: number, bytesDown: number) => void, idle?: { readonly ms: number; readonly onIdle: () => void }): void {
  if (idle !== undefined) {
    // Every byte read from or written to the client socket re-arms its timer: that is both directions.
    client.setTimeout(idle.ms)
    client.once('timeout', () => {
      idle.onIdle()
      client.destroy()
    })
  }
  let up = head.length
  let down = 0
  if (head.length > 0) upstream.write(head)
  client.on('data', (c: Buffer) => (up += c.length))
  upstream.on('data', (c: Buffer) => (down += c.length))
  client.pipe(upstream)
  upstream.pipe(client)
  let finished = false
  const finish = (): void => {
    if (finished) return
    finished = true
    client.destroy()
    upstream.destroy()
    done(up, down)
  }
  client.on('error', finish)
  upstream.on('error', finish)
  client.on('close', finish)
  upstream.on('close', finish)
}
