/**
 * Workload names: what a run token, `--workload` and a policy's `workloads:` list may name. The
 * name `anonymous` is reserved: policy uses it for callers that present no run token, and
 * quarantine, throttles and baselines key such callers under it. A token minted for it would let
 * an identified caller pass as "no caller" (and share an anonymous caller's quarantine), so no
 * token is minted for it and no sidecar takes it as its identity, in any letter case.
 */
/** The policy name of a caller with no run token (and no sidecar identity). */
export const ANONYMOUS = 'anonymous';
/**
 * The one rule for names sidekey keys things by (workloads, and in policy files routes and
 * credentials): a letter or digit, then letters, digits, dot, dash or underscore, at most 64.
 * As a JSON Schema `pattern` (the policy schema uses it as is).
 */
export const NAME_PATTERN = '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$';
const WORKLOAD_NAME = new RegExp(NAME_PATTERN);
/** True when `name` has the shape of a workload name (the reserved `anonymous` included). */
export function isWorkloadName(name) {
    return WORKLOAD_NAME.test(name);
}
/** Why `name` cannot identify a caller, or null when it can. */
export function workloadNameProblem(name) {
    if (!WORKLOAD_NAME.test(name))
        return `"${name.slice(0, 80)}" is not a workload name (letters, digits, dot, dash or underscore, at most 64)`;
    if (name.toLowerCase() === ANONYMOUS)
        return `"${name}" is reserved for callers without a run token; choose another workload name`;
    return null;
}
//# sourceMappingURL=workload-name.js.map