import { connect as connectTcp, type Socket } from 'node:net'
import { connect as connectTls, type ConnectionOptions, type TLSSocket } from 'node:tls'
import type { CheckedAddress } from './ssrf.js'

/** TLS settings for a dial: everything but where to connect, which only the checked address says. */
export type DialTls = Omit<ConnectionOptions, 'host' | 'port' | 'path' | 'socket' | 'lookup'>

/**
 * The one place sidekey opens an outbound connection. It takes a `CheckedAddress`, which only the
 * SSRF guard (`resolveChecked`) can make, and connects to that address and nothing else: no name is
 * resolved here, so no code path (pooled requests, blind tunnels, WebSocket upgrades) can reach an
 * address the guard did not approve, nor one a second DNS answer would substitute.
 */
export function dialChecked(to: CheckedAddress, tls?: DialTls): Socket | TLSSocket {
  return tls === undefined ? connectTcp({ host: to.address, port: to.port }) : connectTls({ ...tls, host: to.address, port: to.port })
}

/**
 * Dial `to` and wait until connected (the TLS handshake done, with `tls`): resolves with the
 * socket, rejects with the connect error, or with ETIMEDOUT after `timeoutMs`.
 */
export function dialConnected(to: CheckedAddress, timeoutMs: number, tls?: DialTls): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = dialChecked(to, tls)
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), timeoutMs)
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => {
      clearTimeout(timer)
      socket.removeListener('error', reject)
      resolve(socket)
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}
