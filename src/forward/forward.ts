import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import { pipeline, type Writable } from 'node:stream'
import { H2Response } from '../accept/h2-response.js'
import type { AgentResponse } from '../http/agent-response.js'
import { chainFilters, type ChunkFilter } from '../http/chunk-filter.js'
import type { ResponsePlan } from '../guard/response-guard.js'
import type { Dispatcher } from 'undici'
import { undiciErrors } from '../http/undici.js'
import { agentGone, SidekeyError } from '../errors.js'
import { requestHasBody } from '../http/message.js'
import { hostHeader } from '../policy/host.js'
import { refuseTransferCodings, responseWithoutHopByHop } from '../inject/hop-by-hop.js'
import { OutgoingBody } from './outgoing-body.js'
import type { CheckedAddress } from './ssrf.js'
import type { UpstreamPools } from './upstream.js'

/** Everything needed to send one request upstream. */
export interface ForwardPlan {
  readonly scheme: 'http' | 'https'
  readonly host: string
  readonly port: number
  readonly to: CheckedAddress
  readonly method: string
  /** Origin-form path with query, credential already injected. */
  readonly path: string
  /** Raw headers (name, value, ...), hop-by-hop removed, credential injected, no Host. */
  readonly headers: string[]
  /**
   * Filters the request body passes on its way up, in order (outbound secret detection, re-signing
   * of chunk-signed uploads); a refusal (a throw) in any of them aborts the request.
   */
  readonly bodyFilters?: readonly ChunkFilter[]
  /** The body, already read (and inspected) by the guard; sent instead of the request stream. */
  readonly body?: Buffer | null
  /** Scrubbing and pin checks on the response (its stages sit between the upstream and the agent). */
  readonly response?: ResponsePlan | null
  /**
   * An answer with this status is not relayed: the exchange is dropped before anything reaches the
   * agent and `result.discarded` says so, for the caller to send the request once more (a 401 to a
   * delegated grant's token, retried once after a refresh). Only for a body the caller still holds.
   */
  readonly discardStatus?: number
  /**
   * The agent's side carries trailer fields (HTTP/2): the upstream's response trailers (gRPC's
   * `grpc-status`, `grpc-message`) are passed on, and a `te: trailers` the agent sent goes up.
   */
  readonly trailers?: boolean
  /** Whose upstream connections this request may use: the caller's workload (upstream.ts). */
  readonly partition?: string
  /** Aborted when the agent has gone (its connection or stream closed before the answer was whole). */
  readonly agentGone?: AbortSignal
  /** Offer HTTP/2 to the upstream in ALPN (a route's `http2: false` turns it off). */
  readonly http2?: boolean
}

/** What the forward did, for the audit line. */
export interface ForwardResult {
  status: number
  bytesUp: number
  bytesDown: number
  /** Milliseconds from sending to the response headers. */
  firstByteMs: number
  /** The status of an answer dropped unrelayed (`discardStatus`), if one was. */
  discarded?: number
  /** The response trailers passed on to the agent, when there were any. */
  trailers?: Record<string, string | string[]>
}

/**
 * Send `req` upstream as planned and stream the answer back to `res`, chunk by chunk with
 * backpressure both ways (server-sent events arrive as they are produced). Redirects are returned
 * to the agent, never followed (docs/architecture.md, rule 3). Errors before the response starts are thrown as
 * SidekeyErrors for the caller to answer; a failure mid-body ends the agent's response abruptly,
 * which is the only honest signal once a status has been sent.
 */
export function forward(pools: UpstreamPools, plan: ForwardPlan, req: IncomingMessage, res: AgentResponse, result: ForwardResult): Promise<void> {
  return new Promise((resolve, reject) => new Forwarding(plan, req, res, result, resolve, reject).start(pools))
}

/** The answer's head while it waits for the first bytes of its body (or its end) to go out with. */
interface HeldHead {
  readonly status: number
  readonly headers: Record<string, string | string[]>
  /** A gRPC Trailers-Only answer: the head must end the stream. */
  readonly trailersOnly: boolean
}

/**
 * One request forwarded: the handler the upstream reports the answer to (undici's dispatch
 * handler interface, which `h2-sessions.ts` speaks too), writing it onto the agent's response.
 * The dispatch API streams each chunk straight to the agent, without a promise and a body stream
 * per request (request() cost measurably more CPU and garbage per request); and one object per
 * request holds what the callbacks share, rather than a closure each.
 */
