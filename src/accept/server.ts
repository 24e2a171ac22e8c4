import { createServer, type Server } from 'node:http'
import type { Server as NetServer, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { randomUUID } from 'node:crypto'
import { SidekeyError, type ErrorCode } from '../errors.js'
import { newAuditRecord } from '../observe/audit.js'
import { finishAudit, handleConnect, handleRequest, handleUpgrade, type ProxyContext } from '../proxy.js'
import { refuseSocket } from './refuse.js'
import { createTransparentHttpServer, createTransparentTlsServer } from './transparent.js'
import { tunnelOf } from './tunnel.js'

/**
 * Node's parser errors and the refusal each becomes. Node's strict defaults do the rejecting
 * (both Content-Length and Transfer-Encoding, obs-fold, bad header bytes: DESIGN rule 10); this
 * only turns the rejection into a specific answer and an audit line.
 */
const PARSER_ERRORS: Record<string, [ErrorCode, string]> = {
  HPE_HEADER_OVERFLOW: ['SIDEKEY_ERR_HEADERS_TOO_LARGE', 'the request headers are too large'],
  HPE_UNEXPECTED_CONTENT_LENGTH: ['SIDEKEY_ERR_BAD_REQUEST', 'Content-Length together with Transfer-Encoding is refused (request smuggling)'],
  HPE_INVALID_TRANSFER_ENCODING: ['SIDEKEY_ERR_BAD_REQUEST', 'invalid Transfer-Encoding'],
  HPE_INVALID_CONTENT_LENGTH: ['SIDEKEY_ERR_BAD_REQUEST', 'invalid Content-Length'],
  HPE_INVALID_HEADER_TOKEN: ['SIDEKEY_ERR_INVALID_HEADER', 'a header has bytes HTTP does not allow'],
  HPE_LF_EXPECTED: ['SIDEKEY_ERR_BAD_REQUEST', 'bare LF or obs-fold in the request head'],
  HPE_CR_EXPECTED: ['SIDEKEY_ERR_BAD_REQUEST', 'bare CR in the request head'],
}

/** The inner server that intercepted tunnels are handed to, and the listening proxy server. */
export function createProxyServers(ctx: Omit<ProxyContext, 'inner'>): { proxy: Server; inner: Server; transparentHttp: Server | null; transparentTls: (NetServer & { closeAll(): void }) | null; closeTunnels(): void } {
  const options = {
    maxHeaderSize: ctx.config.maxHeaderSize,
    // A client that opens a connection and sends nothing (or dribbles a head) must not hold it.
    headersTimeout: 30_000,
    requestTimeout: 0,
    keepAliveTimeout: 60_000,
  }
  const inner = createServer(options)
  const full: ProxyContext = { ...ctx, inner }
  inner.on('request', (req, res) => void handleRequest(full, req, res, tunnelOf(req.socket)))
  inner.on('upgrade', (req, socket: Duplex, head: Buffer) => void handleUpgrade(full, req, socket, head, tunnelOf(req.socket)))
  inner.on('clientError', (err, socket) => onClientError(full, err, socket))

  const proxy = createServer(options)
  proxy.on('request', (req, res) => void handleRequest(full, req, res, null))
  // CONNECT sockets leave the HTTP server's bookkeeping once upgraded; track them for shutdown.
  const tunnels = new Set<Socket>()
  proxy.on('connect', (req, socket: Socket, head: Buffer) => {
    tunnels.add(socket)
    socket.once('close', () => tunnels.delete(socket))
    void handleConnect(full, req, socket, head)
  })
  proxy.on('upgrade', (req, socket: Duplex, head: Buffer) => void handleUpgrade(full, req, socket, head, null))
  proxy.on('clientError', (err, socket) => onClientError(full, err, socket))
  const transparentTls = ctx.config.transparentHttps === null ? null : createTransparentTlsServer(full)
  const transparentHttp = ctx.config.transparentHttp === null ? null : createTransparentHttpServer(full)
  return {
    proxy,
    inner,
    transparentHttp,
    transparentTls,
    closeTunnels() {
      for (const socket of tunnels) socket.destroy()
      transparentTls?.closeAll()
    },
  }
}

function onClientError(ctx: ProxyContext, err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
    socket.destroy()
    return
  }
  const [code, message] = PARSER_ERRORS[err.code ?? ''] ?? (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? ['SIDEKEY_ERR_BAD_REQUEST', 'the request head did not arrive in time'] : ['SIDEKEY_ERR_BAD_REQUEST', 'malformed HTTP request'])
  const id = randomUUID()
  const audit = newAuditRecord('request', id, tunnelOf(socket)?.id ?? null)
  audit.decision = 'deny'
  audit.reason = 'malformed-request'
  audit.error = code
  const refusal = new SidekeyError(code, message)
  audit.status = refusal.status
  const tunnel = tunnelOf(socket)
  if (tunnel !== null) Object.assign(audit, { host: tunnel.authority.host, port: tunnel.authority.port, workload: tunnel.caller.workload })
  finishAudit(ctx, audit, performance.now())
  refuseSocket(socket, refusal, id, 'malformed-request')
}
