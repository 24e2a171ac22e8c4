/**
 * What a workload normally does, learned from its own traffic, and the deviations that matter for
 * an agent that may have been turned: a destination it never used, an MCP tool it never called,
 * refusals where it normally
 * has none (probing), a request rate or an upstream byte volume far above its usual for that hour
 * (exfiltration), and activity in hours it never works.
 *
 * Pure and clock-free: every method takes the time, so tests drive hours of traffic in
 * milliseconds, and the state is plain JSON so it survives restarts.
 */
/** The kinds of anomaly, also the keys of `monitoring.responses` in policy. */
export const ANOMALY_KINDS = ['new-destination', 'new-tool', 'probing', 'rate', 'volume', 'off-hours'];
export const DEFAULT_THRESHOLDS = Object.freeze({ sigma: 4, factor: 3, minRequests: 20, minBytes: 1_000_000, offHoursShare: 0.01, probingShare: 0.01 });
const ALPHA = 0.1;
function update(s, x) {
    if (s.n === 0) {
        s.mean = x;
        s.variance = 0;
    }
    else {
        const diff = x - s.mean;
        const incr = ALPHA * diff;
        s.mean += incr;
        s.variance = (1 - ALPHA) * (s.variance + diff * incr);
    }
    s.n++;
}
/** True when `x` is well above what `s` describes. */
function exceeds(s, x, t, floor) {
    if (s.n < 3)
        return false;
    return x > floor && x > s.mean * t.factor && x > s.mean + t.sigma * Math.sqrt(s.variance);
}
const empty = () => ({ mean: 0, variance: 0, n: 0 });
/** A workload's baseline: learn from observations, report anomalies once learning is over. */
export class Baseline {
    workload;
    state;
    /** What this process observed since the last `takeDelta` (shared stores merge it fleet-wide). */
    #delta;
    constructor(workload, state, at = Date.now()) {
        this.workload = workload;
        this.state = state ?? {
            firstSeen: at,
            requests: 0,
            denied: 0,
            destinations: [],
            hours: new Array(24).fill(0),
            rate: empty(),
            volume: empty(),
            rateByHour: Array.from({ length: 24 }, empty),
            window: { index: -1, requests: 0, bytesUp: 0, flagged: [] },
            lastAlert: {},
        };
        this.#delta = emptyDelta(this.state.firstSeen);
    }
    learning(at, learningMs) {
        return at - this.state.firstSeen < learningMs;
    }
    /**
     * Record one request and return the anomalies it reveals (none while learning). Each kind is
     * raised at most once per window (rate, volume, probing) or hour (off-hours); a new destination
     * once per destination.
     */
    observe(o, windowMs, learningMs, t) {
        const s = this.state;
        const learning = this.learning(o.at, learningMs);
        const index = Math.floor(o.at / windowMs);
        if (index !== s.window.index)
            closeWindow(s, index, windowMs);
        const d = this.#delta;
        if (d.window.index !== index)
            d.window = { index, requests: 0, bytesUp: 0, flagged: [] };
        const hour = new Date(o.at).getUTCHours();
        const found = [];
        const raise = (kind, baseline, observed) => {
            found.push({ kind, workload: this.workload, at: new Date(o.at).toISOString(), evidence: { baseline, observed } });
            if (kind === 'rate' || kind === 'volume')
                d.window.flagged.push(kind);
        };
        if (!learning) {
            // Once per destination; once the list is full (MAX_DESTINATIONS), once per window: a
            // destination that cannot be remembered would otherwise raise an alert on every request
            // (found by a red-team run, which flooded the alert queue that way).
            if (!o.denied && !s.destinations.includes(o.destination) && (s.destinations.length < MAX_DESTINATIONS || this.#once('new-destination', index))) {
                raise('new-destination', { destinations: s.destinations.slice(0, 20) }, { destination: o.destination });
            }
            const tools = s.tools ?? [];
            for (const tool of calledTools(o)) {
                if (!o.denied && !tools.includes(tool) && (tools.length < MAX_DESTINATIONS || this.#once('new-tool', index)))
                    raise('new-tool', { tools: tools.slice(0, 20) }, { tool });
            }
            const deniedShare = s.requests === 0 ? 0 : s.denied / s.requests;
            if (o.denied && deniedShare < t.probingShare && this.#once('probing', index)) {
                raise('probing', { denied_share: round(deniedShare) }, { denied: o.destination });
            }
            // Working hours are only known once a whole day has been seen; before that every new hour
            // would look unusual.
            const total = s.hours.reduce((a, b) => a + b, 0);
            const hourShare = total === 0 ? 0 : s.hours[hour] / total;
            if (o.at - s.firstSeen >= 86_400_000 && total > 0 && hourShare < t.offHoursShare && this.#once('off-hours', Math.floor(o.at / 3_600_000))) {
                raise('off-hours', { share_of_activity_at_this_hour: round(hourShare), active_hours_utc: s.hours.map((n, h) => (n / total >= t.offHoursShare ? h : -1)).filter((h) => h >= 0) }, { hour_utc: hour });
            }
        }
        s.window.requests++;
        s.window.bytesUp += o.bytesUp;
        d.window.requests++;
        d.window.bytesUp += o.bytesUp;
        if (!learning) {
            const byHour = s.rateByHour[hour];
            const reference = byHour.n >= 3 ? byHour : s.rate;
            if (!s.window.flagged.includes('rate') && exceeds(reference, s.window.requests, t, t.minRequests)) {
                s.window.flagged.push('rate');
                raise('rate', { mean_per_window: round(reference.mean), stddev: round(Math.sqrt(reference.variance)), window_s: windowMs / 1000 }, { requests_in_window: s.window.requests });
            }
            if (!s.window.flagged.includes('volume') && exceeds(s.volume, s.window.bytesUp, t, t.minBytes)) {
                s.window.flagged.push('volume');
                raise('volume', { mean_bytes_up_per_window: Math.round(s.volume.mean), stddev: Math.round(Math.sqrt(s.volume.variance)) }, { bytes_up_in_window: s.window.bytesUp });
            }
        }
        // Learn: every request counts toward hours, destinations and the denial share, so normal
        // traffic keeps the baseline current; anomalous windows are left out of the rate statistics.
        s.requests++;
        d.requests++;
        if (o.denied) {
            s.denied++;
            d.denied++;
        }
        else if (!s.destinations.includes(o.destination) && s.destinations.length < MAX_DESTINATIONS) {
            s.destinations.push(o.destination);
            d.destinations.push(o.destination);
        }
        for (const tool of calledTools(o)) {
            if (!o.denied && !(s.tools ??= []).includes(tool) && s.tools.length < MAX_DESTINATIONS) {
                s.tools.push(tool);
                (d.tools ??= []).push(tool);
            }
        }
        s.hours[hour]++;
        d.hours[hour]++;
        return found;
    }
    /** Hand over what was observed since the last call (null when nothing was). */
    takeDelta() {
        const d = this.#delta;
        if (d.requests === 0 && Object.keys(d.lastAlert).length === 0)
            return null;
        this.#delta = emptyDelta(this.state.firstSeen, d.window.index);
        return d;
    }
    /**
     * Take the fleet's merged baseline as this process's own, keeping what was observed here since
     * the delta was taken (it goes into the next merge and counts locally until then).
     */
    adopt(merged, windowMs) {
        this.state = applyDelta(merged, this.#delta, windowMs);
    }
    #once(kind, slot) {
        if (this.state.lastAlert[kind] === slot)
            return false;
        this.state.lastAlert[kind] = slot;
        this.#delta.lastAlert[kind] = slot;
        return true;
    }
}
/** The tools an observation called: each of a batch's (found by a red-team run: only the first was seen), or its one. */
function calledTools(o) {
    if (o.tools !== undefined)
        return o.tools;
    return o.tool === undefined ? [] : [o.tool];
}
/** Destinations remembered per workload. */
const MAX_DESTINATIONS = 1000;
function emptyDelta(firstSeen, windowIndex = -1) {
    return { firstSeen, requests: 0, denied: 0, destinations: [], hours: new Array(24).fill(0), window: { index: windowIndex, requests: 0, bytesUp: 0, flagged: [] }, lastAlert: {} };
}
/** End a window: learn its counts (unless it was anomalous) and start `next`. */
function closeWindow(s, next, windowMs) {
    const w = s.window;
    if (w.index >= 0 && w.requests > 0 && w.flagged.length === 0) {
        update(s.rate, w.requests);
        update(s.volume, w.bytesUp);
        update(s.rateByHour[new Date(w.index * windowMs).getUTCHours()], w.requests);
    }
    s.window = { index: next, requests: 0, bytesUp: 0, flagged: [] };
}
/**
 * Merge one process's observations into a (shared) baseline, returning a new state: counts add up,
 * destinations are united, the earliest first sighting wins, window counts add up when both are in
 * the same window (a later window closes the earlier one, so rate statistics are learned from the
 * whole fleet's traffic), and an alert raised anywhere is not raised again elsewhere.
 */
export function applyDelta(state, d, windowMs) {
    const s = state === undefined ? new Baseline('', undefined, d.firstSeen).state : structuredClone(state);
    s.firstSeen = Math.min(s.firstSeen, d.firstSeen);
    s.requests += d.requests;
    s.denied += d.denied;
    for (const dest of d.destinations)
        if (!s.destinations.includes(dest) && s.destinations.length < MAX_DESTINATIONS)
            s.destinations.push(dest);
    for (const tool of d.tools ?? [])
        if (!(s.tools ??= []).includes(tool) && s.tools.length < MAX_DESTINATIONS)
            s.tools.push(tool);
    for (let h = 0; h < 24; h++)
        s.hours[h] += d.hours[h] ?? 0;
    if (d.window.index > s.window.index)
        closeWindow(s, d.window.index, windowMs);
    if (d.window.index === s.window.index) {
        s.window.requests += d.window.requests;
        s.window.bytesUp += d.window.bytesUp;
        for (const f of d.window.flagged)
            if (!s.window.flagged.includes(f))
                s.window.flagged.push(f);
    }
    for (const [kind, slot] of Object.entries(d.lastAlert))
        s.lastAlert[kind] = Math.max(s.lastAlert[kind] ?? -Infinity, slot);
    return s;
}
function round(x) {
    return Math.round(x * 1000) / 1000;
}
//# sourceMappingURL=baseline.js.map