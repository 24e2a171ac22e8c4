import { outcomeOf } from './outcome.js';
/**
 * The last hour per workload and per route, minute by minute, for the console's charts:
 * requests, refusals (refused, failed or pending) and the 95th percentile of the time to answer,
 * plus the anomalies raised. Each series is a fixed ring of 60 minutes with a small latency
 * histogram per minute, so the cost per request is a few array increments and the memory is
 * bounded (series are capped; names come from policy and run tokens, as metric labels do).
 */
const MINUTE_MS = 60_000;
const MINUTES = 60;
/** Upper bounds of the latency buckets, in ms; the p95 is reported as its bucket's bound. */
const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, Infinity];
/** Series kept at most (per kind); new names past this are not charted. */
const MAX_SERIES = 500;
/** Anomalies kept per workload. */
const MAX_ANOMALIES = 20;
class Series {
    /** Which minute (epoch minutes) each slot holds now; a slot from an older hour is stale. */
    #minute = new Float64Array(MINUTES).fill(-1);
    #requests = new Uint32Array(MINUTES);
    #refusals = new Uint32Array(MINUTES);
    #latency = new Uint32Array(MINUTES * LATENCY_BOUNDS_MS.length);
    anomalies = [];
    add(minute, refused, totalMs) {
        const slot = minute % MINUTES;
        if (this.#minute[slot] !== minute) {
            this.#minute[slot] = minute;
            this.#requests[slot] = 0;
            this.#refusals[slot] = 0;
            this.#latency.fill(0, slot * LATENCY_BOUNDS_MS.length, (slot + 1) * LATENCY_BOUNDS_MS.length);
        }
        this.#requests[slot]++;
        if (refused)
            this.#refusals[slot]++;
        this.#latency[slot * LATENCY_BOUNDS_MS.length + LATENCY_BOUNDS_MS.findIndex((b) => totalMs <= b)]++;
    }
    view(name, nowMinute) {
        const minutes = [];
        const hour = new Uint32Array(LATENCY_BOUNDS_MS.length);
        let requests = 0;
        let refusals = 0;
        for (let m = nowMinute - MINUTES + 1; m <= nowMinute; m++) {
            const slot = m % MINUTES;
            const live = this.#minute[slot] === m;
            const counts = live ? this.#latency.subarray(slot * LATENCY_BOUNDS_MS.length, (slot + 1) * LATENCY_BOUNDS_MS.length) : new Uint32Array(0);
            counts.forEach((c, i) => (hour[i] += c));
            const n = live ? this.#requests[slot] : 0;
            const r = live ? this.#refusals[slot] : 0;
            requests += n;
            refusals += r;
            minutes.push({ at: new Date(m * MINUTE_MS).toISOString(), requests: n, refusals: r, p95_ms: p95(counts, n) });
        }
        const since = (nowMinute - MINUTES + 1) * MINUTE_MS;
        const anomalies = this.anomalies.filter((a) => a.at >= since).map((a) => ({ kind: a.kind, at: new Date(a.at).toISOString() }));
        return { name, requests, refusals, p95_ms: p95(hour, requests), minutes, anomalies };
    }
}
function p95(counts, total) {
    if (total === 0)
        return null;
    const rank = Math.ceil(total * 0.95);
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
        seen += counts[i];
        if (seen >= rank)
            return Number.isFinite(LATENCY_BOUNDS_MS[i]) ? LATENCY_BOUNDS_MS[i] : LATENCY_BOUNDS_MS.at(-2);
    }
    return null;
}
export class Activity {
    now;
    #workloads = new Map();
    #routes = new Map();
    constructor(now = Date.now) {
        this.now = now;
    }
    /** Count one finished exchange. An intercepted tunnel is counted through the requests inside it. */
    observe(a, outcome = outcomeOf(a)) {
        if (a.event === 'tunnel' && a.decision === 'intercept' && a.error === null)
            return;
        const refused = outcome === 'refused' || outcome === 'failed' || outcome === 'pending';
        const minute = Math.floor(this.now() / MINUTE_MS);
        series(this.#workloads, a.workload ?? 'anonymous')?.add(minute, refused, a.total_ms);
        if (a.route !== null)
            series(this.#routes, a.route)?.add(minute, refused, a.total_ms);
    }
    /** Note an anomaly raised for `workload` (shown with its chart). */
    anomaly(workload, kind) {
        const list = series(this.#workloads, workload)?.anomalies;
        if (list === undefined)
            return;
        list.push({ kind, at: this.now() });
        if (list.length > MAX_ANOMALIES)
            list.shift();
    }
    /** Every series' last hour, busiest first. */
    snapshot() {
        const nowMinute = Math.floor(this.now() / MINUTE_MS);
        const views = (map) => [...map]
            .map(([name, s]) => s.view(name, nowMinute))
            .filter((v) => v.requests > 0 || v.anomalies.length > 0)
            .sort((a, b) => b.requests - a.requests || a.name.localeCompare(b.name));
        return { workloads: views(this.#workloads), routes: views(this.#routes) };
    }
}
function series(map, name) {
    let s = map.get(name);
    if (s === undefined && map.size < MAX_SERIES) {
        s = new Series();
        map.set(name, s);
    }
    return s;
}
//# sourceMappingURL=activity.js.map