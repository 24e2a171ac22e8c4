import { compileCel } from './cel.js';
import { isTimeZone, parseClock, timeWindow } from './time-window.js';
/** Body bytes buffered for CEL and approvals when the route sets no `max_body_bytes`. */
export const DEFAULT_INSPECT_BODY_BYTES = 1024 * 1024;
/** Wait for an approval when neither the route nor `approvals.timeout_s` says. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 300_000;
/** Held requests at once per process (`approvals.max_held`), and per workload (`max_held_per_workload`). */
export const DEFAULT_MAX_HELD = 100;
export const DEFAULT_MAX_HELD_PER_WORKLOAD = 10;
/** Retry-After of an asynchronous approval's pending answer when the route sets no `retry_after_s`. */
export const DEFAULT_APPROVAL_RETRY_AFTER_S = 15;
/** Largest body a held request may carry (`approvals.max_body_bytes`): shown whole to approvers. */
export const DEFAULT_MAX_HELD_BODY_BYTES = 64 * 1024;
export function compileConditions(c, problem) {
    if (c === undefined)
        return null;
    let time = null;
    if (c.time !== undefined) {
        const from = parseClock(c.time.from ?? '');
        const to = parseClock(c.time.to ?? '');
        if (from === null)
            problem(['time', 'from'], 'must be a time HH:MM');
        if (to === null)
            problem(['time', 'to'], 'must be a time HH:MM');
        if (from !== null && to !== null) {
            const w = timeWindow(c.time.days ?? ['mon-sun'], from, to, c.time.zone ?? 'UTC');
            if (typeof w === 'string')
                problem(['time'], w);
            else
                time = w;
        }
    }
    const cel = [];
    (c.cel ?? []).forEach((source, i) => {
        const p = compileCel(source, `cel[${i}] ${source}`);
        if (typeof p === 'string')
            problem(['cel', i], p);
        else
            cel.push(p);
    });
    const zone = c.quota?.zone ?? 'UTC';
    if (c.quota !== undefined && !isTimeZone(zone))
        problem(['quota', 'zone'], `"${zone}" is not an IANA time zone`);
    return Object.freeze({
        time,
        maxBodyBytes: c.max_body_bytes ?? null,
        cel: Object.freeze(cel),
        rate: c.rate === undefined ? null : Object.freeze({ requests: c.rate.requests, windowMs: c.rate.per_s * 1000, sliding: (c.rate.window ?? 'sliding') === 'sliding', onStoreError: c.rate.on_store_error ?? 'refuse' }),
        quota: c.quota === undefined ? null : Object.freeze({ requests: c.quota.requests, per: c.quota.per, zone, onStoreError: c.quota.on_store_error ?? 'refuse' }),
    });
}
export function compileApproval(a, defaultTimeoutMs, problem) {
    if (a === undefined)
        return null;
    let when = null;
    if (a.when !== undefined) {
        const p = compileCel(a.when, `approval.when ${a.when}`);
        if (typeof p === 'string')
            problem(['when'], p);
        else
            when = p;
    }
    const mode = a.mode ?? 'wait';
    // Both shape how an agent retries; a held request is never retried, so they mean nothing there.
    if (mode === 'wait')
        for (const key of ['retry_after_s', 'approved_for_s'])
            if (a[key] !== undefined)
                problem([key], `${key} goes with mode: async (a held request is not sent again)`);
    return Object.freeze({
        when,
        timeoutMs: a.timeout_s === undefined ? defaultTimeoutMs : a.timeout_s * 1000,
        mode,
        retryAfterS: a.retry_after_s ?? DEFAULT_APPROVAL_RETRY_AFTER_S,
        approvedForMs: a.approved_for_s === undefined ? null : a.approved_for_s * 1000,
    });
}
//# sourceMappingURL=conditions.js.map