/**
 * Request counters for rate limits and quotas, and the sliding-window arithmetic both stores
 * share: the in-memory store runs it in this process, the Redis store as the Lua script beside it.
 */
/**
 * Count one request under a sliding window (the estimate Cloudflare and nginx-style limiters use):
 * the previous fixed window's count weighted by the share of it that still overlaps the last
 * `windowMs`, plus the current window's. Returns the answer and what to store (a refused request
 * is not counted, but the window may have moved on).
 *
 * A reading older than the stored window (a replica whose clock is behind, or a request that
 * reached the counter after a later one) counts at the start of the stored window: a window
 * never moves back, and the previous one never weighs more than its whole count.
 * `SLIDING_WINDOW_LUA` is the same steps for Redis; test/e2e/state-sliding-window.test.ts holds the two
 * to the same answers.
 */
export function slidingCount(stored, limit, windowMs, nowMs) {
    let window = Math.floor(nowMs / windowMs);
    let now = nowMs;
    let current = stored?.current ?? 0;
    let previous = stored?.previous ?? 0;
    if (stored === undefined || stored.window < window - 1) {
        current = 0;
        previous = 0;
    }
    else if (stored.window === window - 1) {
        previous = current;
        current = 0;
    }
    else if (stored.window > window) {
        window = stored.window;
        now = window * windowMs;
    }
    const elapsed = now - window * windowMs;
    const estimate = previous * (1 - elapsed / windowMs) + current;
    if (estimate + 1 > limit) {
        // When enough of the previous window will have slid out, or the current one ends.
        const needed = estimate + 1 - limit;
        const wait = previous > 0 ? Math.min(windowMs - elapsed, (needed / previous) * windowMs) : windowMs - elapsed;
        return { result: { allowed: false, count: Math.ceil(estimate), retryAfterMs: Math.max(1, Math.ceil(wait)) }, next: { window, current, previous } };
    }
    return { result: { allowed: true, count: Math.ceil(estimate + 1), retryAfterMs: 0 }, next: { window, current: current + 1, previous } };
}
/**
 * `slidingCount` as a Redis script, so replicas count atomically. KEYS[1] a hash (w, c, p); ARGV
 * limit, window ms, now ms; returns {allowed 0/1, count, retry ms}. The hash expires two windows
 * after its last use, when `slidingCount` would have forgotten it anyway.
 */
export const SLIDING_WINDOW_LUA = `
local limit = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local win = math.floor(now / windowMs)
local h = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local w = tonumber(h[1])
local cur = tonumber(h[2]) or 0
local prev = tonumber(h[3]) or 0
if w == nil or w < win - 1 then cur = 0; prev = 0
elseif w == win - 1 then prev = cur; cur = 0
elseif w > win then win = w; now = w * windowMs end
local elapsed = now - win * windowMs
local estimate = prev * (1 - elapsed / windowMs) + cur
if estimate + 1 > limit then
  local needed = estimate + 1 - limit
  local wait = windowMs - elapsed
  if prev > 0 then wait = math.min(wait, needed / prev * windowMs) end
  redis.call('HSET', KEYS[1], 'w', win, 'c', cur, 'p', prev)
  redis.call('PEXPIRE', KEYS[1], windowMs * 2)
  return {0, math.ceil(estimate), math.max(1, math.ceil(wait))}
end
cur = cur + 1
redis.call('HSET', KEYS[1], 'w', win, 'c', cur, 'p', prev)
redis.call('PEXPIRE', KEYS[1], windowMs * 2)
return {1, math.ceil(estimate + 1), 0}
`;
//# sourceMappingURL=counters.js.map