class Forwarding implements Dispatcher.DispatchHandler {
  readonly #plan: ForwardPlan
  readonly #req: IncomingMessage
  readonly #res: AgentResponse
  readonly #result: ForwardResult
  readonly #resolve: () => void
  readonly #reject: (err: unknown) => void
  readonly #started = performance.now()
  #body: OutgoingBody | Buffer | null = null
  /** A body filter's refusal, or the agent's body failing: what the request failed of, whatever the upstream side reports. */
  #refused: unknown = null
  #controller: Dispatcher.DispatchController | null = null
  #settled = false
  /** Where upstream bytes are written: the agent's response, or the first response stage. */
  #out: Writable | AgentResponse
  /** Inline response filter (scrubbing, pin), when the body needs no decoding. */
  #filter: ChunkFilter | null = null
  /** Set once the agent has gone: the upstream exchange is stopped, now or as soon as it starts. */
  #gone: Error | null = null
  /**
   * The answer's head while it waits for the first bytes of its body (or its end) to go out with:
   * until then nothing has reached the agent, so a failure is answered with a refusal.
   */
  #head: HeldHead | null = null

  constructor(plan: ForwardPlan, req: IncomingMessage, res: AgentResponse, result: ForwardResult, resolve: () => void, reject: (err: unknown) => void) {
    this.#plan = plan
    this.#req = req
    this.#res = res
    this.#result = result
    this.#resolve = resolve
    this.#reject = reject
    this.#out = res
  }

