/** The workload `sidekey run` gives an agent when neither --workload nor SIDEKEY_WORKLOAD names one. */
const DEFAULT_RUN_WORKLOAD = 'agent';
/**
 * The workload `sidekey run` runs its agent as, from the `--workload` flag or the environment:
 * `sidekey explain` defaults to the same one, so it explains what the agent will meet.
 */
export function runWorkload(flag, env = process.env) {
    return (typeof flag === 'string' ? flag : undefined) ?? env.SIDEKEY_WORKLOAD ?? DEFAULT_RUN_WORKLOAD;
}
//# sourceMappingURL=run-workload.js.map