/**
 * Request counters for rate limits and quotas, and the sliding-window arithmetic both stores
 * share (the in-memory one runs it in this process, the Redis one as a Lua script).
 */

/** The answer of a counter: admitted, or refused with how long until a request may pass. */
export interface CountResult {
  readonly allowed: boolean
  /** Requests counted in the window, this one included when admitted. */
  readonly count: number
  /** Milliseconds until the window admits again (0 when admitted). */
  readonly retryAfterMs: number
}

/** Counters that admit or refuse one request at a time (atomically, in a shared store). */
export interface Counters {
  /**
   * Fixed-window counter: admit and count one request when fewer than `limit` were counted under
   * `key`, which names its window (e.g. the local date) and is forgotten `ttlMs` after first use.
   */
  countFixed(key: string, limit: number, ttlMs: number): Promise<CountResult>
  /**
   * Sliding-window counter (the previous fixed window weighted by how much of it still overlaps,
   * plus the current one): admit and count one request while that estimate is below `limit`.
   */
  countSliding(key: string, limit: number, windowMs: number, nowMs: number): Promise<CountResult>
}

/**
 * The sliding-window estimate (as Cloudflare and nginx-style limiters use it): the previous
 * window's count weighted by the share of it that still overlaps the last `windowMs`, plus the
 * current window's. Admitting increments the current count in place.
 */
export function slidingAdmit(entry: { window: number; current: number; previous: number }, limit: number, windowMs: number, nowMs: number): CountResult {
  const elapsed = nowMs - entry.window * windowMs
  const estimate = entry.previous * (1 - elapsed / windowMs) + entry.current
  if (estimate + 1 > limit) {
    // When enough of the previous window will have slid out, or the current one ends.
    const needed = estimate + 1 - limit
    const wait = entry.previous > 0 ? Math.min(windowMs - elapsed, (needed / entry.previous) * windowMs) : windowMs - elapsed
    return { allowed: false, count: Math.ceil(estimate), retryAfterMs: Math.max(1, Math.ceil(wait)) }
  }
  entry.current++
  return { allowed: true, count: Math.ceil(estimate + 1), retryAfterMs: 0 }
}
