/**
 * State that guards share and that must outlive a request: quarantined workloads and learned
 * baselines. Behind one small interface so a shared implementation (Redis, for many replicas) is a
 * second class, not a rewrite. The in-memory store is the default: one process, nothing to run.
 */

/** Why and when a workload was quarantined. */
export interface QuarantineRecord {
  readonly workload: string
  readonly reason: string
  readonly since: string
  /** `anomaly:<kind>`, `admin`, ... */
  readonly by: string
}

export interface StateStore {
  quarantine(record: QuarantineRecord): Promise<void>
  release(workload: string): Promise<boolean>
  /** Synchronous on the request path: implementations keep a local view (a shared one refreshes it). */
  quarantined(workload: string): QuarantineRecord | undefined
  listQuarantined(): QuarantineRecord[]
}

/** The default store: a Map in this process. */
export class MemoryStore implements StateStore {
  readonly #quarantined = new Map<string, QuarantineRecord>()

  async quarantine(record: QuarantineRecord): Promise<void> {
    if (!this.#quarantined.has(record.workload)) this.#quarantined.set(record.workload, record)
  }

  async release(workload: string): Promise<boolean> {
    return this.#quarantined.delete(workload)
  }

  quarantined(workload: string): QuarantineRecord | undefined {
    return this.#quarantined.get(workload)
  }

  listQuarantined(): QuarantineRecord[] {
    return [...this.#quarantined.values()]
  }
}
