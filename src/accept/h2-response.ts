import type { OutgoingHttpHeaders } from 'node:http'
import type { ServerHttp2Stream } from 'node:http2'
import { Writable } from 'node:stream'
import type { AgentResponse } from '../http/agent-response.js'

/** A response head or trailer block as Node's HTTP/2 core takes it. */
type Fields = Record<string, number | string | string[]>

/** Where each stream keeps its response, for the one 'wantTrailers' listener all streams share. */
const RESPONSE: unique symbol = Symbol('sidekey.h2Response')

type WithResponse = { [RESPONSE]?: H2Response }

/**
 * The answer to one agent HTTP/2 stream, written straight onto the stream with Node's core API:
 * the members of Node's HTTP/1.1 response that the stages use (http/agent-response.ts), and no
 * more. It replaces Node's compatibility response, which per stream is a legacy Stream with its
 * state object and five listeners on the stream; this one is a plain object with one listener
 * (shared by every stream), whose 'close' and 'drain' are the stream's own events.
 *
 * What it keeps of the compatibility response, on purpose:
 * - the head goes out with the first `write` or `end` (or `writeHead`, `flushHeaders`);
 * - a head sent before the end waits for trailers (`waitForTrailers`), so the upstream's trailers
 *   (gRPC's `grpc-status`) can follow the body; an `end` with nothing written sends the head alone
 *   with END_STREAM, which is gRPC's Trailers-Only form;
 * - `destroy(err)` resets the stream with INTERNAL_ERROR (Node's core does that for an error),
 *   never NO_ERROR, which clients read as a complete answer.
 */
export class H2Response implements AgentResponse {
  /** The agent's stream. */
  readonly stream: ServerHttp2Stream
  statusCode = 200
  #fields: Fields = Object.create(null) as Fields
  #trailers: Fields | null = null
  #ending = false

  constructor(stream: ServerHttp2Stream) {
    this.stream = stream
    ;(stream as WithResponse)[RESPONSE] = this
  }

  get headersSent(): boolean {
    return this.stream.headersSent
  }

  get writableEnded(): boolean {
    return this.#ending
  }

  get writableFinished(): boolean {
    return this.stream.writableFinished
  }

  get destroyed(): boolean {
    return this.stream.destroyed
  }

  setHeader(name: string, value: number | string | readonly string[]): this {
    if (this.stream.headersSent) throw Object.assign(new Error('Response has already been initiated.'), { code: 'ERR_HTTP2_HEADERS_SENT' })
    this.#fields[name.toLowerCase()] = value as number | string | string[]
    return this
  }

  getHeader(name: string): number | string | string[] | undefined {
    return this.#fields[name.toLowerCase()]
  }

