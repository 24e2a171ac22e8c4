import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Caller } from '../identity/identify.js'
import type { AuditRecord } from '../observe/audit.js'
import type { H2Response } from './h2-response.js'
import type { H2ServerRequest } from './h2-server-request.js'
import type { InterceptFailure } from './intercept.js'
import type { Tunnel } from './tunnel.js'

/**
 * What the listeners hand accepted traffic to. The process wiring supplies these (the request
 * path's entry points), so nothing in accept/ depends on the stages after it.
 */
export interface EntryHandlers {
  /** A plain request: absolute-form on the proxy port (`tunnel` null), or inside a tunnel or transparent connection. */
  request(req: IncomingMessage, res: ServerResponse, tunnel: Tunnel | null): void
  /** One HTTP/2 stream inside an intercepted tunnel or redirected TLS connection. */
  h2Request(req: H2ServerRequest, res: H2Response, tunnel: Tunnel): void
  /** An HTTP/1.1 upgrade request. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, tunnel: Tunnel | null): void
  /** A CONNECT request; `handOver` intercepts the tunnel into the inner server. */
  connect(req: IncomingMessage, socket: Socket, head: Buffer, handOver: HandOverTunnel): void
  /** A redirected TLS connection, its ClientHello read (`serverName` null when it names none). */
  transparentTls(socket: Socket, hello: Buffer, serverName: string | null, port: number, handOver: HandOverTunnel): void
  /** The caller of redirected (transparent) traffic: the sidecar's own workload. */
  sidecarCaller(): Caller
  /** Write the audit line of something refused before any entry point ran (a parser error, a full connection cap). */
  audit(record: AuditRecord, startedAt: number): void
}

/**
 * Hand an accepted tunnel to the inner HTTP server (TLS terminated with a leaf for its host when
 * the client starts TLS); `onFailure` hears of one that does not get there cleanly.
 */
export type HandOverTunnel = (socket: Socket, head: Buffer, tunnel: Tunnel, onFailure: (code: string, why: InterceptFailure, detail: string, level: 'debug' | 'error') => void) => void
