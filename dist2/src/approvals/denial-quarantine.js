/** How long a denial counts toward a quarantine. */
export const DENIAL_WINDOW_MS = 3_600_000;
/**
 * A workload whose held requests keep being denied is trying something people keep refusing:
 * after `limit` denials within an hour it is quarantined, and its count starts again.
 */
export class DenialQuarantine {
    #o;
    /** Workload -> when its recent denials happened, oldest first. */
    #denials = new Map();
    constructor(options) {
        this.#o = options;
    }
    /** Count one denial of `workload`'s request by a person. Returns whether it quarantined the workload. */
    denied(workload) {
        const { limit, now, quarantine } = this.#o;
        const at = now();
        const recent = (this.#denials.get(workload) ?? []).filter((t) => t > at - DENIAL_WINDOW_MS);
        recent.push(at);
        this.#denials.set(workload, recent);
        const max = limit();
        if (max <= 0 || recent.length < max)
            return false;
        this.#denials.delete(workload);
        quarantine(workload, `${recent.length} requests denied by approvers within an hour`);
        return true;
    }
}
//# sourceMappingURL=denial-quarantine.js.map