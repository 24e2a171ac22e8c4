import { applyDelta, type BaselineDelta, type BaselineState } from '../observe/baseline.js'
import { slidingCount, type CountResult, type Counters, type SlidingWindow } from './counters.js'

/**
 * State that must outlive a request and that replicas share: counters, approvals and grants,
 * quarantined workloads, learned baselines, the console's recent decisions and a few named
 * values. One small interface per concern, so each user names only what it uses and a shared
 * implementation (Redis, for many replicas) is a second class, not a rewrite. The in-memory store
 * is the default: one process, nothing to run.
 */

/** Why and when a workload was quarantined. */
export interface QuarantineRecord {
  readonly workload: string
  readonly reason: string
  readonly since: string
  /** `anomaly:<kind>`, `admin`, ... */
  readonly by: string
}

/**
 * A request held for a person's decision: everything that goes upstream but the credentials, so
 * the approver decides on what is sent, not on a summary of it. Requests carrying a managed secret
 * are refused before a record is made.
 */
export interface ApprovalRecord {
  readonly id: string
  readonly workload: string | null
  readonly route: string
  readonly method: string
  readonly host: string
  readonly port: number
  /** The path, without the query. */
  readonly path: string
  /** The whole query as [name, value] pairs, decoded, in order, repeats kept. */
  readonly query: readonly (readonly [string, string])[]
  /** The headers that go upstream as [name, value] pairs, without credentials (Authorization, Cookie, the route's injected and stripped headers) and hop-by-hop headers. */
  readonly headers: readonly (readonly [string, string])[]
  /** The whole body: text when it is UTF-8, base64 otherwise (see body_encoding); null when empty. */
  readonly body: string | null
  readonly body_encoding: 'utf8' | 'base64' | null
  readonly body_bytes: number
  /** Why approval is needed: the route's `approval.when`, or that the route always asks. */
  readonly why: string
  readonly created: string
  readonly expires: string
  readonly status: 'pending' | 'approved' | 'denied' | 'expired' | 'cancelled'
  readonly decided_by: string | null
  readonly decided_at: string | null
  /** Set when an approval also granted the workload the route for a while. */
  readonly grant_until: string | null
  readonly note: string | null
  /** `async` when the agent was answered at once and sends the request again once approved; absent when it was held. */
  readonly mode?: 'wait' | 'async'
  /**
   * An asynchronous approval's terms when it was asked (`approved_for_s` in ms; null: once): a
   * retry is held to the stricter of these and the policy in force, so a reload cannot stretch
   * what an approver agreed to.
   */
  readonly approved_for_ms?: number | null
  /** What a grant given with this approval covers (`approvals/record.ts` grantScope); absent on older records, which grant by route name. */
  readonly grant_scope?: string
}

/** How a pending approval ends. */
export type ApprovalSettlement = Pick<ApprovalRecord, 'status' | 'decided_by' | 'decided_at' | 'grant_until' | 'note'>

/**
 * A settled approval as it is kept and shown: the decision and the request it was about, without
 * the body (only a pending record needs it, for a person to read; `body_bytes` stays). Settled
 * history (the newest 200 in memory, 500 in Redis) then does not hold a held body's worth each.
 */
export function settledRecord(record: ApprovalRecord, settlement: ApprovalSettlement): ApprovalRecord {
  return Object.freeze({ ...record, ...settlement, body: null, body_encoding: null })
}

/** One finished request as the console lists it (from the audit line; no secret, no query value). */
export interface DecisionSummary {
  readonly id: string
  /** `request`, `tunnel`, `upgrade` or `connect`, as on the audit line. */
  readonly event: string
  /** The CONNECT tunnel a request travelled in (its id), so the console folds the tunnel under its requests. */
  readonly tunnel: string | null
  readonly time: string
  readonly workload: string | null
  readonly method: string | null
  readonly host: string | null
  readonly port: number | null
  readonly path: string | null
  readonly route: string | null
  readonly decision: string
  readonly reason: string
  readonly status: number | null
  readonly error: string | null
  readonly condition: string | null
  /** How it ended for the agent (`observe/outcome.ts`): what the console colours the row by. */
  readonly outcome: string
  /** The approval it waited on or was answered about, or `grant`. */
  readonly approval: string | null
  readonly total_ms: number
}

