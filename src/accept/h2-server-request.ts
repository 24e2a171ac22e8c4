import type { IncomingHttpHeaders } from 'node:http'
import { Http2ServerRequest, type ServerHttp2Stream } from 'node:http2'
import type { Readable } from 'node:stream'
import { agentGone, SidekeyError } from '../errors.js'
import { h2RequestHead } from '../http/h2-request.js'
import { endedByPeer } from '../http/h2-stream-end.js'
import type { Tunnel } from './tunnel.js'

/**
 * The request object sidekey's HTTP/2 server makes for each stream (the server's
 * `Http2ServerRequest` option), in place of Node's own. It is Node's compatibility request, with:
 * - the head already read as HTTP/1.1 reads it (http/h2-request.ts): `headers` and `rawHeaders` are
 *   the rewritten ones, computed once as the stream arrives, so the stages find the same facts in
 *   the same places as on HTTP/1.1;
 * - the tunnel its connection serves, read from the session;
 * - the session's count of open streams kept up to date (for closing a session idle with no stream
 *   open), with one shared listener rather than a closure and a `once` wrapper per stream.
 *
 * Doing this in the constructor Node calls anyway saves, per stream, a second `stream` listener on
 * the session (an emit with two listeners copies its listener array), a lookup of the tunnel, and
 * redefining `headers` and `rawHeaders` on each request object with Object.defineProperties
 * (which cost more than reading the head itself).
 */

/** What a session's streams need from it: set on the session as it is created (accept/h2-server.ts). */
export interface H2SessionState {
  readonly tunnel: Tunnel
  /** Streams open now (counted from their creation to their close). */
  open: number
}

/** Where the state is kept on a session, and on each of its streams (a stream may outlive `stream.session`). */
export const SESSION_STATE: unique symbol = Symbol('sidekey.h2SessionState')

type WithState = { [SESSION_STATE]?: H2SessionState }

/** Where a stream with a body keeps its request, for `failIfCut`. */
const REQUEST: unique symbol = Symbol('sidekey.h2Request')

type WithRequest = { [REQUEST]?: H2ServerRequest }

/** One HTTP/2 stream's request, as the stages read it. */
export class H2ServerRequest extends Http2ServerRequest {
  // Own fields, shadowing the accessors of Node's class: the stages read `headers` and
  // `rawHeaders` many times per request, and a plain field is the cheapest read there is.
  /** The head's fields as HTTP/1.1 reads them (http/h2-request.ts). */
  override readonly headers: IncomingHttpHeaders
  /** The fields to forward: no pseudo-headers, Host from `:authority`. */
  override readonly rawHeaders: string[]
  /** The `:authority` and `host` fields disagree: the request names two destinations. */
  readonly authorityConflict: boolean
  /** `:method` is not one sidekey forwards (http/h2-request.ts): refused before it is decided. */
  readonly methodRefused: boolean
  /** `:path` holds a byte HTTP/1.1 refuses raw in a target (http/raw-url-bytes.ts): refused before it is decided. */
  readonly pathRefused: boolean
  /** The tunnel (or redirected connection) the stream arrived in; null for a session sidekey did not hand over. */
  readonly tunnel: Tunnel | null

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, options: ConstructorParameters<typeof Readable>[0], rawHeaders: readonly string[]) {
    super(stream, headers, options ?? {}, rawHeaders)
    const head = h2RequestHead(rawHeaders, stream.endAfterHeaders)
    this.headers = head.headers
    this.rawHeaders = head.rawHeaders
    this.authorityConflict = head.authorityConflict
    this.methodRefused = head.methodRefused
    this.pathRefused = head.pathRefused
    const state = (stream.session as WithState | undefined)?.[SESSION_STATE]
    this.tunnel = state?.tunnel ?? null
    if (state !== undefined) {
      state.open++
      ;(stream as WithState)[SESSION_STATE] = state
      stream.on('close', streamClosed)
    }
    // A body cut short must fail, never end: Node's compatibility request ends (push(null)) when its
    // stream closes, reset or not, so a stream the agent reset mid-body (RST_STREAM, or nghttp2's
    // reset of DATA that contradicts content-length) read as a complete body: piped up, an HTTP/1.1
    // upstream got the last chunk (or an empty body with content-length: 0), an HTTP/2 one
    // END_STREAM, and a body read whole for conditions was decided on as if whole. 'aborted' comes
    // before Node ends a stream reset with NO_ERROR; 'close' (prepended: before Node's own listener
    // ends the request) catches a reset after the response had ended.
    if (!stream.endAfterHeaders) {
      ;(stream as unknown as WithRequest)[REQUEST] = this
      stream.once('aborted', failIfCut)
      stream.prependOnceListener('close', failIfCut)
    }
  }

  /**
   * As Node's HTTP/1.1 request does: a request failed with no one listening (a refusal sent before
   * its body was read) is destroyed quietly, not an uncaught 'error'.
   */
  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    callback(this.listenerCount('error') > 0 ? err : null)
  }
}

/**
 * The stream closed (`this`): unless the agent's END_STREAM arrived first (`endedByPeer`), the
 * request body was cut, and its request fails. Either the agent broke HTTP/2 on the stream (nghttp2
 * found DATA that contradicts content-length, and Node destroyed the stream with ERR_HTTP2_ERROR),
 * a malformed request; or the agent reset its stream or closed its connection: it went away, which
 * is never the upstream's failure.
 */
function failIfCut(this: ServerHttp2Stream & WithRequest): void {
  const req = this[REQUEST]
  if (req === undefined || req.destroyed || endedByPeer(this)) return
  req.destroy(
    (this.errored as { code?: string } | null)?.code === 'ERR_HTTP2_ERROR'
      ? new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the HTTP/2 request body broke the protocol (such as DATA that contradicts content-length); its stream was reset and nothing of it was sent as complete')
      : agentGone('the agent reset its HTTP/2 stream (or closed the connection) before the request body ended; nothing of it was sent as complete'),
  )
}

/** A stream's close: one fewer open on its session (`this` is the stream). */
function streamClosed(this: ServerHttp2Stream & WithState): void {
  this[SESSION_STATE]!.open--
}
