import { SidekeyError } from '../errors.js'

/** The longest delay setTimeout keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1

/** A token and when it stops being usable. */
export interface FetchedToken {
  readonly value: string
  /** Epoch milliseconds after which the token must not be sent. */
  readonly expiresAt: number
}

/** Cache tuning. Defaults follow envoy's oauth2 token provider and jose's remote JWKS. */
/** The share of a token's lifetime after which it is refreshed, unless a credential says otherwise. */
export const DEFAULT_REFRESH_AT = 0.8

/** When a token obtained at `obtainedAt` and expiring at `expiresAt` is due for refresh (ms since the epoch). */
export function refreshDue(obtainedAt: number, expiresAt: number, refreshAt: number): number {
  return obtainedAt + (expiresAt - obtainedAt) * refreshAt
}

export interface TokenCacheOptions {
  /** Fraction of a token's lifetime after which it is refreshed in the background. */
  readonly refreshAt?: number
  /** Bound on entries; the least recently used goes first. */
  readonly maxEntries?: number
  /** First retry delay after a failed fetch; doubles per failure, with jitter. */
  readonly backoffMinMs?: number
  readonly backoffMaxMs?: number
  /** A token this close to expiry is treated as expired (clock skew, time on the wire). */
  readonly expirySkewMs?: number
  /** After an upstream's 401 drops a key's token, further 401s for that key are ignored this long. */
  readonly invalidateIntervalMs?: number
}

/**
 * One 401-forced refresh per key per 10 s. An upstream that answers 401 whatever the token (a path
 * that needs another scope, a bogus header the agent added) made every request fetch a new token:
 * a red-team run had one agent drive the identity provider (or Vault, a new lease each time) once
 * per request, and the scanner learning each new token slowed every workload's requests.
 */
export const DEFAULT_INVALIDATE_INTERVAL_MS = 10_000

interface Entry {
  token: FetchedToken | null
  obtainedAt: number
  inflight: Promise<FetchedToken> | null
  failures: number
  retryAt: number
  lastError: SidekeyError | null
  timer: NodeJS.Timeout | null
  /** Set by a request since the last background refresh: idle entries are not kept fresh forever. */
  used: boolean
  fetch: () => Promise<FetchedToken>
  /** Fraction of the lifetime at which this entry is refreshed. */
  refreshAt: number
  /** When a 401 last dropped this entry's token (ms since the epoch), or 0. */
  invalidatedAt: number
}

/** What `get` returns: the token and whether a request waited for a fetch. */
export interface CachedToken {
  readonly value: string
  readonly source: 'cache' | 'fetch'
  /** When the token expires (ms since the epoch), as the identity provider said. */
  readonly expiresAt: number
}

/**
 * Just-in-time tokens without stalling requests. One entry per key (provider, workload, scopes,
 * audience): one fetch in flight per key however many requests wait; refreshed in the background
 * at `refreshAt` of its lifetime while it is being used; after a failure, jittered exponential
 * backoff, during which a still-valid token keeps being served and an expired one fails closed.
 */
export class TokenCache {
  readonly #entries = new Map<string, Entry>()
  readonly #refreshAt: number
  readonly #max: number
  readonly #backoffMin: number
  readonly #backoffMax: number
  readonly #skew: number
  readonly #invalidateInterval: number
  /** Fetches started, by key, for tests and the audit trail. */
  readonly stats = { fetches: 0, failures: 0, backgroundRefreshes: 0 }

