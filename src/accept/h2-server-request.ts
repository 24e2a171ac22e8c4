import type { IncomingHttpHeaders } from 'node:http'
import type { ServerHttp2Stream } from 'node:http2'
import { Readable } from 'node:stream'
import { agentGone, SidekeyError } from '../errors.js'
import { h2RequestHead } from '../http/h2-request.js'
import { endedByPeer } from '../http/h2-stream-end.js'
import type { Tunnel } from './tunnel.js'

/**
 * One HTTP/2 stream's request, as the stages read a request: the members of Node's HTTP/1.1
 * request they use, over Node's core stream API (the server's 'stream' event), in place of Node's
 * compatibility request. It is:
 * - the head already read as HTTP/1.1 reads it (http/h2-request.ts): `headers` and `rawHeaders` are
 *   the rewritten ones, computed once as the stream arrives, so the stages find the same facts in
 *   the same places as on HTTP/1.1; `method` and `url` are `:method` and `:path`;
 * - the body as a Readable fed from the stream's DATA frames, with backpressure (the stream is
 *   paused while the request's buffer is full), and the trailer fields that followed it;
 * - the tunnel its connection serves, read from the session;
 * - the session's count of open streams kept up to date (for closing a session idle with no stream
 *   open).
 *
 * The stream's events reach it through listeners every stream shares (`this` is the stream), not
 * closures: two on a stream without a body, five with one (six once it is read). Node's
 * compatibility request added eight, and a state object.
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

/** Where each stream keeps its request, for the listeners every stream shares. */
const REQUEST: unique symbol = Symbol('sidekey.h2Request')

type Stream = ServerHttp2Stream & WithState & { [REQUEST]?: H2ServerRequest }

/** One HTTP/2 stream's request, as the stages read it. */
export class H2ServerRequest extends Readable {
  readonly stream: ServerHttp2Stream
  /** `:method`, as sent. */
  readonly method: string | undefined
  /** `:path`, as sent (none for CONNECT). */
  readonly url: string | undefined
  /** The head's fields as HTTP/1.1 reads them (http/h2-request.ts). */
  readonly headers: IncomingHttpHeaders
  /** The fields to forward: no pseudo-headers, Host from `:authority`. */
  readonly rawHeaders: string[]
  /** Trailer fields that followed the body, as Node's HTTP/1.1 request has them (refused: accept/http-limits.ts). */
  readonly trailers: IncomingHttpHeaders = {}
  readonly rawTrailers: string[] = []
  readonly httpVersionMajor = 2
  readonly httpVersionMinor = 0
  readonly httpVersion = '2.0'
  /** The `:authority` and `host` fields disagree: the request names two destinations. */
  readonly authorityConflict: boolean
  /** `:method` is not one sidekey forwards (http/h2-request.ts): refused before it is decided. */
  readonly methodRefused: boolean
  /** `:path` holds a byte HTTP/1.1 refuses raw in a target (http/raw-url-bytes.ts): refused before it is decided. */
  readonly pathRefused: boolean
  /** The tunnel (or redirected connection) the stream arrived in; null for a session sidekey did not hand over. */
  readonly tunnel: Tunnel | null
  /** The body was read whole, or the stream closed. */
  #over = false
  /** Reading the stream's DATA has begun. */
  #reading = false

  constructor(stream: ServerHttp2Stream, rawHeaders: readonly string[]) {
    // Not destroyed at its end: a request, like Node's, stays readable for its 'close' (below).
    super({ autoDestroy: false })
    this.stream = stream
    const head = h2RequestHead(rawHeaders, stream.endAfterHeaders)
    this.method = head.method
    this.url = head.path
    this.headers = head.headers
    this.rawHeaders = head.rawHeaders
    this.authorityConflict = head.authorityConflict
    this.methodRefused = head.methodRefused
    this.pathRefused = head.pathRefused
    const state = (stream.session as WithState | undefined)?.[SESSION_STATE]
    this.tunnel = state?.tunnel ?? null
    const s = stream as Stream
    s[REQUEST] = this
    if (state !== undefined) {
      state.open++
      s[SESSION_STATE] = state
    }
    // A stream error (the peer's reset, a frame nghttp2 refused) is reported by its close below;
    // without a listener it would be thrown.
    stream.on('error', ignore)
    // Prepended: the request fails or ends before anything else hears of the close (the response's
    // listeners, which may settle the exchange).
    stream.prependListener('close', onStreamClose)
    if (stream.endAfterHeaders) {
      this.#over = true
      this.push(null)
      return
    }
    stream.on('trailers', onStreamTrailers)
    stream.on('end', onStreamEnd)
    // 'aborted' comes before Node ends a stream reset with NO_ERROR (see `failIfCut`).
    stream.once('aborted', onStreamAborted)
  }