  /**
   * Send the head: `status` and the fields set so far, with `headers` over them. HTTP/2 has no
   * reason phrase. The fields are made fit for HTTP/2 first (`h2Fields`), and kept only once the
   * head went out: a head Node refuses leaves the response as it was, so a refusal can still be
   * written in its place.
   */
  writeHead(status: number, reasonOrHeaders?: string | OutgoingHttpHeaders, headers?: OutgoingHttpHeaders): this {
    const stream = this.stream
    if (stream.destroyed || stream.closed) return this
    const given = typeof reasonOrHeaders === 'object' ? reasonOrHeaders : headers
    const next = Object.assign(Object.create(null) as Fields, this.#fields)
    if (given !== undefined) for (const name in given) {
      const value = given[name]
      if (value !== undefined) next[name.toLowerCase()] = value
    }
    const fields = h2Fields(next)
    fields[':status'] = status
    // Ending with nothing written: the head alone ends the stream. Otherwise the end waits for
    // trailers, sent (or none) on 'wantTrailers'.
    if (this.#ending) {
      stream.respond(fields, { endStream: true })
      // No 'wantTrailers' will come to take the response off the stream (`sendTrailers`).
      ;(stream as WithResponse)[RESPONSE] = undefined
    } else {
      stream.respond(fields, { waitForTrailers: true })
      // 'wantTrailers' comes once per stream: `on`, without the wrapper `once` makes per call.
      stream.on('wantTrailers', sendTrailers)
    }
    this.#fields = fields
    this.statusCode = status
    return this
  }

  flushHeaders(): void {
    if (!this.stream.headersSent) this.writeHead(this.statusCode)
  }

  write(chunk: Buffer | string): boolean {
    const stream = this.stream
    if (stream.destroyed) return false
    if (this.#ending) {
      stream.destroy(Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' }))
      return false
    }
    if (!stream.headersSent) this.writeHead(this.statusCode)
    return stream.write(chunk)
  }

  end(chunkOrCallback?: Buffer | string | (() => void), callback?: () => void): this {
    const stream = this.stream
    const chunk = typeof chunkOrCallback === 'function' ? undefined : chunkOrCallback
    const done = typeof chunkOrCallback === 'function' ? chunkOrCallback : callback
    if (this.#ending || stream.destroyed || stream.closed) {
      if (done !== undefined) process.nextTick(done)
      return this
    }
    if (chunk !== undefined) this.write(chunk)
    this.#ending = true
    if (done !== undefined) {
      // Node's head for 204, 304 and HEAD ends the stream by itself: its finish may have passed.
      if (stream.writableFinished) process.nextTick(done)
      else stream.once('finish', done)
    }
    if (!stream.headersSent) this.writeHead(this.statusCode)
    if (!stream.writableEnded) stream.end()
    return this
  }

  addTrailers(headers: OutgoingHttpHeaders | readonly [string, string][]): void {
    const trailers = (this.#trailers ??= Object.create(null) as Fields)
    if (Array.isArray(headers)) for (const [name, value] of headers as readonly [string, string][]) trailers[name.toLowerCase()] = value
    else for (const [name, value] of Object.entries(headers)) if (value !== undefined) trailers[name.toLowerCase()] = value
  }

  destroy(err?: Error): this {
    this.stream.destroy(err)
    return this
  }

  on(event: 'close' | 'drain', listener: () => void): this {
    this.stream.on(event, listener)
    return this
  }

  once(event: 'close' | 'drain', listener: () => void): this {
    this.stream.once(event, listener)
    return this
  }

  off(event: 'close' | 'drain', listener: () => void): this {
    this.stream.off(event, listener)
    return this
  }

  /** The trailers to send, or none; read once the body has gone (`sendTrailers`). */
  get pendingTrailers(): Fields | null {
    return this.#trailers
  }

  /**
   * A Writable over this response, for a `pipeline` of response stages to end in: each chunk is
   * written here with backpressure, its end ends the response, and its failure resets the stream.
   */
  writable(): Writable {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        if (this.write(chunk)) done()
        else this.stream.once('drain', () => done())
      },
      final: (done) => {
        this.end(() => done())
      },
      destroy: (err, done) => {
        if (err !== null) this.destroy(err)
        done(err)
      },
    })
    // A stream reset under the pipeline fails it, rather than leaving it waiting for a drain.
    this.stream.once('close', () => {
      if (!sink.writableFinished) sink.destroy(new Error('the HTTP/2 stream closed before the answer was complete'))
    })
    return sink
  }
}

/** The body has gone: send the response's trailers, or an empty end (`this` is the stream). */
function sendTrailers(this: ServerHttp2Stream & WithResponse): void {
  const response = this[RESPONSE]
  // Let go of the response: Node's stream object outlives its close (accept/h2-server-request.ts).
  this[RESPONSE] = undefined
  const trailers = response?.pendingTrailers ?? null
  try {
    this.sendTrailers(trailers === null ? {} : h2Fields(trailers, true))
  } catch {
    // Trailers Node will not send (the stream already ended them): the answer is cut, not complete.
    this.close(NGHTTP2_INTERNAL_ERROR)
  }
}

const NGHTTP2_INTERNAL_ERROR = 2

/**
 * Fields HTTP/2 forbids in a response (RFC 9113 section 8.2.2, and Node's list): connection-specific
 * ones, which an HTTP/1.1 upstream may send and an HTTP/2 one may pass on (`HTTP2-Settings`).
 */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'te'])

/**
 * Fields Node's HTTP/2 core takes once only (its `kSingleValueHeaders`). An HTTP/1.1 upstream
 * sends some of them twice often enough (a CDN and an origin each adding `X-Content-Type-Options`).
 */
const SINGLE_VALUE = new Set([
  'access-control-allow-credentials', 'access-control-max-age', 'access-control-request-method', 'age', 'authorization', 'content-encoding', 'content-language', 'content-length',
  'content-location', 'content-md5', 'content-range', 'content-type', 'date', 'dnt', 'etag', 'expires', 'from', 'host', 'if-match', 'if-modified-since', 'if-none-match', 'if-range',
  'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'range', 'referer', 'retry-after', 'tk', 'upgrade-insecure-requests', 'user-agent', 'x-content-type-options',
])

/**
 * `fields` as HTTP/2 can carry them: without connection-specific fields (and, in trailers, without
 * pseudo-headers), and with the first value of a field Node takes once only. Before, one such field
 * from an upstream made Node refuse the head, the refusal written after it failed the same way, and
 * the throw took sidekey down for every agent (found by a red-team run: `Date` twice, or
 * `HTTP2-Settings`, from an upstream the agent chose).
 */
function h2Fields(fields: Fields, trailers = false): Fields {
  const out = Object.create(null) as Fields
  for (const name in fields) {
    if (CONNECTION_SPECIFIC.has(name) || (trailers && name.startsWith(':'))) continue
    const value = fields[name]!
    out[name] = Array.isArray(value) && SINGLE_VALUE.has(name) ? value[0]! : value
  }
  return out
}
