import { isIP } from 'node:net'
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls'
import type { buildConnector, Dispatcher } from 'undici'
import { Pool, undiciErrors } from '../http/undici.js'
import { bracketed } from '../policy/host.js'
import { dialChecked, type DialTls } from './dial.js'
import { H2Sessions, StreamController, type UpstreamRequest } from './h2-sessions.js'
import type { CheckedAddress } from './ssrf.js'

/** Upstream timeouts and trust. */
export interface UpstreamOptions {
  /** PEM roots upstream certificates are verified against (system roots plus any extra bundle). */
  readonly ca: string[]
  readonly connectTimeoutMs: number
  /** Time to the response headers. */
  readonly headersTimeoutMs: number
  /** Longest silence inside a response body (LLM streams pause; keep this generous). */
  readonly bodyTimeoutMs: number
  /** Bound on pools kept (one per destination and address). */
  readonly maxPools?: number
  /**
   * Told when an HTTP/1.1 upstream sends what no request asked for (bytes after a complete
   * response, such as a second response past the first's Content-Length) or bytes that are not
   * HTTP. Nothing of it reaches an agent: the connection is dropped. This is the only place it
   * shows: the answer before the extra bytes was whole as its Content-Length framed it, and undici
   * reports the drop for the connection, not for a request.
   */
  readonly onBrokenConnection?: (upstream: BrokenConnection) => void
}

/** An upstream HTTP/1.1 connection dropped for what it sent (`UpstreamOptions.onBrokenConnection`). */
export interface BrokenConnection {
  /** The destination's name, as policy and the audit line have it. */
  readonly host: string
  /** The checked address and port the connection went to. */
  readonly address: string
  readonly port: number
  /** What undici found (`bad response`: a response no request was waiting for; else the parser's error). */
  readonly why: string
}

/** Where an upstream request goes: an HTTP/1.1 pool or HTTP/2 connections, chosen by ALPN. */
export interface UpstreamDispatcher {
  /** Send `request`; `handler` hears the answer (undici's handler interface) or the failure. */
  dispatch(request: UpstreamRequest, handler: Dispatcher.DispatchHandler): void
}

/**
 * One upstream per (scheme, host, port, checked address, HTTP/2 offered, partition: the caller's
 * workload). Workloads never share an upstream connection: on HTTP/2 one that stops reading its
 * streams would otherwise hold the connection's flow-control window and the server's memory for
 * every other (found by a red-team run: a Node server answered every other workload's stream on
 * that connection with ENHANCE_YOUR_CALM for as long as the stall lasted). Each dials the address the
 * SSRF guard checked, never the name, and verifies TLS against the host name (SNI and certificate
 * check use `servername`). Bounded: the least recently used upstream is closed first.
 */
export class UpstreamPools {
  readonly #origins = new Map<string, Origin>()
  readonly #options: UpstreamOptions
  readonly #max: number
  /**
   * One TLS context holding the trusted roots, shared by every upstream connection. Passing `ca`
   * to each connect instead builds a context and parses the whole system bundle per connection
   * (the benchmark's top cost with new connections, and most of its memory).
   */
  readonly #secureContext: SecureContext

  constructor(options: UpstreamOptions) {
    this.#options = options
    this.#max = options.maxPools ?? 512
    this.#secureContext = createSecureContext({ ca: options.ca })
  }