/** What a store says about itself. */
export interface StoreStatus {
  /** True when other processes share this state (Redis): baselines are then merged through it, held approvals re-read. */
  readonly shared: boolean
  /** Whether the store answers right now (readiness, metrics); always true in memory. */
  readonly available: boolean
}

/** Approvals waiting for (or settled by) a person, and the grants an approval can give. */
export interface ApprovalStore {
  /** Store a new approval (pending) and tell every subscriber. */
  putApproval(record: ApprovalRecord): Promise<void>
  /** End a pending approval; null when it is unknown or no longer pending (someone else decided). */
  settleApproval(id: string, settlement: ApprovalSettlement): Promise<ApprovalRecord | null>
  getApproval(id: string): Promise<ApprovalRecord | undefined>
  /** Pending approvals, then the most recent settled ones, newest first. */
  listApprovals(): Promise<ApprovalRecord[]>
  /** Called for every approval stored or settled (by any replica, for a shared store). Returns an unsubscribe. */
  onApproval(listener: (record: ApprovalRecord) => void): () => void
  /** Let `workload` use `route` without asking until `untilMs`. */
  putGrant(workload: string, route: string, untilMs: number): Promise<void>
  /** When the workload's grant for the route ends (epoch ms), or null. */
  grantUntil(workload: string, route: string): Promise<number | null>
  /** Asynchronous approvals: remember for `ttlMs` that the request with this hash is asked about in approval `id`. */
  bindRequest(hash: string, id: string, ttlMs: number): Promise<void>
  /** The approval last bound to the request with this hash, or null. */
  boundApproval(hash: string): Promise<string | null>
  /** Use an approval that lets its request through once: true for the first caller only (across replicas), for `ttlMs`. */
  claimOnce(id: string, ttlMs: number): Promise<boolean>
}

/** Workloads refused until an admin releases them. */
export interface QuarantineStore {
  quarantine(record: QuarantineRecord): Promise<void>
  release(workload: string): Promise<boolean>
  /** Synchronous on the request path: implementations keep a local view (a shared one refreshes it). */
  quarantined(workload: string): QuarantineRecord | undefined
  listQuarantined(): QuarantineRecord[]
  /**
   * False while this process cannot know the list: a shared store not yet read since start (its
   * settings say whether callers are then refused). Always true in memory.
   */
  readonly quarantineListKnown: boolean
  /** Called whenever the quarantine list changes, here or (shared store) on another replica. Returns an unsubscribe. */
  onQuarantineChange(listener: () => void): () => void
}

/** Each workload's learned behaviour, merged across replicas when the store is shared. */
export interface BaselineStore {
  /** Every stored baseline (a shared store's merged ones). */
  loadBaselines(): Promise<Record<string, BaselineState>>
  /** Merge one process's observations into the workload's stored baseline; returns the merged one. */
  mergeBaseline(workload: string, delta: BaselineDelta, windowMs: number): Promise<BaselineState>
}

/** The console's list of recently finished requests. */
export interface DecisionHistory {
  /** Remember a finished request for the console (bounded; oldest forgotten first). */
  recordDecision(summary: DecisionSummary): void
  recentDecisions(): Promise<DecisionSummary[]>
}

/** Small named values replicas agree on by compare and set (the encrypted signing keys). */
export interface SharedValues {
  /** The named value, or null. */
  getBlob(name: string): Promise<string | null>
  /** Replace a named value only if it is still `expected` (compare and set); false when someone else changed it first. */
  casBlob(name: string, expected: string | null, next: string): Promise<boolean>
}

/**
 * Short-lived values taken at most once (an OAuth authorization in progress: its state must not be
 * usable twice, whichever replica the browser comes back to), and leases replicas take turns with
 * (one refresher of a rotating refresh token at a time).
 */
export interface ExpiringValues {
  /** Keep `value` under `name` for `ttlMs`. */
  putExpiring(name: string, value: string, ttlMs: number): Promise<void>
  /** The value, or null when there is none (or it expired). */
  getExpiring(name: string): Promise<string | null>
  /** The value, removed as it is read: of two callers at once only one gets it. */
  takeExpiring(name: string): Promise<string | null>
  /** Hold `name` as `holder` for `ttlMs`: true for one holder at a time (across replicas). */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>
  /** Give a lease back early, if `holder` still holds it. */
  releaseLease(name: string, holder: string): Promise<void>
}

/**
 * Everything the state store keeps, as the process wiring opens and closes it. Each user takes
 * only the part it needs (`Counters`, `ApprovalStore`, `QuarantineStore`, ...).
 */
