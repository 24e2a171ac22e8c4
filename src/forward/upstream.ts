import { isIP } from 'node:net'
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls'
import type { buildConnector } from 'undici'
import { Client, Pool, undiciErrors } from '../http/undici.js'
import { dialChecked, type DialTls } from './dial.js'
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
}

/**
 * Streams sidekey runs at once on one HTTP/2 upstream connection (the server's own
 * SETTINGS_MAX_CONCURRENT_STREAMS lowers it); past it the pool opens another connection.
 */
const H2_STREAMS_PER_CONNECTION = 100

/**
 * Keep-alive connection pools, one per (scheme, host, port, checked address, HTTP/2 offered). Each pool dials the
 * address the SSRF guard checked, never the name, and verifies TLS against the host name (SNI and
 * certificate check use `servername`). Bounded: the least recently used pool is closed first.
 */
export class UpstreamPools {
  readonly #pools = new Map<string, Pool>()
  readonly #options: UpstreamOptions
  readonly #max: number
  /**
   * One TLS context holding the trusted roots, shared by every upstream connection. Passing `ca`
   * to each connect instead builds a context and parses the whole system bundle per connection
   * (the benchmark's top cost with new connections, and most of its memory).
   */
  readonly #secureContext: SecureContext
  /** Pools (by key) on which some connection negotiated h2: the only ones `discardH2` must cut. */
  readonly #negotiatedH2 = new Set<string>()

  constructor(options: UpstreamOptions) {
    this.#options = options
    this.#max = options.maxPools ?? 512
    this.#secureContext = createSecureContext({ ca: options.ca })
  }

  /**
   * The pool for this destination, dialling `to`. Over TLS it offers HTTP/2 in ALPN unless `http2`
   * is false: an upstream that picks h2 gets one multiplexed connection for many requests (each an
   * HTTP/2 stream), one that picks HTTP/1.1 keep-alive connections with one request at a time.
   */
  get(scheme: 'http' | 'https', host: string, port: number, to: CheckedAddress, http2 = true): Pool {
    const offersH2 = http2 && scheme === 'https'
    const key = poolKey(scheme, host, port, to, offersH2)
    let pool = this.#pools.get(key)
    if (pool !== undefined) {
      this.#pools.delete(key)
      this.#pools.set(key, pool)
      return pool
    }
    const address = isIP(to.address) === 6 ? `[${to.address}]` : to.address
    const tls: DialTls | undefined =
      scheme === 'https'
        ? {
            secureContext: this.#secureContext,
            rejectUnauthorized: true,
            ALPNProtocols: offersH2 ? ['h2', 'http/1.1'] : ['http/1.1'],
            // SNI must not be an IP address (RFC 6066 section 3); Node then checks the IP SAN.
            ...(isIP(host) === 0 ? { servername: host } : {}),
          }
        : undefined
    const connector = checkedConnector(to, tls, this.#options.connectTimeoutMs)
    pool = new Pool(`${scheme}://${address}:${to.port}`, {
      headersTimeout: this.#options.headersTimeoutMs,
      bodyTimeout: this.#options.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
      allowH2: offersH2,
      // Never pipeline HTTP/1.1: a slow response must not hold up the next request on the
      // connection. HTTP/2 multiplexes instead: once a connection's ALPN says h2, its client runs
      // many streams at once (undici's own default for h2 would be 1 stream, as pipelining is set).
      factory: (origin, options) => {
        const client: Client = new Client(origin, {
          ...options,
          pipelining: 1,
          connect: (connectOptions, callback) =>
            connector(connectOptions, (...args) => {
              const socket = args[1]
              const h2 = socket !== null && (socket as TLSSocket).alpnProtocol === 'h2'
              if (h2) this.#negotiatedH2.add(key)
              if (socket !== null) client.pipelining = h2 ? H2_STREAMS_PER_CONNECTION : 1
              callback(...args)
            }),
        })
        return client
      },
    })
    this.#pools.set(key, pool)
    while (this.#pools.size > this.#max) {
      const [oldestKey, oldest] = this.#pools.entries().next().value as [string, Pool]
      this.#pools.delete(oldestKey)
      this.#negotiatedH2.delete(oldestKey)
      void oldest.close().catch(() => undefined)
    }
    return pool
  }

  /**
   * Close the connections of a pool that offers HTTP/2, at once, when a request on it must be cut
   * mid-body (a body filter refused it). Node 24's HTTP/2 client session was seen to spin in
   * native code (Http2Session::SendPendingData, memory growing) after such a stream was reset on
   * a connection that had carried an earlier stream; destroying the connections stops that. Other
   * streams on them fail; the next request dials anew. Pools whose upstream never chose h2 (the
   * bug is in the HTTP/2 client only) are left alone, so their other requests go on.
   */
  discardH2(scheme: 'http' | 'https', host: string, port: number, to: CheckedAddress, http2: boolean): void {
    if (!http2 || scheme !== 'https') return
    const key = poolKey(scheme, host, port, to, true)
    const pool = this.#pools.get(key)
    if (pool === undefined || !this.#negotiatedH2.has(key)) return
    this.#pools.delete(key)
    this.#negotiatedH2.delete(key)
    void pool.destroy().catch(() => undefined)
  }

  /** Close every pool (graceful: in-flight requests finish). */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    this.#negotiatedH2.clear()
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)))
  }
}

function poolKey(scheme: 'http' | 'https', host: string, port: number, to: CheckedAddress, offersH2: boolean): string {
  return `${scheme}|${host}|${port}|${to.address}|${to.port}|${offersH2 ? 'h2' : 'h1'}`
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