  constructor(options: TokenCacheOptions = {}) {
    this.#refreshAt = options.refreshAt ?? DEFAULT_REFRESH_AT
    this.#max = options.maxEntries ?? 1000
    this.#backoffMin = options.backoffMinMs ?? 1000
    this.#backoffMax = options.backoffMaxMs ?? 60_000
    this.#skew = options.expirySkewMs ?? 5000
    this.#invalidateInterval = options.invalidateIntervalMs ?? DEFAULT_INVALIDATE_INTERVAL_MS
    if (!(this.#refreshAt > 0 && this.#refreshAt < 1)) throw new TypeError('refreshAt must be between 0 and 1')
  }

  /**
   * The token for `key`, fetching with `fetch` when there is none. Throws the fetch's
   * SidekeyError when no valid token can be had (fail closed).
   */
  async get(key: string, fetch: () => Promise<FetchedToken>, refreshAt?: number): Promise<CachedToken> {
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = { token: null, obtainedAt: 0, inflight: null, failures: 0, retryAt: 0, lastError: null, timer: null, used: true, fetch, refreshAt: refreshAt ?? this.#refreshAt, invalidatedAt: 0 }
      this.#entries.set(key, entry)
      this.#evict()
    } else {
      // Most recently used last (Map keeps insertion order).
      this.#entries.delete(key)
      this.#entries.set(key, entry)
      entry.fetch = fetch
      entry.used = true
    }
    const now = Date.now()
    if (this.#valid(entry, now)) {
      if (now >= this.#refreshDue(entry)) this.#refresh(key, entry)
      return { value: entry.token!.value, source: 'cache', expiresAt: entry.token!.expiresAt }
    }
    if (entry.inflight === null && now < entry.retryAt && entry.lastError !== null) {
      // Backing off after a failure and no valid token: fail closed at once, without hammering
      // the identity provider with every request.
      throw entry.lastError
    }
    const token = await this.#start(key, entry)
    return { value: token.value, source: 'fetch', expiresAt: token.expiresAt }
  }

  /**
   * Drop the token for `key` if it is still `value` (an upstream answered 401 for it), so the
   * next request fetches a fresh one; not again for this key within `invalidateIntervalMs`
   * (DEFAULT_INVALIDATE_INTERVAL_MS). Called once per 401; never retries the request. True when
   * the token was dropped.
   */
  invalidate(key: string, value: string): boolean {
    const entry = this.#entries.get(key)
    if (entry?.token?.value !== value || !this.mayInvalidate(key)) return false
    entry.invalidatedAt = Date.now()
    entry.token = null
    entry.retryAt = 0
    if (entry.timer !== null) clearTimeout(entry.timer)
    entry.timer = null
    return true
  }

  /** True when a 401 for `key` would drop its token now (none dropped it within the interval). */
  mayInvalidate(key: string): boolean {
    const entry = this.#entries.get(key)
    return entry !== undefined && Date.now() - entry.invalidatedAt >= this.#invalidateInterval
  }

  /** Stop every background refresh (shutdown). */
  close(): void {
    for (const entry of this.#entries.values()) if (entry.timer !== null) clearTimeout(entry.timer)
    this.#entries.clear()
  }

  /** True when a token usable now is cached for `key` (no fetch, no refresh, no reordering): for `explain`. */
  holds(key: string): boolean {
    const entry = this.#entries.get(key)
    return entry !== undefined && this.#valid(entry, Date.now())
  }

  get size(): number {
    return this.#entries.size
  }

  /**
   * Usable until `skew` before expiry; for short lifetimes the skew shrinks to a tenth of the
   * lifetime, so a 6-second token is not considered expired the moment it arrives.
   */
  #valid(entry: Entry, now: number): boolean {
    const token = entry.token
    if (token === null) return false
    const skew = Math.min(this.#skew, (token.expiresAt - entry.obtainedAt) / 10)
    return token.expiresAt - skew > now
  }

  #refreshDue(entry: Entry): number {
    return refreshDue(entry.obtainedAt, entry.token!.expiresAt, entry.refreshAt)
  }

  /** Background refresh: never awaited by a request; errors only schedule a retry. */
  #refresh(key: string, entry: Entry): void {
    if (entry.inflight !== null || Date.now() < entry.retryAt) return
    this.stats.backgroundRefreshes++
    this.#start(key, entry).catch(() => undefined)
  }

  #start(key: string, entry: Entry): Promise<FetchedToken> {
    if (entry.inflight !== null) return entry.inflight
    this.stats.fetches++
    const obtainedAt = Date.now()
    entry.inflight = entry
      .fetch()
      .then(
        (token) => {
          entry.token = token
          entry.obtainedAt = obtainedAt
          entry.failures = 0
          entry.retryAt = 0
          entry.lastError = null
          this.#schedule(key, entry, this.#refreshDue(entry) - Date.now())
          return token
        },
        (err: unknown) => {
          this.stats.failures++
          entry.failures++
          entry.lastError = err instanceof SidekeyError ? err : new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', 'token fetch failed', { cause: err })
          // Full jitter (AWS architecture blog, "Exponential Backoff And Jitter").
          const ceiling = Math.min(this.#backoffMax, this.#backoffMin * 2 ** (entry.failures - 1))
          const delay = ceiling / 2 + Math.random() * (ceiling / 2)
          entry.retryAt = Date.now() + delay
          // While a valid token remains, keep trying in the background so it is replaced in time.
          if (this.#valid(entry, Date.now())) this.#schedule(key, entry, delay)
          throw entry.lastError
        },
      )
      .finally(() => {
        entry.inflight = null
      })
    return entry.inflight
  }

  #schedule(key: string, entry: Entry, delayMs: number): void {
    if (entry.timer !== null) clearTimeout(entry.timer)
    entry.timer = setTimeout(() => {
      entry.timer = null
      if (this.#entries.get(key) !== entry) return
      // Keep an entry fresh only while requests use it; an idle one is fetched on next use.
      if (!entry.used) return
      entry.used = false
      this.#refresh(key, entry)
      // Node fires a delay past 2^31 - 1 ms at once: a lifetime that long is refreshed in ~24 days.
    }, Math.min(Math.max(0, delayMs), MAX_TIMER_MS))
    entry.timer.unref()
  }

  #evict(): void {
    while (this.#entries.size > this.#max) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [string, Entry]
      if (oldest.timer !== null) clearTimeout(oldest.timer)
      this.#entries.delete(oldestKey)
    }
  }
}
