import type { ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { STATUS_CODES } from 'node:http'
import { SidekeyError } from '../errors.js'

/** Turn anything thrown on the request path into a SidekeyError (unknown faults become INTERNAL). */
export function asSidekeyError(err: unknown): SidekeyError {
  if (err instanceof SidekeyError) return err
  return new SidekeyError('SIDEKEY_ERR_INTERNAL', 'internal error; the request was not forwarded', { cause: err })
}

function refusalBody(err: SidekeyError, requestId: string | null, reason: string | null): string {
  return JSON.stringify({ error: { code: err.code, message: err.message, reason, request_id: requestId, ...err.details } })
}

function refusalHeaders(err: SidekeyError, body: string, requestId: string | null): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-sidekey-error': err.code,
    'cache-control': 'no-store',
  }
  if (requestId !== null) headers['x-sidekey-request-id'] = requestId
  if (err.status === 407) headers['proxy-authenticate'] = 'Basic realm="sidekey"'
  if (err.retryAfterS !== undefined) headers['retry-after'] = String(err.retryAfterS)
  return headers
}

/**
 * The one way sidekey answers a refusal on a live HTTP exchange: the code's status, a JSON body
 * naming the code, and `x-sidekey-error`.
 */
export function refuse(res: ServerResponse, err: SidekeyError, requestId: string | null, reason: string | null = null): void {
  const body = refusalBody(err, requestId, reason)
  res.writeHead(err.status, refusalHeaders(err, body, requestId))
  res.end(body)
}

/**
 * The reason phrase of a refusal whose status line is all the client shows (a refused CONNECT:
 * curl, requests, Go print the line and never read the body): the standard phrase, then the
 * message, in the bytes a reason phrase may hold (RFC 9112 section 4).
 */
function phraseWithMessage(err: SidekeyError): string {
  const message = err.message.replace(/[^\x20-\x7e]+/g, ' ').slice(0, 300)
  return `${STATUS_CODES[err.status] ?? 'Error'} (${err.code}: ${message})`
}

/**
 * The same answer written onto a raw socket (CONNECT, upgrade, or a request Node's parser refused),
 * then the socket is closed. Written first and ended in the write's callback: ending at once can
 * lose the answer on a decrypted TLS socket (docs/architecture.md, "Habits of real clients"). With
 * `sayWhy`, the status line carries the message too (for CONNECT refusals).
 */
export function refuseSocket(socket: Duplex, err: SidekeyError, requestId: string | null, reason: string | null = null, options: { sayWhy?: boolean } = {}): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy()
    return
  }
  const body = refusalBody(err, requestId, reason)
  const headers = { ...refusalHeaders(err, body, requestId), connection: 'close' }
  const phrase = options.sayWhy === true ? phraseWithMessage(err) : (STATUS_CODES[err.status] ?? 'Error')
  const head = `HTTP/1.1 ${err.status} ${phrase}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`
  socket.write(head + body, () => socket.end())
  // A peer that never reads (or a TLS handshake that never completes, so the write never leaves)
  // must not hold the socket open.
  setTimeout(() => socket.destroy(), 2000).unref()
}
