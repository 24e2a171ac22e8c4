/** How long a denial counts toward a quarantine. */
export const DENIAL_WINDOW_MS = 3_600_000

/** What the rule needs: the policy's limit, a clock, and how to quarantine. */
export interface DenialQuarantineOptions {
  /** `approvals.quarantine_after_denials` of the policy in force; 0 turns the rule off. */
  readonly limit: () => number
  readonly now: () => number
  readonly quarantine: (workload: string, reason: string) => void
}

/**
 * A workload whose held requests keep being denied is trying something people keep refusing:
 * after `limit` denials within an hour it is quarantined, and its count starts again.
 */
export class DenialQuarantine {
  readonly #o: DenialQuarantineOptions
  /** Workload -> when its recent denials happened, oldest first. */
  readonly #denials = new Map<string, number[]>()

  constructor(options: DenialQuarantineOptions) {
    this.#o = options
  }

  /** Count one denial of `workload`'s request by a person. Returns whether it quarantined the workload. */
  denied(workload: string): boolean {
    const { limit, now, quarantine } = this.#o
    const at = now()
    const recent = (this.#denials.get(workload) ?? []).filter((t) => t > at - DENIAL_WINDOW_MS)
    recent.push(at)
    this.#denials.set(workload, recent)
    const max = limit()
    if (max <= 0 || recent.length < max) return false
    this.#denials.delete(workload)
    quarantine(workload, `${recent.length} requests denied by approvers within an hour`)
    return true
  }
}
