import type { SharedValues } from '../state/store.js'

/** How long a denial counts toward a quarantine. */
export const DENIAL_WINDOW_MS = 3_600_000

/** Attempts at the compare-and-set before a denial is counted in this process alone. */
const CAS_ATTEMPTS = 8

/** What the rule needs: the policy's limit, a clock, where the count lives, and how to quarantine. */
export interface DenialQuarantineOptions {
  /** `approvals.quarantine_after_denials` of the policy in force; 0 turns the rule off. */
  readonly limit: () => number
  readonly now: () => number
  /** Where denials are counted: a shared store counts every replica's. */
  readonly state: Pick<SharedValues, 'getBlob' | 'casBlob'>
  readonly quarantine: (workload: string, reason: string) => void
  /** Told when the store could not count a denial (it is then counted in this process). */
  readonly onStoreError?: (workload: string, err: Error) => void
}

/**
 * A workload whose held requests keep being denied is trying something people keep refusing:
 * after `limit` denials within an hour it is quarantined, and its count starts again.
 *
 * The count lives in the state store (one value per workload, changed by compare and set), so
 * with many replicas it is the fleet's: each denial is counted once, by the replica that held the
 * request, and three denials on three replicas are three (found by a red-team run: each replica
 * counted its own, so a workload spread over replicas was never quarantined). When the store
 * cannot be reached the denial is counted here, with what this process remembers.
 */
export class DenialQuarantine {
  readonly #o: DenialQuarantineOptions
  /** Workload -> when its recent denials happened, oldest first: only while the store is unreachable. */
  readonly #local = new Map<string, number[]>()

  constructor(options: DenialQuarantineOptions) {
    this.#o = options
  }

  /** Count one denial of `workload`'s request by a person. Resolves to whether it quarantined the workload. */
  async denied(workload: string): Promise<boolean> {
    const at = this.#o.now()
    const key = `denials:${workload}`
    try {
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const stored = await this.#o.state.getBlob(key)
        const { recent, trips } = this.#count(parseTimes(stored), at)
        if (await this.#o.state.casBlob(key, stored, JSON.stringify(trips ? [] : recent))) return this.#trip(workload, recent, trips)
      }
      throw new Error(`the count changed under ${CAS_ATTEMPTS} attempts in a row`)
    } catch (err) {
      this.#o.onStoreError?.(workload, err as Error)
      const { recent, trips } = this.#count(this.#local.get(workload) ?? [], at)
      this.#local.set(workload, trips ? [] : recent)
      return this.#trip(workload, recent, trips)
    }
  }

  /** The denials that still count with this one added, and whether they reach the limit. */
  #count(times: readonly number[], at: number): { recent: number[]; trips: boolean } {
    const recent = times.filter((t) => t > at - DENIAL_WINDOW_MS)
    recent.push(at)
    const max = this.#o.limit()
    return { recent, trips: max > 0 && recent.length >= max }
  }

  #trip(workload: string, recent: readonly number[], trips: boolean): boolean {
    if (trips) this.#o.quarantine(workload, `${recent.length} requests denied by approvers within an hour`)
    return trips
  }
}

/** The stored denial times (an unreadable value counts as none). */
function parseTimes(stored: string | null): number[] {
  if (stored === null) return []
  try {
    const list = JSON.parse(stored) as unknown
    return Array.isArray(list) ? list.filter((x): x is number => typeof x === 'number') : []
  } catch {
    return []
  }
}
