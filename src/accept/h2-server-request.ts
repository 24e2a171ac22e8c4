import type { IncomingHttpHeaders } from 'node:http'
import { Http2ServerRequest, type ServerHttp2Stream } from 'node:http2'
import type { Readable } from 'node:stream'
import { h2RequestHead } from '../http/h2-request.js'
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
  /** The tunnel (or redirected connection) the stream arrived in; null for a session sidekey did not hand over. */
  readonly tunnel: Tunnel | null

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, options: ConstructorParameters<typeof Readable>[0], rawHeaders: readonly string[]) {
    super(stream, headers, options ?? {}, rawHeaders)
    const head = h2RequestHead(rawHeaders, stream.endAfterHeaders)
    this.headers = head.headers
    this.rawHeaders = head.rawHeaders
    this.authorityConflict = head.authorityConflict
    this.methodRefused = head.methodRefused
    const state = (stream.session as WithState | undefined)?.[SESSION_STATE]
    this.tunnel = state?.tunnel ?? null
    if (state !== undefined) {
      state.open++
      ;(stream as WithState)[SESSION_STATE] = state
      stream.on('close', streamClosed)
    }
  }
}

/** A stream's close: one fewer open on its session (`this` is the stream). */
function streamClosed(this: ServerHttp2Stream & WithState): void {
  this[SESSION_STATE]!.open--
}