  /** Send the request on its way (or settle at once, the agent already gone). */
  start(pools: UpstreamPools): void {
    const plan = this.#plan
    const req = this.#req
    if (plan.body != null) {
      this.#body = plan.body
      this.#result.bytesUp += plan.body.length
    } else if (requestHasBody(req.headers)) {
      // Every filter runs as a plain call on each chunk as it is read, and the bytes sent are
      // counted there: no stream stage and no pipe per request (forward/outgoing-body.ts).
      const result = this.#result
      this.#body = new OutgoingBody(
        req,
        chainFilters(plan.bodyFilters ?? []),
        (n) => (result.bytesUp += n),
        (err, by) => {
          // A filter's refusal is what the request failed of. A request that fails without ending
          // (the agent gone mid-body, an HTTP/2 stream reset: accept/h2-server-request.ts) fails
          // the upload, and that failure is the agent's, whatever the upstream side reports of it.
          if (by === 'filter') this.#refused = err
          else this.#refused ??= err instanceof SidekeyError ? err : agentGone('the agent closed the connection before its request body ended; nothing of it was sent as complete', err)
        },
      )
    }
    this.#res.on('close', this.#onClose)
    const headers = [...plan.headers, 'host', hostHeader(plan, plan.scheme)]
    // `te: trailers` is the one TE value HTTP/2 allows, and gRPC servers may insist on it.
    if (plan.trailers === true && /\btrailers\b/i.test(String(req.headers.te ?? ''))) headers.push('te', 'trailers')
    // The agent may have gone during an earlier stage, its response's 'close' already emitted
    // (an HTTP/2 stream reset while its credential was obtained): nothing goes up.
    if (plan.agentGone?.aborted === true) {
      this.#gone = agentGoneError()
      this.#settle(this.#gone)
      return
    }
    try {
      pools.get(plan.scheme, plan.host, plan.port, plan.to, plan.http2 ?? true, plan.partition ?? '').dispatch({ method: plan.method, path: plan.path, headers, body: this.#body }, this)
    } catch (err) {
      this.#settle(err)
    }
  }

  onRequestStart(c: Dispatcher.DispatchController): void {
    this.#controller = c
    if (this.#gone !== null) c.abort(this.#gone)
  }

  onResponseStart(c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    const plan = this.#plan
    const res = this.#res
    const result = this.#result
    result.firstByteMs = performance.now() - this.#started
    // An interim answer (102 Processing, 103 Early Hints) comes before the final one: it is not
    // relayed, and the final one follows (found by a red-team run: a 103 was written as the final
    // head, and the real answer was lost).
    if (statusCode >= 100 && statusCode < 200 && statusCode !== 101) return
    if (statusCode === plan.discardStatus) {
      result.discarded = statusCode
      // Settled first: aborting reports an error synchronously, which must not become the outcome.
      this.#settle()
      c.abort(Object.assign(new Error('answer dropped to send the request again'), { code: 'ABORT_ERR' }))
      return
    }
    let shaped = responseWithoutHopByHop(headers)
    try {
      refuseUndefinedStatus(statusCode, plan)
      refuseTransferCodings(headers)
    } catch (err) {
      c.abort(err as Error)
      this.#settle(err)
      return
    }
    if (plan.response) {
      let stages
      try {
        ;({ headers: shaped, stages, filter: this.#filter } = plan.response.begin(statusCode, shaped))
      } catch (err) {
        // Refused before anything was sent: the agent gets the refusal, not the response.
        c.abort(err as Error)
        this.#settle(err)
        return
      }
      if (stages.length > 0) {
        this.#out = stages[0]!
        // A failing stage (a pin mismatch) destroys the agent's response: cut, never complete.
        pipeline([...stages, res instanceof H2Response ? res.writable() : (res as unknown as Writable)], (err) => {
          if (err) this.#controller?.abort(err)
          this.#settle(err ?? undefined)
        })
      }
    }
    result.status = statusCode
    const head = (this.#head = { status: statusCode, headers: shaped, trailersOnly: plan.trailers === true && shaped['grpc-status'] !== undefined })
    // A streamed answer (no Content-Length: SSE, chunked, one decoded in stages) may be a while
    // producing its first event: its head goes now. A sized one goes with its first bytes, in
    // one write, so an upstream that fails before them (its connection lost, an HTTP/2 stream
    // reset for DATA beyond its content-length) is a 502 saying why: a head written ahead
    // of it would leave an HTTP/1.1 agent only a closed connection, without a status.
    if (!head.trailersOnly && (shaped['content-length'] === undefined || this.#out !== res)) {
      this.#sendHead()
      res.flushHeaders()
    }
    this.#out.on('drain', this.#onDrain)
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#result.bytesDown += chunk.length
    let pass: Buffer | null
    try {
      pass = this.#filter === null ? chunk : this.#filter.push(chunk)
    } catch (err) {
      // A filter refused the body mid-way (a compressed message it cannot scrub): settled with
      // that refusal first, then the upstream stopped, and the agent's response cut if its head
      // went out (refused, if not).
      this.#settle(err)
      c.abort(err as Error)
      if (this.#res.headersSent) cut(this.#res, err as Error)
      return
    }
    if (pass === null || pass.length === 0) return
    this.#sendHead()
    if (!this.#out.write(pass)) c.pause()
  }

  onResponseEnd(c: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    const res = this.#res
    if (this.#plan.trailers === true) this.#passTrailers(h2Trailers(c) ?? trailers)
    if (this.#out !== res) {
      this.#out.end()
      return
    }
    const filter = this.#filter
    if (filter !== null) {
      let last: Buffer | null
      try {
        last = filter.end()
      } catch (err) {
        // A pin mismatch: cut the response before its last bytes (refused, if none went out).
        if (res.headersSent) cut(res, err as Error)
        this.#settle(err)
        return
      }
      if (last !== null && last.length > 0) {
        this.#sendHead()
        res.write(last)
      }
    }
    this.#sendHead()
    res.end(this.#onEnded)
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    // Once the status went out, cutting the response is the only honest signal left.
    if (this.#res.headersSent && !this.#res.destroyed) cut(this.#res, err)
    this.#settle(err)
  }

  /** The agent went away: stop the upstream exchange too. */
  readonly #onClose = (): void => {
    // A response reads as finished once its HTTP/2 stream is reset, ended or not: only an ended
    // one that finished was answered whole.
    if (this.#res.writableFinished && this.#res.writableEnded) return
    const gone = (this.#gone = agentGoneError())
    // Until the upstream starts the request (a connection being dialled) there is no controller to
    // abort: onRequestStart aborts it then. (Before, the request went up anyway, and its answer,
    // written to a closed response, paused the upstream connection for good: a connection leaked
    // per request, and shutdown waited on it.)
    this.#controller?.abort(gone)
    this.#settle(gone)
  }

  readonly #onDrain = (): void => this.#controller?.resume()

  readonly #onEnded = (): void => this.#settle()

  #settle(err?: unknown): void {
    if (this.#settled) return
    this.#settled = true
    this.#res.off('close', this.#onClose)
    this.#out.off('drain', this.#onDrain)
    if (err === undefined) this.#resolve()
    // A request that failed with its own refusal (an HTTP/2 body that broke the protocol:
    // accept/h2-server-request.ts) may close its response before its error is emitted.
    else this.#reject(upstreamFailure(this.#refused ?? (this.#req.errored instanceof SidekeyError ? this.#req.errored : null) ?? err, this.#plan))
  }

  #sendHead(): void {
    const head = this.#head
    if (head === null) return
    const res = this.#res
    if (head.trailersOnly) {
      // A gRPC Trailers-Only answer (its status in the head, no body): on HTTP/2 the head must
      // end the stream, which it does when it goes out with the end (gRPC PROTOCOL-HTTP2.md).
      // writeHead would send it at once, without END_STREAM, and the client would see no status.
      res.statusCode = head.status
      for (const name in head.headers) res.setHeader(name, head.headers[name]!)
    } else res.writeHead(head.status, head.headers)
    this.#head = null
  }

  /** Response trailers, hop-by-hop fields removed and echoed secrets masked, onto the agent's stream. */
  #passTrailers(trailers: Record<string, string | string[] | undefined>): void {
    let shaped = responseWithoutHopByHop(trailers)
    if (Object.keys(shaped).length === 0) return
    if (this.#plan.response) shaped = this.#plan.response.trailers(shaped)
    this.#result.trailers = shaped
    this.#res.addTrailers(shaped)
  }
}

/**
 * The trailers of an HTTP/2 upstream response. undici (7.30) hands them to `onResponseEnd` through
 * a parser for HTTP/1.1's raw name/value list, which turns HTTP/2's header object into `{}`; the
 * object itself is on the controller as `rawTrailers`. Null for HTTP/1.1 (a list, parsed right).
 */
function h2Trailers(controller: Dispatcher.DispatchController): Record<string, string | string[] | undefined> | null {
  const raw = (controller as { rawTrailers?: unknown }).rawTrailers
  return raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, string | string[] | undefined>) : null
}

/**
 * End the agent's response abruptly, the one honest signal once its status went out. HTTP/1.1: the
 * connection closes. HTTP/2: the stream is reset with INTERNAL_ERROR, which destroying with an
 * error sends; destroying without one sends RST_STREAM with NO_ERROR, which Node's HTTP/2 client
 * (and others) read as the end of a complete response. (Not `stream.close(code)`: it ends the
 * writable side first, an END_STREAM before the reset.)
 */
function cut(res: AgentResponse, err: Error): void {
  if (res instanceof H2Response) res.destroy(err)
  else res.destroy()
}

/** What the upstream exchange is aborted with, and fails with, when the agent has gone. */
function agentGoneError(): SidekeyError {
  return agentGone('the agent closed the connection (or reset its stream) before the answer was complete; the upstream exchange was stopped')
}

/**
 * Refuse a status outside 100-599, which HTTP does not define (RFC 9110 section 15): Node's HTTP/1.1
 * client takes up to 999 and its HTTP/2 server refuses to send over 599, so an agent would get it
 * on one protocol and a reset on the other. Every agent gets this refusal instead, before any byte.
 */
function refuseUndefinedStatus(status: number, plan: Pick<ForwardPlan, 'host' | 'port'>): void {
  if (status >= 100 && status <= 599) return
  throw new SidekeyError('SIDEKEY_ERR_UPSTREAM_RESET', `${plan.host}:${plan.port} answered with status ${status}, which HTTP does not define (100-599); nothing of the answer was relayed`)
}

/** Map an undici or socket error to the refusal the agent sees. Never includes the request path. */
export function upstreamFailure(err: unknown, plan: Pick<ForwardPlan, 'host' | 'port'>): SidekeyError {
  if (err instanceof SidekeyError) return err
  const where = `${plan.host}:${plan.port}`
  const code = (err as { code?: string }).code ?? ''
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError || err instanceof undiciErrors.ConnectTimeoutError || code === 'ETIMEDOUT') {
    return new SidekeyError('SIDEKEY_ERR_UPSTREAM_TIMEOUT', `${where} did not answer in time`, { cause: err })
  }
  if (err instanceof undiciErrors.RequestContentLengthMismatchError) {
    return new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the request body does not match its Content-Length', { cause: err })
  }
  if (/CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_|ERR_TLS|ERR_SSL|EPROTO/.test(code)) {
    return new SidekeyError('SIDEKEY_ERR_UPSTREAM_CONNECT', `TLS with ${where} failed (${code}): its certificate is not trusted for this name`, { cause: err })
  }
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new SidekeyError('SIDEKEY_ERR_UPSTREAM_CONNECT', `cannot connect to ${where} (${code})`, { cause: err })
  }
  // nghttp2 found the upstream's frames invalid for the stream and reset it: Node reports its error
  // code as ERR_HTTP2_ERROR, and the connection may well be fine.
  if (code === 'ERR_HTTP2_ERROR') {
    return new SidekeyError('SIDEKEY_ERR_UPSTREAM_RESET', `${where} sent an answer that breaks HTTP/2 (such as DATA beyond its content-length), and its stream was reset`, { cause: err })
  }
  // The one exchange sidekey aborts is the one whose agent has gone.
  if (code === 'ABORT_ERR' || (err as Error).name === 'AbortError') {
    return agentGone('the agent closed the connection before the answer was complete', err)
  }
  return new SidekeyError('SIDEKEY_ERR_UPSTREAM_RESET', `${where} closed the connection before a complete answer${code ? ` (${code})` : ''}`, { cause: err })
}