  /** Whether the body has all arrived (or never will), as Node's HTTP/1.1 request says. */
  get complete(): boolean {
    return this.#over || this.stream.destroyed
  }

  /** Read the stream's DATA on demand: the first read starts it, later ones resume a paused stream. */
  override _read(): void {
    if (this.#over) return
    if (!this.#reading) {
      this.#reading = true
      this.stream.on('data', onStreamData)
    } else this.stream.resume()
  }

  /**
   * As Node's HTTP/1.1 request does: a request failed with no one listening (a refusal sent before
   * its body was read) is destroyed quietly, not an uncaught 'error'.
   */
  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    callback(this.listenerCount('error') > 0 ? err : null)
  }

  /**
   * The stream closed before the body ended: unless the agent's END_STREAM arrived first
   * (`endedByPeer`), the body was cut, and the request fails, never ends. Either the agent broke
   * HTTP/2 on the stream (nghttp2 found DATA that contradicts content-length, and Node destroyed
   * the stream with ERR_HTTP2_ERROR), a malformed request; or the agent reset its stream or closed
   * its connection: it went away, which is never the upstream's failure. (Node ends a stream's
   * readable side on any close, reset or not, so a stream reset mid-body would read as a complete
   * body: piped up, an HTTP/1.1 upstream got the last chunk, an HTTP/2 one END_STREAM.)
   */
  failIfCut(): void {
    const stream = this.stream
    if (this.destroyed || this.#over || endedByPeer(stream)) return
    this.#over = true
    this.destroy(
      (stream.errored as { code?: string } | null)?.code === 'ERR_HTTP2_ERROR'
        ? new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the HTTP/2 request body broke the protocol (such as DATA that contradicts content-length); its stream was reset and nothing of it was sent as complete')
        : agentGone('the agent reset its HTTP/2 stream (or closed the connection) before the request body ended; nothing of it was sent as complete'),
    )
  }

  /** The agent's END_STREAM: the body is whole. */
  bodyEnded(): void {
    if (this.#over) return
    this.#over = true
    this.push(null)
  }

  /** The stream closed: a body cut short fails; the request is over, and says so with 'close'. */
  streamClosed(): void {
    this.failIfCut()
    if (!this.#over) this.bodyEnded()
    // A body no one read (a refusal sent before it) is let go, as Node's HTTP/1.1 request does.
    if (!this.#reading && !this.destroyed) this.resume()
    this.emit('close')
  }
}

function ignore(): void {}

// The stream's listeners, shared by every stream (`this` is the stream).
// After the close the request is gone from the stream (`onStreamClose`): nothing is read then.
function onStreamData(this: Stream, chunk: Buffer): void {
  const req = this[REQUEST]
  if (req !== undefined && !req.push(chunk)) this.pause()
}

function onStreamEnd(this: Stream): void {
  this[REQUEST]?.bodyEnded()
}

function onStreamTrailers(this: Stream, trailers: IncomingHttpHeaders, _flags: number, rawTrailers: string[]): void {
  const req = this[REQUEST]
  if (req === undefined) return
  Object.assign(req.trailers, trailers)
  req.rawTrailers.push(...rawTrailers)
}

function onStreamAborted(this: Stream): void {
  this[REQUEST]?.failIfCut()
}

function onStreamClose(this: Stream): void {
  const state = this[SESSION_STATE]
  if (state !== undefined) state.open--
  const req = this[REQUEST]
  // The closed stream lets go of the request (and through it the exchange): Node's stream object
  // outlives its close by a while, and whatever it still points to is copied by each young-
  // generation collection meanwhile, then promoted (docs/benchmarks.md, eighth session on #15).
  this[REQUEST] = undefined
  req?.streamClosed()
}