  /**
   * The upstream for this destination, dialling `to`. Over TLS it offers HTTP/2 in ALPN unless
   * `http2` is false: an upstream that picks h2 gets multiplexed connections (each request a
   * stream), one that picks HTTP/1.1 keep-alive connections with one request at a time.
   */
  get(scheme: 'http' | 'https', host: string, port: number, to: CheckedAddress, http2 = true, partition = ''): UpstreamDispatcher {
    const offersH2 = http2 && scheme === 'https'
    const key = poolKey(scheme, host, port, to, offersH2, partition)
    let origin = this.#origins.get(key)
    if (origin !== undefined) {
      this.#origins.delete(key)
      this.#origins.set(key, origin)
      return origin
    }
    origin = new Origin(scheme, host, to, offersH2, this.#secureContext, this.#options)
    this.#origins.set(key, origin)
    while (this.#origins.size > this.#max) {
      const [oldestKey, oldest] = this.#origins.entries().next().value as [string, Origin]
      this.#origins.delete(oldestKey)
      void oldest.close()
    }
    return origin
  }

  /** Close every upstream (graceful: in-flight requests finish). */
  async close(): Promise<void> {
    const origins = [...this.#origins.values()]
    this.#origins.clear()
    await Promise.all(origins.map((o) => o.close()))
  }
}

/**
 * One destination at one checked address. Plain HTTP, and HTTPS with HTTP/2 not offered, go to an
 * undici pool. With HTTP/2 offered the first connection's ALPN decides: h2 and the destination's
 * requests run on `H2Sessions`, more connections dialled only when every stream slot is taken;
 * HTTP/1.1 and that connection becomes the pool's first, the pool offering HTTP/1.1 only from then on.
 */
class Origin implements UpstreamDispatcher {
  readonly #scheme: 'http' | 'https'
  readonly #host: string
  readonly #to: CheckedAddress
  readonly #secureContext: SecureContext
  readonly #options: UpstreamOptions
  #mode: 'negotiate' | 'h2' | 'h1'
  #pool: Pool | null = null
  #h2: H2Sessions
  /** Requests waiting for a connection being dialled (HTTP/2 offered, no stream free). */
  readonly #queue: [UpstreamRequest, Dispatcher.DispatchHandler][] = []
  #dialing = 0
  /** Connections dialled offering h2 whose upstream chose HTTP/1.1: the pool's next connects take them. */
  readonly #spare: TLSSocket[] = []

  constructor(scheme: 'http' | 'https', host: string, to: CheckedAddress, offersH2: boolean, secureContext: SecureContext, options: UpstreamOptions) {
    this.#scheme = scheme
    this.#host = host
    this.#to = to
    this.#secureContext = secureContext
    this.#options = options
    this.#mode = offersH2 ? 'negotiate' : 'h1'
    this.#h2 = new H2Sessions(`https://${bracketed(host)}:${to.port}`, {
      headersTimeoutMs: options.headersTimeoutMs,
      bodyTimeoutMs: options.bodyTimeoutMs,
      idleTimeoutMs: KEEP_ALIVE_MS,
    }, (request, handler) => this.dispatch(request, handler))
  }