export interface StateStore extends StoreStatus, Counters, ApprovalStore, QuarantineStore, BaselineStore, DecisionHistory, SharedValues, ExpiringValues {
  close(): Promise<void>
}

/** Settled approvals kept for the console and `approvals list`. */
const MAX_SETTLED_APPROVALS = 200
/** Finished requests kept for the console. */
const MAX_DECISIONS = 200

/** The default store: a Map in this process. */
export class MemoryStore implements StateStore {
  readonly shared = false
  readonly available = true
  readonly #baselines = new Map<string, BaselineState>()
  readonly #blobs = new Map<string, string>()
  readonly #quarantineListeners = new Set<() => void>()
  readonly #quarantined = new Map<string, QuarantineRecord>()
  readonly #fixed = new Map<string, { count: number; expiresAt: number }>()
  readonly #sliding = new Map<string, SlidingWindow & { readonly windowMs: number }>()
  #operations = 0
  readonly #approvals = new Map<string, ApprovalRecord>()
  readonly #approvalListeners = new Set<(record: ApprovalRecord) => void>()
  readonly #grants = new Map<string, number>()
  /** Request hash -> approval id, and used one-time approvals; each with when it is forgotten. */
  readonly #bound = new Map<string, { id: string; until: number }>()
  readonly #claimed = new Map<string, number>()
  readonly #decisions: DecisionSummary[] = []
  /** Expiring values and leases, each with when it is forgotten. */
  readonly #expiring = new Map<string, { value: string; until: number }>()

  constructor(private readonly now: () => number = Date.now) {}

  async putExpiring(name: string, value: string, ttlMs: number): Promise<void> {
    this.#sweep()
    this.#expiring.set(`v:${name}`, { value, until: this.now() + ttlMs })
  }

  async getExpiring(name: string): Promise<string | null> {
    return this.#live(`v:${name}`)
  }

  async takeExpiring(name: string): Promise<string | null> {
    const held = this.#live(`v:${name}`)
    this.#expiring.delete(`v:${name}`)
    return held
  }

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    this.#sweep()
    if (this.#live(`l:${name}`) !== null) return false
    this.#expiring.set(`l:${name}`, { value: holder, until: this.now() + ttlMs })
    return true
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    if (this.#live(`l:${name}`) === holder) this.#expiring.delete(`l:${name}`)
  }

  #live(key: string): string | null {
    const held = this.#expiring.get(key)
    return held !== undefined && held.until > this.now() ? held.value : null
  }

  async putApproval(record: ApprovalRecord): Promise<void> {
    this.#approvals.set(record.id, record)
    this.#trimApprovals()
    this.#emit(record)
  }

  async settleApproval(id: string, settlement: ApprovalSettlement): Promise<ApprovalRecord | null> {
    const current = this.#approvals.get(id)
    if (current === undefined || current.status !== 'pending') return null
    const settled = settledRecord(current, settlement)
    this.#approvals.set(id, settled)
    this.#emit(settled)
    return settled
  }

  async getApproval(id: string): Promise<ApprovalRecord | undefined> {
    return this.#approvals.get(id)
  }

