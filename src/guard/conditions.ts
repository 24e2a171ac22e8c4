import { ConditionRefusal } from '../errors.js'
import type { CelInput, CelPredicate } from '../policy/cel.js'
import { localTime } from '../policy/time-window.js'
import type { Conditions, Quota, Route } from '../policy/types.js'
import type { StateStore } from '../state/store.js'

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

/** Count the request against the route's rate limit and quota (for this workload). */
export async function countRequest(route: Route, workload: string | null, nowMs: number, state: StateStore): Promise<void> {
  const c = route.conditions
  if (c === null) return
  const who = workload ?? '-'
  if (c.rate !== null) {
    const key = `rate:${route.name}:${who}`
    const window = Math.floor(nowMs / c.rate.windowMs)
    const r = c.rate.sliding
      ? await state.countSliding(key, c.rate.requests, c.rate.windowMs, nowMs)
      : await state.countFixed(`${key}:${window}`, c.rate.requests, (window + 1) * c.rate.windowMs - nowMs)
    if (!r.allowed) {
      throw new ConditionRefusal('SIDEKEY_ERR_RATE_LIMITED', 'rate', `route "${route.name}" allows ${c.rate.requests} requests per ${c.rate.windowMs / 1000} s for this workload`, { retryAfterS: Math.ceil(r.retryAfterMs / 1000) })
    }
  }
  if (c.quota !== null) {
    const { key, ttlMs } = quotaWindow(c.quota, nowMs)
    const r = await state.countFixed(`quota:${route.name}:${who}:${key}`, c.quota.requests, ttlMs)
    if (!r.allowed) {
      throw new ConditionRefusal('SIDEKEY_ERR_QUOTA_EXCEEDED', 'quota', `route "${route.name}" allows ${c.quota.requests} requests per ${c.quota.per} (${c.quota.zone}) for this workload`, { retryAfterS: Math.ceil(ttlMs / 1000) })
    }
  }
}

/** The calendar window a quota counts in: its key and the time left in it. */
export function quotaWindow(q: Quota, nowMs: number): { key: string; ttlMs: number } {
  const t = localTime(nowMs, q.zone)
  const secondsInto = q.per === 'day' ? t.minute * 60 + t.second : (t.minute % 60) * 60 + t.second
  const length = q.per === 'day' ? 86_400 : 3_600
  const msInto = secondsInto * 1000 + (nowMs % 1000)
  return { key: q.per === 'day' ? t.date : `${t.date}T${t.hour}`, ttlMs: Math.max(1000, length * 1000 - msInto) }
}