  dispatch(request: UpstreamRequest, handler: Dispatcher.DispatchHandler): void {
    if (this.#mode === 'h1') {
      this.#h1().dispatch(undiciRequest(request), handler)
      return
    }
    if (this.#queue.length === 0 && this.#h2.dispatch(request, handler)) return
    this.#queue.push([request, handler])
    this.#dialIfShort()
  }

  async close(): Promise<void> {
    for (const socket of this.#spare.splice(0)) socket.destroy()
    await Promise.all([this.#h2.close(), this.#pool?.close().catch(() => undefined)])
  }

  /** Dial when the queued requests need more stream slots than the connections being dialled bring. */
  #dialIfShort(): void {
    if (this.#queue.length <= this.#dialing * this.#h2.streamsPerConnection) return
    this.#dialing++
    const socket = dialChecked(this.#to, this.#tls(['h2', 'http/1.1'])) as TLSSocket
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 60_000)
    const timer = setTimeout(() => socket.destroy(new undiciErrors.ConnectTimeoutError()), this.#options.connectTimeoutMs)
    const failed = (err: Error): void => {
      clearTimeout(timer)
      this.#dialing--
      // Nothing to run the waiting requests on: each fails with the dial's error.
      if (this.#dialing === 0) for (const [, handler] of this.#queue.splice(0)) handler.onResponseError?.(new StreamController(), err)
    }
    socket.once('error', failed)
    socket.once('secureConnect', () => {
      clearTimeout(timer)
      socket.off('error', failed)
      this.#dialing--
      if (socket.alpnProtocol === 'h2') {
        this.#mode = 'h2'
        this.#h2.add(socket)
      } else {
        this.#mode = 'h1'
        this.#spare.push(socket)
      }
      this.#drain()
    })
  }

  /** Run the waiting requests in order, on the HTTP/1.1 pool or on free streams. */
  #drain(): void {
    while (this.#queue.length > 0) {
      const [request, handler] = this.#queue[0]!
      if (this.#mode === 'h1') this.#h1().dispatch(undiciRequest(request), handler)
      else if (!this.#h2.dispatch(request, handler)) break
      this.#queue.shift()
    }
    if (this.#queue.length > 0) this.#dialIfShort()
  }

  /** The HTTP/1.1 pool, made on first use: keep-alive connections, one request at a time on each. */
  #h1(): Pool {
    if (this.#pool !== null) return this.#pool
    const connector = checkedConnector(this.#to, this.#scheme === 'https' ? this.#tls(['http/1.1']) : undefined, this.#options.connectTimeoutMs)
    this.#pool = new Pool(`${this.#scheme}://${bracketed(this.#to.address)}:${this.#to.port}`, {
      headersTimeout: this.#options.headersTimeoutMs,
      bodyTimeout: this.#options.bodyTimeoutMs,
      keepAliveTimeout: KEEP_ALIVE_MS,
      // Never pipeline: a slow response must not hold up the next request on the connection.
      pipelining: 1,
      connect: (options, callback) => {
        const spare = this.#spare.pop()
        // Later, not now: undici's client ignores a connection reported while it is still dispatching.
        if (spare !== undefined && !spare.destroyed) process.nextTick(callback, null, spare)
        else connector(options, callback)
      },
    })
    const report = this.#options.onBrokenConnection
    if (report !== undefined) {
      this.#pool.on('disconnect', (_origin, _clients, err) => {
        const why = brokenBy(err)
        if (why !== null) report({ host: this.#host, address: this.#to.address, port: this.#to.port, why })
      })
    }
    return this.#pool
  }

  #tls(alpn: string[]): DialTls {
    return {
      secureContext: this.#secureContext,
      rejectUnauthorized: true,
      ALPNProtocols: alpn,
      // SNI must not be an IP address (RFC 6066 section 3); Node then checks the IP SAN.
      ...(isIP(this.#host) === 0 ? { servername: this.#host } : {}),
    }
  }
}

/** The request as undici's HTTP/1.1 client takes it: a body still being read becomes a stream it reads. */
function undiciRequest(request: UpstreamRequest): Dispatcher.DispatchOptions {
  const body = request.body
  return { method: request.method, path: request.path, headers: request.headers, body: body === null || Buffer.isBuffer(body) ? body : body.readable() }
}

/**
 * Why undici dropped a connection when the upstream broke HTTP/1.1 on it, or null for an ordinary
 * end (closed by either side, timed out, the pool closing). undici reports a response no request
 * was waiting for as a socket error `bad response`, and bytes that are not HTTP as a parser error.
 */
function brokenBy(err: Error | null | undefined): string | null {
  if (err instanceof undiciErrors.SocketError && err.message === 'bad response') return err.message
  if (err instanceof undiciErrors.HTTPParserError) return err.message
  return null
}

/** How long an idle upstream connection is kept. */
const KEEP_ALIVE_MS = 30_000

function poolKey(scheme: 'http' | 'https', host: string, port: number, to: CheckedAddress, offersH2: boolean, partition: string): string {
  return `${scheme}|${host}|${port}|${to.address}|${to.port}|${offersH2 ? 'h2' : 'h1'}|${partition}`
}

/**
 * An undici connector that dials through `dialChecked`: the pool's origin is only a key, the
 * connection goes to the checked address. Calls back once, connected (TLS verified) or failed.
 */
function checkedConnector(to: CheckedAddress, tls: DialTls | undefined, timeoutMs: number): buildConnector.connector {
  return (_options, callback) => {
    const socket = dialChecked(to, tls)
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 60_000)
    let settled = false
    const settle = (err: Error | null): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.off('error', settle)
      if (err === null) callback(null, socket)
      else {
        socket.destroy()
        callback(err, null)
      }
    }
    const timer = setTimeout(() => settle(new undiciErrors.ConnectTimeoutError()), timeoutMs)
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => settle(null))
    socket.once('error', settle)
  }
}
