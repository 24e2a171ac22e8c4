import { applyDelta } from '../observe/baseline.js';
import { slidingCount } from './counters.js';
/**
 * A settled approval as it is kept and shown: the decision and the request it was about, without
 * the body (only a pending record needs it, for a person to read; `body_bytes` stays). Settled
 * history (the newest 200 in memory, 500 in Redis) then does not hold a held body's worth each.
 */
export function settledRecord(record, settlement) {
    return Object.freeze({ ...record, ...settlement, body: null, body_encoding: null });
}
/** Settled approvals kept for the console and `approvals list`. */
const MAX_SETTLED_APPROVALS = 200;
/** Finished requests kept for the console. */
const MAX_DECISIONS = 200;
/** The default store: a Map in this process. */
export class MemoryStore {
    now;
    shared = false;
    available = true;
    #baselines = new Map();
    #blobs = new Map();
    #quarantineListeners = new Set();
    #quarantined = new Map();
    #fixed = new Map();
    #sliding = new Map();
    #operations = 0;
    #approvals = new Map();
    #approvalListeners = new Set();
    #grants = new Map();
    /** Request hash -> approval id, and used one-time approvals; each with when it is forgotten. */
    #bound = new Map();
    #claimed = new Map();
    #decisions = [];
    /** Expiring values and leases, each with when it is forgotten. */
    #expiring = new Map();
    constructor(now = Date.now) {
        this.now = now;
    }
    async putExpiring(name, value, ttlMs) {
        this.#sweep();
        this.#expiring.set(`v:${name}`, { value, until: this.now() + ttlMs });
    }
    async getExpiring(name) {
        return this.#live(`v:${name}`);
    }
    async takeExpiring(name) {
        const held = this.#live(`v:${name}`);
        this.#expiring.delete(`v:${name}`);
        return held;
    }
    async acquireLease(name, holder, ttlMs) {
        this.#sweep();
        if (this.#live(`l:${name}`) !== null)
            return false;
        this.#expiring.set(`l:${name}`, { value: holder, until: this.now() + ttlMs });
        return true;
    }
    async releaseLease(name, holder) {
        if (this.#live(`l:${name}`) === holder)
            this.#expiring.delete(`l:${name}`);
    }
    #live(key) {
        const held = this.#expiring.get(key);
        return held !== undefined && held.until > this.now() ? held.value : null;
    }
    async putApproval(record) {
        this.#approvals.set(record.id, record);
        this.#trimApprovals();
        this.#emit(record);
    }
    async settleApproval(id, settlement) {
        const current = this.#approvals.get(id);
        if (current === undefined || current.status !== 'pending')
            return null;
        const settled = settledRecord(current, settlement);
        this.#approvals.set(id, settled);
        this.#emit(settled);
        return settled;
    }
    async getApproval(id) {
        return this.#approvals.get(id);
    }
    async listApprovals() {
        const all = [...this.#approvals.values()].reverse();
        return [...all.filter((a) => a.status === 'pending'), ...all.filter((a) => a.status !== 'pending')];
    }
    onApproval(listener) {
        this.#approvalListeners.add(listener);
        return () => this.#approvalListeners.delete(listener);
    }
    async putGrant(workload, route, untilMs) {
        this.#grants.set(`${workload}\0${route}`, untilMs);
    }
    async grantUntil(workload, route) {
        const until = this.#grants.get(`${workload}\0${route}`);
        if (until === undefined)
            return null;
        if (until <= this.now()) {
            this.#grants.delete(`${workload}\0${route}`);
            return null;
        }
        return until;
    }
    async bindRequest(hash, id, ttlMs) {
        this.#sweep();
        this.#bound.set(hash, { id, until: this.now() + ttlMs });
    }
    async boundApproval(hash) {
        const bound = this.#bound.get(hash);
        return bound !== undefined && bound.until > this.now() ? bound.id : null;
    }
    async claimOnce(id, ttlMs) {
        this.#sweep();
        if ((this.#claimed.get(id) ?? 0) > this.now())
            return false;
        this.#claimed.set(id, this.now() + ttlMs);
        return true;
    }
    recordDecision(summary) {
        this.#decisions.push(summary);
        if (this.#decisions.length > MAX_DECISIONS)
            this.#decisions.shift();
    }
    async recentDecisions() {
        return this.#decisions.slice().reverse();
    }
    async loadBaselines() {
        return Object.fromEntries(this.#baselines);
    }
    async mergeBaseline(workload, delta, windowMs) {
        const merged = applyDelta(this.#baselines.get(workload), delta, windowMs);
        this.#baselines.set(workload, merged);
        return merged;
    }
    async getBlob(name) {
        return this.#blobs.get(name) ?? null;
    }
    async casBlob(name, expected, next) {
        if ((this.#blobs.get(name) ?? null) !== expected)
            return false;
        this.#blobs.set(name, next);
        return true;
    }
    async close() { }
    #emit(record) {
        for (const listener of this.#approvalListeners) {
            try {
                listener(record);
            }
            catch {
                // A listener's fault is its own; the store goes on.
            }
        }
    }
    /** Keep every pending approval and the newest settled ones. */
    #trimApprovals() {
        let settled = 0;
        for (const a of this.#approvals.values())
            if (a.status !== 'pending')
                settled++;
        for (const [id, a] of this.#approvals) {
            if (settled <= MAX_SETTLED_APPROVALS)
                break;
            if (a.status !== 'pending') {
                this.#approvals.delete(id);
                settled--;
            }
        }
    }
    async countFixed(key, limit, ttlMs) {
        this.#sweep();
        const now = this.now();
        let entry = this.#fixed.get(key);
        if (entry === undefined || entry.expiresAt <= now) {
            entry = { count: 0, expiresAt: now + ttlMs };
            this.#fixed.set(key, entry);
        }
        if (entry.count >= limit)
            return { allowed: false, count: entry.count, retryAfterMs: entry.expiresAt - now };
        entry.count++;
        return { allowed: true, count: entry.count, retryAfterMs: 0 };
    }
    async countSliding(key, limit, windowMs, nowMs) {
        this.#sweep();
        const { result, next } = slidingCount(this.#sliding.get(key), limit, windowMs, nowMs);
        this.#sliding.set(key, { ...next, windowMs });
        return result;
    }
    /** Forget expired counters now and then, so idle keys do not pile up. */
    #sweep() {
        if (++this.#operations % 1024 !== 0)
            return;
        const now = this.now();
        for (const [key, e] of this.#fixed)
            if (e.expiresAt <= now)
                this.#fixed.delete(key);
        for (const [key, e] of this.#sliding)
            if ((e.window + 2) * e.windowMs <= now)
                this.#sliding.delete(key);
        // Bindings and claims of async approvals whose requests were never sent again.
        for (const [hash, b] of this.#bound)
            if (b.until <= now)
                this.#bound.delete(hash);
        for (const [id, until] of this.#claimed)
            if (until <= now)
                this.#claimed.delete(id);
        for (const [key, e] of this.#expiring)
            if (e.until <= now)
                this.#expiring.delete(key);
    }
    async quarantine(record) {
        if (this.#quarantined.has(record.workload))
            return;
        this.#quarantined.set(record.workload, record);
        this.#quarantineListeners.forEach((l) => l());
    }
    async release(workload) {
        const released = this.#quarantined.delete(workload);
        if (released)
            this.#quarantineListeners.forEach((l) => l());
        return released;
    }
    onQuarantineChange(listener) {
        this.#quarantineListeners.add(listener);
        return () => this.#quarantineListeners.delete(listener);
    }
    quarantined(workload) {
        return this.#quarantined.get(workload);
    }
    listQuarantined() {
        return [...this.#quarantined.values()];
    }
}
//# sourceMappingURL=store.js.map