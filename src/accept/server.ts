import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Server as NetServer, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { randomUUID } from 'node:crypto'
import type { SidekeyError } from '../errors.js'
import { newAuditRecord } from '../observe/audit.js'
import { finishAudit, handleConnect, handleRequest, handleUpgrade, type ProxyContext } from '../proxy.js'
import { onClientError } from './client-error.js'
import { Connections } from './connections.js'
import { createLimitedServer, trackConnections } from './http-limits.js'
import { refuseSocket } from './refuse.js'
import { createTransparentHttpServer, createTransparentTlsServer } from './transparent.js'
import { tunnelOf } from './tunnel.js'

/** The inner server that intercepted tunnels are handed to, the listening servers, and the registry of open connections. */
export function createProxyServers(ctx: Omit<ProxyContext, 'inner' | 'connections'>): { proxy: Server; inner: Server; transparentHttp: Server | null; transparentTls: (NetServer & { closeAll(): void }) | null; connections: Connections; closeTunnels(): void } {
  const connections = new Connections(ctx.config)
  const inner = createLimitedServer(ctx.config)
  trackConnections(inner)
  const full: ProxyContext = { ...ctx, inner, connections }
  inner.on('request', (req, res) => {
    const tunnel = tunnelOf(req.socket)
    if (tunnel !== null) connections.serving(tunnel.client, res)
    void handleRequest(full, req, res, tunnel)
  })
  inner.on('upgrade', (req, socket: Duplex, head: Buffer) => void handleUpgrade(full, req, socket, head, tunnelOf(req.socket)))
  inner.on('clientError', (err, socket) => onClientError(full, err, socket))

  const proxy = createLimitedServer(ctx.config)
  proxy.on('request', (req, res) => {
    connections.serving(req.socket, res)
    void handleRequest(full, req, res, null)
  })
  proxy.on('connect', (req, socket: Socket, head: Buffer) => void handleConnect(full, req, socket, head))
  proxy.on('upgrade', (req, socket: Duplex, head: Buffer) => void handleUpgrade(full, req, socket, head, null))
  proxy.on('clientError', (err, socket) => onClientError(full, err, socket))
  admitFirst(proxy, connections, (socket, refusal) => refuseConnection(full, socket, refusal, true))
  const transparentTls = ctx.config.transparentHttps === null ? null : createTransparentTlsServer(full)
  const transparentHttp = ctx.config.transparentHttp === null ? null : createTransparentHttpServer(full)
  // Nothing readable can be said before TLS: a refused redirected TLS connection is closed.
  if (transparentTls !== null) admitFirst(transparentTls, connections, (socket, refusal) => refuseConnection(full, socket, refusal, false))
  if (transparentHttp !== null) {
    admitFirst(transparentHttp, connections, (socket, refusal) => refuseConnection(full, socket, refusal, true))
    transparentHttp.on('request', (req: IncomingMessage, res: ServerResponse) => connections.serving(req.socket, res))
  }
  return {
    proxy,
    inner,
    transparentHttp,
    transparentTls,
    connections,
    closeTunnels() {
      connections.closeAll()
    },
  }
}

/**
 * Put the total connection cap in front of a listener: a connection past it never reaches the
 * server's own handler (no HTTP parser, no decision), it is answered and closed.
 */
function admitFirst(server: NetServer, connections: Connections, onRefused: (socket: Socket, refusal: SidekeyError) => void): void {
  const handlers = server.listeners('connection') as ((socket: Socket) => void)[]
  server.removeAllListeners('connection')
  server.on('connection', (socket: Socket) => {
    const refusal = connections.admit(socket)
    if (refusal !== null) return onRefused(socket, refusal)
    for (const handler of handlers) handler.call(server, socket)
  })
}

/**
 * A connection past the total cap: one audit line, and an HTTP answer when the client speaks
 * HTTP (its status line says why, since a CONNECT client shows nothing else), before any request.
 */
function refuseConnection(ctx: ProxyContext, socket: Socket, refusal: SidekeyError, http: boolean): void {
  socket.on('error', () => socket.destroy())
  const id = randomUUID()
  const audit = newAuditRecord('connect', id)
  Object.assign(audit, { decision: 'deny', reason: 'connection-limit', error: refusal.code, status: refusal.status })
  finishAudit(ctx, audit, performance.now())
  if (http) refuseSocket(socket, refusal, id, 'connection-limit', { sayWhy: true })
  else socket.destroy()
}
