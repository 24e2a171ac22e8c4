import type { Socket } from 'node:net'
import type { Caller } from '../identity/identify.js'
import type { AuditRecord } from '../observe/audit.js'
import type { Authority } from '../policy/host.js'

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
 * The audit fields a tunnel knows, for a line written before any request inside it was read (a
 * parser refusal, a stream refused unread): its destination and the caller who opened it.
 */
export function tunnelAuditFields(tunnel: Tunnel): Pick<AuditRecord, 'host' | 'port' | 'workload'> {
  return { host: tunnel.authority.host, port: tunnel.authority.port, workload: tunnel.caller.workload }
}
