import type { ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { SidekeyError } from '../errors.js'

/** Turn anything thrown on the request path into a SidekeyError (unknown faults become INTERNAL). */
export function asSidekeyError(err: unknown): SidekeyError {
  if (err instanceof SidekeyError) return err
  return new SidekeyError('SIDEKEY_ERR_INTERNAL', 'internal error; the request was not forwarded', { cause: err })
}

/**
 * The JSON body of every refusal. `error` is one readable line (what was refused, why, what to do,
 * and the code), because clients that expect a string there print it as is (npm prints
 * `... - ${body.error}`, which an object turns into `[object Object]`); the same facts follow as
 * separate fields for programs.
 */
/**
 * `err` with every managed secret masked in its message (`mask`: the scanner's). A refusal's
 * words may quote what an upstream sent (a coding it framed its answer with), and an upstream may
 * echo the credential there: the message reaches the agent in the body, the reason phrase and
 * `x-sidekey-message` (found by a red-team run: a Transfer-Encoding naming the injected key).
 */
export function maskedRefusal(err: SidekeyError, mask: (text: string) => string): SidekeyError {
  const message = mask(err.message)
  if (message === err.message) return err
  return new SidekeyError(err.code, message, { ...(err.retryAfterS === undefined ? {} : { retryAfterS: err.retryAfterS }), ...(err.details === undefined ? {} : { details: err.details }) })
}

export function refusalBody(err: SidekeyError, requestId: string | null, reason: string | null): string {
  return JSON.stringify({ error: `sidekey: ${err.message} (${err.code})`, code: err.code, message: err.message, reason, request_id: requestId, ...err.details })
}

/** The headers of every refusal: its code, its message in header-safe bytes, the request id, Retry-After. */
export function refusalHeaders(err: SidekeyError, body: string, requestId: string | null): Record<string, string> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'x-sidekey-error': err.code,
    // The same words as the reason phrase, for clients that keep a refused CONNECT's headers but
    // not its phrase (undici; cli/tunnel-refusal.ts reads it in agents `sidekey run` starts).
    'x-sidekey-message': phraseMessage(err),
    'cache-control': 'no-store',
  }
  if (requestId !== null) headers['x-sidekey-request-id'] = requestId
  if (err.status === 407) headers['proxy-authenticate'] = 'Basic realm="sidekey"'
  if (err.retryAfterS !== undefined) headers['retry-after'] = String(err.retryAfterS)
  return headers
}

/**
 * The one way sidekey answers a refusal on a live HTTP exchange: the code's status with the
 * reason in its phrase (Python's `raise_for_status` and Go print it), a JSON body naming the
 * code, and `x-sidekey-error`.
 */
export function refuse(res: ServerResponse, err: SidekeyError, requestId: string | null, reason: string | null = null): void {
  const body = refusalBody(err, requestId, reason)
  res.writeHead(err.status, reasonPhrase(err), refusalHeaders(err, body, requestId))
  res.end(body)
}

/** Longest message a reason phrase carries; the body has the whole of it. */
const PHRASE_MESSAGE_MAX = 300

/**
 * The reason phrase of a refusal whose status line is all the client shows (a refused CONNECT:
 * curl, requests, urllib, httpx and Go print the line and never read the body), as
 * `sidekey: MESSAGE (CODE)`, in the bytes a reason phrase may hold (RFC 9112 section 4: visible
 * ASCII and spaces, so no CR or LF can end the line early). The message is what the body says,
 * which never holds a secret (docs/architecture.md, rule 7).
 */
export function reasonPhrase(err: SidekeyError): string {
  return `sidekey: ${phraseMessage(err)} (${err.code})`
}

/** The message in the bytes a reason phrase or header value may hold, at most PHRASE_MESSAGE_MAX long. */
export function phraseMessage(err: SidekeyError): string {
  const message = err.message.replace(/[^\x20-\x7e]+/g, ' ').trim()
  return message.length > PHRASE_MESSAGE_MAX ? `${message.slice(0, PHRASE_MESSAGE_MAX - 3)}...` : message
}

/**
 * The same answer written onto a raw socket (CONNECT, upgrade, or a request Node's parser refused),
 * then the socket is closed. Written first and ended in the write's callback: ending at once can
 * lose the answer on a decrypted TLS socket (docs/architecture.md, "Habits of real clients"). The
 * status line says why: for a refused CONNECT it is all most clients show.
 */
export function refuseSocket(socket: Duplex, err: SidekeyError, requestId: string | null, reason: string | null = null): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy()
    return
  }
  const body = refusalBody(err, requestId, reason)
  const headers = { ...refusalHeaders(err, body, requestId), connection: 'close' }
  const head = `HTTP/1.1 ${err.status} ${reasonPhrase(err)}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n')}\r\n\r\n`
  socket.write(head + body, () => socket.end())
  destroyAfterGrace(socket)
}

/** How long a socket sidekey has ended may stay open for its last bytes to leave. */
const CLOSE_GRACE_MS = 2000

/**
 * Destroy `socket` CLOSE_GRACE_MS from now: a peer that never reads (or a TLS handshake that never
 * completes, so the last write never leaves) must not hold open a connection sidekey is closing.
 */
export function destroyAfterGrace(socket: Duplex): void {
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref()
}