  async listApprovals(): Promise<ApprovalRecord[]> {
    const all = [...this.#approvals.values()].reverse()
    return [...all.filter((a) => a.status === 'pending'), ...all.filter((a) => a.status !== 'pending')]
  }

  onApproval(listener: (record: ApprovalRecord) => void): () => void {
    this.#approvalListeners.add(listener)
    return () => this.#approvalListeners.delete(listener)
  }

  async putGrant(workload: string, route: string, untilMs: number): Promise<void> {
    this.#grants.set(`${workload}\0${route}`, untilMs)
  }

  async grantUntil(workload: string, route: string): Promise<number | null> {
    const until = this.#grants.get(`${workload}\0${route}`)
    if (until === undefined) return null
    if (until <= this.now()) {
      this.#grants.delete(`${workload}\0${route}`)
      return null
    }
    return until
  }

  async bindRequest(hash: string, id: string, ttlMs: number): Promise<void> {
    this.#sweep()
    this.#bound.set(hash, { id, until: this.now() + ttlMs })
  }

  async boundApproval(hash: string): Promise<string | null> {
    const bound = this.#bound.get(hash)
    return bound !== undefined && bound.until > this.now() ? bound.id : null
  }

  async claimOnce(id: string, ttlMs: number): Promise<boolean> {
    this.#sweep()
    if ((this.#claimed.get(id) ?? 0) > this.now()) return false
    this.#claimed.set(id, this.now() + ttlMs)
    return true
  }

  recordDecision(summary: DecisionSummary): void {
    this.#decisions.push(summary)
    if (this.#decisions.length > MAX_DECISIONS) this.#decisions.shift()
  }

  async recentDecisions(): Promise<DecisionSummary[]> {
    return this.#decisions.slice().reverse()
  }

  async loadBaselines(): Promise<Record<string, BaselineState>> {
    return Object.fromEntries(this.#baselines)
  }

  async mergeBaseline(workload: string, delta: BaselineDelta, windowMs: number): Promise<BaselineState> {
    const merged = applyDelta(this.#baselines.get(workload), delta, windowMs)
    this.#baselines.set(workload, merged)
    return merged
  }

  async getBlob(name: string): Promise<string | null> {
    return this.#blobs.get(name) ?? null
  }

  async casBlob(name: string, expected: string | null, next: string): Promise<boolean> {
    if ((this.#blobs.get(name) ?? null) !== expected) return false
    this.#blobs.set(name, next)
    return true
  }

  async close(): Promise<void> {}

  #emit(record: ApprovalRecord): void {
    for (const listener of this.#approvalListeners) {
      try {
        listener(record)
      } catch {
        // A listener's fault is its own; the store goes on.
      }
    }
  }

  /** Keep every pending approval and the newest settled ones. */
  #trimApprovals(): void {
    let settled = 0
    for (const a of this.#approvals.values()) if (a.status !== 'pending') settled++
    for (const [id, a] of this.#approvals) {
      if (settled <= MAX_SETTLED_APPROVALS) break
      if (a.status !== 'pending') {
        this.#approvals.delete(id)
        settled--
      }
    }
  }

  async countFixed(key: string, limit: number, ttlMs: number): Promise<CountResult> {
    this.#sweep()
    const now = this.now()
    let entry = this.#fixed.get(key)
    if (entry === undefined || entry.expiresAt <= now) {
      entry = { count: 0, expiresAt: now + ttlMs }
      this.#fixed.set(key, entry)
    }
    if (entry.count >= limit) return { allowed: false, count: entry.count, retryAfterMs: entry.expiresAt - now }
    entry.count++
    return { allowed: true, count: entry.count, retryAfterMs: 0 }
  }

  async countSliding(key: string, limit: number, windowMs: number, nowMs: number): Promise<CountResult> {
    this.#sweep()
    const { result, next } = slidingCount(this.#sliding.get(key), limit, windowMs, nowMs)
    this.#sliding.set(key, { ...next, windowMs })
    return result
  }

  /** Forget expired counters now and then, so idle keys do not pile up. */
  #sweep(): void {
    if (++this.#operations % 1024 !== 0) return
    const now = this.now()
    for (const [key, e] of this.#fixed) if (e.expiresAt <= now) this.#fixed.delete(key)
    for (const [key, e] of this.#sliding) if ((e.window + 2) * e.windowMs <= now) this.#sliding.delete(key)
    // Bindings and claims of async approvals whose requests were never sent again.
    for (const [hash, b] of this.#bound) if (b.until <= now) this.#bound.delete(hash)
    for (const [id, until] of this.#claimed) if (until <= now) this.#claimed.delete(id)
    for (const [key, e] of this.#expiring) if (e.until <= now) this.#expiring.delete(key)
  }

  async quarantine(record: QuarantineRecord): Promise<void> {
    if (this.#quarantined.has(record.workload)) return
    this.#quarantined.set(record.workload, record)
    this.#quarantineListeners.forEach((l) => l())
  }

  async release(workload: string): Promise<boolean> {
    const released = this.#quarantined.delete(workload)
    if (released) this.#quarantineListeners.forEach((l) => l())
    return released
  }

  onQuarantineChange(listener: () => void): () => void {
    this.#quarantineListeners.add(listener)
    return () => this.#quarantineListeners.delete(listener)
  }

  quarantined(workload: string): QuarantineRecord | undefined {
    return this.#quarantined.get(workload)
  }

  listQuarantined(): QuarantineRecord[] {
    return [...this.#quarantined.values()]
  }

  readonly quarantineListKnown = true
}
