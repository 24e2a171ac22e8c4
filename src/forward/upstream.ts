import { isIP } from 'node:net'
import { createSecureContext, type SecureContext } from 'node:tls'
import type { buildConnector } from 'undici'
import { Pool, undiciErrors } from '../http/undici.js'
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
 * Keep-alive connection pools, one per (scheme, host, port, checked address). Each pool dials the
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

  constructor(options: UpstreamOptions) {
    this.#options = options
    this.#max = options.maxPools ?? 512
    this.#secureContext = createSecureContext({ ca: options.ca })
  }

  /** The pool for this destination, dialling `to`. */
  get(scheme: 'http' | 'https', host: string, port: number, to: CheckedAddress): Pool {
    const key = `${scheme}|${host}|${port}|${to.address}|${to.port}`
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
            // SNI must not be an IP address (RFC 6066 section 3); Node then checks the IP SAN.
            ...(isIP(host) === 0 ? { servername: host } : {}),
          }
        : undefined
    pool = new Pool(`${scheme}://${address}:${to.port}`, {
      connect: checkedConnector(to, tls, this.#options.connectTimeoutMs),
      headersTimeout: this.#options.headersTimeoutMs,
      bodyTimeout: this.#options.bodyTimeoutMs,
      keepAliveTimeout: 30_000,
      // Never pipeline: a slow response must not hold up the next request on the connection.
      pipelining: 1,
    })
    this.#pools.set(key, pool)
    while (this.#pools.size > this.#max) {
      const [oldestKey, oldest] = this.#pools.entries().next().value as [string, Pool]
      this.#pools.delete(oldestKey)
      void oldest.close().catch(() => undefined)
    }
    return pool
  }

  /** Close every pool (graceful: in-flight requests finish). */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.close().catch(() => undefined)))
  }
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
