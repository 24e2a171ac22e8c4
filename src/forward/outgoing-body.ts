import { PassThrough, type Readable, type Writable } from 'node:stream'
import type { ChunkFilter } from '../http/chunk-filter.js'

/**
 * Filtered bytes held for an upstream not there yet (a connection being dialled) before the agent's
 * body is paused: about what one stream stage would have buffered.
 */
const HOLD_LIMIT = 64 * 1024

/** Where a body keeps its OutgoingBody: on its source and on its sink, so their listeners need no closure. */
const BODY: unique symbol = Symbol('sidekey.outgoingBody')

type Carrying = { [BODY]?: OutgoingBody }

/** Why a body failed: a filter refused it, or the agent's body itself failed (the agent gone, a broken stream). */
export type BodyFailureSource = 'filter' | 'agent'

/**
 * A request body on its way up: the agent's body read chunk by chunk as it arrives, passed through
 * the body filters (a throw is a refusal), counted, and written to what sends it upstream: an
 * HTTP/2 stream itself (`sendTo`), or a stream undici reads on HTTP/1.1 (`readable`).
 *
 * Reading starts at once, as a pipe would, so a refusal found while the request waits for a
 * connection fails it before anything goes up (`failure`); what is read before the upstream is
 * there is held, HOLD_LIMIT at most, then the agent's body is paused until it is.
 *
 * Plain calls rather than a Transform and two pipes: on HTTP/2 a gRPC call's body used to cost a
 * Duplex, two pipe() set-ups with their listeners, and a few ticks per call (docs/benchmarks.md).
 */
export class OutgoingBody {
  readonly #source: Readable
  readonly #filter: ChunkFilter | null
  readonly #counted: (n: number) => void
  readonly #failed: (err: Error, by: BodyFailureSource) => void
  #sink: Writable | null = null
  #onSinkFailure: ((err: Error) => void) | null = null
  /** Filtered chunks read before the sink was attached; null once it is. */
  #held: Buffer[] | null = []
  #heldBytes = 0
  /** The agent's body ended and the filters ended: nothing more will be written. */
  #ended = false
  #failure: Error | null = null
  /** The sink asked for a pause (write returned false), and the agent's body waits for its 'drain'. */
  #waiting = false

  /**
   * @param source The agent's request body.
   * @param filter The body filters, chained (null for none).
   * @param counted Told the size of each filtered chunk passed on.
   * @param failed Told once, when the body fails: a filter's refusal, or the agent's body failing.
   */
  constructor(source: Readable, filter: ChunkFilter | null, counted: (n: number) => void, failed: (err: Error, by: BodyFailureSource) => void) {
    this.#source = source
    this.#filter = filter
    this.#counted = counted
    this.#failed = failed
    // Shared listeners that find this body on the stream, rather than closures made per request.
    ;(source as Readable & Carrying)[BODY] = this
    source.on('data', OutgoingBody.#onData)
    source.on('end', OutgoingBody.#onEnd)
    source.on('error', OutgoingBody.#onError)
  }

  /** Why the body failed, or null. A failed body sends nothing more. */
  get failure(): Error | null {
    return this.#failure
  }

  /**
   * Write the body to `sink` (an HTTP/2 stream), with backpressure, and end it when the body ends.
   * `onFailure` hears a failure later on (a refusal, the agent gone); the sink is not ended then,
   * and the caller resets it. Once only; check `failure` first.
   */
  sendTo(sink: Writable, onFailure: (err: Error) => void): void {
    this.#sink = sink
    this.#onSinkFailure = onFailure
    // A sink gone before the body ended (the upstream answered and closed, or was reset) reads no more.
    ;(sink as Writable & Carrying)[BODY] = this
    sink.on('close', OutgoingBody.#onSinkClose)
    const held = this.#held!
    this.#held = null
    this.#heldBytes = 0
    if (this.#ended) {
      if (held.length === 0) sink.end()
      else if (held.length === 1) sink.end(held[0])
      else sink.end(Buffer.concat(held))
      return
    }
    for (const chunk of held) this.#write(chunk)
    if (!this.#waiting) this.#source.resume()
  }

  /** The body as a stream for undici's HTTP/1.1 client; a failure destroys it with the reason. */
  readable(): Readable {
    const out = new PassThrough()
    // Its error is the failure, already reported: undici may have let go of the body by then.
    out.on('error', () => undefined)
    if (this.#failure !== null) out.destroy(this.#failure)
    else this.sendTo(out, (err) => out.destroy(err))
    return out
  }

  static #onData(this: Readable & Carrying, chunk: Buffer): void {
    this[BODY]!.#read(chunk)
  }

  static #onEnd(this: Readable & Carrying): void {
    this[BODY]!.#end()
  }

  static #onError(this: Readable & Carrying, err: Error): void {
    this[BODY]!.#fail(err, 'agent')
  }

  static #onSinkClose(this: Writable & Carrying): void {
    const body = this[BODY]!
    // The closed sink lets go of the body, and through it of the request (accept/h2-server-request.ts says why).
    this[BODY] = undefined
    body.#stopReading()
  }

  static #onDrain(this: Writable & Carrying): void {
    const body = this[BODY]
    if (body === undefined) return
    body.#waiting = false
    if (body.#failure === null && !body.#ended) body.#source.resume()
  }

  #read(chunk: Buffer): void {
    if (this.#failure !== null) return
    let pass: Buffer | null
    try {
      pass = this.#filter === null ? chunk : this.#filter.push(chunk)
    } catch (err) {
      this.#fail(err as Error, 'filter')
      return
    }
    this.#pass(pass)
  }

  #end(): void {
    if (this.#failure !== null) return
    let last: Buffer | null = null
    try {
      if (this.#filter !== null) last = this.#filter.end()
    } catch (err) {
      this.#fail(err as Error, 'filter')
      return
    }
    this.#pass(last)
    this.#ended = true
    if (this.#sink !== null && !this.#sink.destroyed) this.#sink.end()
  }

  #pass(chunk: Buffer | null): void {
    if (chunk === null || chunk.length === 0) return
    this.#counted(chunk.length)
    if (this.#held !== null) {
      this.#held.push(chunk)
      this.#heldBytes += chunk.length
      if (this.#heldBytes > HOLD_LIMIT) this.#source.pause()
      return
    }
    this.#write(chunk)
  }

  #write(chunk: Buffer): void {
    const sink = this.#sink!
    if (sink.destroyed) return
    if (!sink.write(chunk) && !this.#waiting) {
      this.#waiting = true
      this.#source.pause()
      sink.once('drain', OutgoingBody.#onDrain)
    }
  }

  #fail(err: Error, by: BodyFailureSource): void {
    if (this.#failure !== null) return
    this.#failure = err
    this.#held = this.#held === null ? null : []
    this.#stopReading()
    this.#failed(err, by)
    this.#onSinkFailure?.(err)
  }

  /** Read no more of the agent's body (as pipe() does when it unpipes). */
  #stopReading(): void {
    this.#source.off('data', OutgoingBody.#onData)
    this.#source.pause()
  }
}
