/**
 * Per-workload token buckets, applied to a workload the monitor decided to throttle. A request
 * takes one token; an empty bucket means 429 with Retry-After. Buckets refill continuously.
 */
export class Throttle {
    now;
    #buckets = new Map();
    constructor(now = Date.now) {
        this.now = now;
    }
    /** Throttle `workload` to `rps` (burst `burst`) until `untilMs` (epoch ms). */
    limit(workload, rps, burst, untilMs) {
        this.#buckets.set(workload, { tokens: burst, at: this.now(), rps, burst, until: untilMs });
    }
    release(workload) {
        return this.#buckets.delete(workload);
    }
    /** Seconds to wait before the next request may pass, or 0 when it may pass now (taking a token). */
    take(workload) {
        if (workload === null)
            return 0;
        const b = this.#buckets.get(workload);
        if (b === undefined)
            return 0;
        const now = this.now();
        if (now >= b.until) {
            this.#buckets.delete(workload);
            return 0;
        }
        b.tokens = Math.min(b.burst, b.tokens + ((now - b.at) / 1000) * b.rps);
        b.at = now;
        if (b.tokens >= 1) {
            b.tokens -= 1;
            return 0;
        }
        return Math.max(1, Math.ceil((1 - b.tokens) / b.rps));
    }
    /** Workloads currently throttled, with the limit and when it ends. */
    list() {
        const now = this.now();
        return [...this.#buckets.entries()].filter(([, b]) => b.until > now).map(([workload, b]) => ({ workload, rps: b.rps, until: new Date(b.until).toISOString() }));
    }
}
//# sourceMappingURL=throttle.js.map