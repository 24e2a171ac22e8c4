import { ConditionRefusal, SidekeyError } from '../errors.js'
import type { CelInput, CelPredicate } from '../policy/cel.js'
import { localTime } from '../policy/time-window.js'
import type { Conditions, Quota, Route } from '../policy/types.js'
import type { CountResult, Counters } from '../state/counters.js'

/**
 * Conditional access: a route's conditions, checked after the route allowed the request and before
 * anything is obtained for it. In order: time window, body size, CEL predicates, then rate limit and
 * quota (counted last, so a request refused for another reason does not use up the quota). The
 * first that fails refuses, naming itself.
 */

/** What conditions are checked against. */
export interface ConditionFacts {
  readonly workload: string | null
  readonly nowMs: number
  /** Declared or buffered body length, null when unknown (streamed, not buffered). */
  readonly bodyBytes: number | null
  readonly cel: CelInput
}

/** Check every condition but the counters, which are `countRequest`'s. Throws a ConditionRefusal. */
export function checkConditions(conditions: Conditions, facts: ConditionFacts): void {
  if (conditions.time !== null && !conditions.time.contains(facts.nowMs)) {
    throw new ConditionRefusal('SIDEKEY_ERR_OUTSIDE_TIME_WINDOW', 'time', `this route is open ${conditions.time.text} only`)
  }
  if (conditions.maxBodyBytes !== null && facts.bodyBytes !== null && facts.bodyBytes > conditions.maxBodyBytes) {
    throw new ConditionRefusal('SIDEKEY_ERR_BODY_TOO_LARGE', 'max_body_bytes', `the request body is larger than ${conditions.maxBodyBytes} bytes`)
  }
  for (const p of conditions.cel) checkCel(p, facts.cel)
}

/** Evaluate one predicate: false refuses, an error refuses with the error (never a guess). */
export function checkCel(p: CelPredicate, input: CelInput): void {
  const outcome = p.evaluate(input)
  if (!outcome.ok) throw new ConditionRefusal('SIDEKEY_ERR_CONDITION_UNDECIDABLE', p.label, `condition ${p.label} could not be evaluated: ${outcome.why}`)
  if (!outcome.value) throw new ConditionRefusal('SIDEKEY_ERR_CONDITION_FAILED', p.label, `condition ${p.label} is false for this request`)
}

/**
 * Count the request against the route's rate limit and quota (for this workload). When the state
 * store cannot count, the route's `on_store_error` decides: refuse (503, the default) or let the
 * request on uncounted; the names of the limits that were skipped that way are returned (audited).
 */
export async function countRequest(route: Route, workload: string | null, nowMs: number, state: Counters, calls = 1): Promise<string[]> {
  // A request carrying several calls (an MCP batch) counts as that many, one at a time: the first
  // that does not fit refuses the request.
  let skipped: string[] = []
  for (let i = 0; i < calls; i++) skipped = await countOne(route, workload, nowMs, state)
  return skipped
}

async function countOne(route: Route, workload: string | null, nowMs: number, state: Counters): Promise<string[]> {
  const c = route.conditions
  const skipped: string[] = []
  if (c === null) return skipped
  const who = workload ?? '-'
  const counted = async (name: 'rate' | 'quota', onStoreError: 'refuse' | 'allow', count: () => Promise<CountResult>): Promise<CountResult | null> => {
    try {
      return await count()
    } catch (err) {
      if (!(err instanceof SidekeyError) || err.code !== 'SIDEKEY_ERR_STATE_UNAVAILABLE') throw err
      if (onStoreError === 'allow') {
        skipped.push(name)
        return null
      }
      throw new ConditionRefusal('SIDEKEY_ERR_STATE_UNAVAILABLE', name, `route "${route.name}" has a ${name} limit that cannot be counted right now (shared state store unavailable; the route fails closed)`, { retryAfterS: 1 })
    }
  }
  if (c.rate !== null) {
    const rate = c.rate
    const key = `rate:${route.name}:${who}`
    const window = Math.floor(nowMs / rate.windowMs)
    const r = await counted('rate', rate.onStoreError, () =>
      rate.sliding ? state.countSliding(key, rate.requests, rate.windowMs, nowMs) : state.countFixed(`${key}:${window}`, rate.requests, (window + 1) * rate.windowMs - nowMs),
    )
    if (r !== null && !r.allowed) {
      throw new ConditionRefusal('SIDEKEY_ERR_RATE_LIMITED', 'rate', `route "${route.name}" allows ${c.rate.requests} requests per ${c.rate.windowMs / 1000} s for this workload`, { retryAfterS: Math.ceil(r.retryAfterMs / 1000) })
    }
  }
  if (c.quota !== null) {
    const quota = c.quota
    const { key, ttlMs } = quotaWindow(quota, nowMs)
    const r = await counted('quota', quota.onStoreError, () => state.countFixed(`quota:${route.name}:${who}:${key}`, quota.requests, ttlMs))
    if (r !== null && !r.allowed) {
      throw new ConditionRefusal('SIDEKEY_ERR_QUOTA_EXCEEDED', 'quota', `route "${route.name}" allows ${c.quota.requests} requests per ${c.quota.per} (${c.quota.zone}) for this workload`, { retryAfterS: Math.ceil(ttlMs / 1000) })
    }
  }
  return skipped
}

/**
 * The calendar window a quota counts in: its key and the time left in it, to the real instant the
 * key changes. Counting the wall clock's seconds left was wrong on the days daylight saving starts
 * or ends: on the 25-hour day the count expired an hour before midnight while the key stayed the
 * same, and the quota was granted again (found by a red-team run).
 */
export function quotaWindow(q: Quota, nowMs: number): { key: string; ttlMs: number } {
  const keyAt = (epochMs: number): string => {
    const t = localTime(epochMs, q.zone)
    return q.per === 'day' ? t.date : `${t.date}T${t.hour}`
  }
  const t = localTime(nowMs, q.zone)
  const key = q.per === 'day' ? t.date : `${t.date}T${t.hour}`
  const secondsInto = q.per === 'day' ? t.minute * 60 + t.second : (t.minute % 60) * 60 + t.second
  const length = q.per === 'day' ? 86_400 : 3_600
  // The wall clock's guess, right unless a clock change lies between now and then.
  let end = nowMs + length * 1000 - (secondsInto * 1000 + (nowMs % 1000))
  if (keyAt(end) === key || keyAt(end - 1) !== key) {
    // Search the first millisecond of the next key between now and two hours past the guess.
    let lo = nowMs
    let hi = end + 2 * 3_600_000
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2)
      if (keyAt(mid) === key) lo = mid
      else hi = mid
    }
    end = hi
  }
  return { key, ttlMs: Math.max(1000, end - nowMs) }
}
