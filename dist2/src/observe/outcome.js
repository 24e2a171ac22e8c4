import { ERROR_CODES } from '../errors.js';
/**
 * How an exchange ended for the agent, from its audit line: what the console colours rows by and
 * the `outcome` label of `sidekey_requests_total`. Not the policy decision: a request policy
 * allowed can still be denied by an approver, fail for want of its credential (502) or die in a
 * TLS handshake, and none of those may read as served. A fixed set, so the label stays bounded.
 *
 * | outcome | when |
 * | --- | --- |
 * | `served` | forwarded, and the upstream answered below 400 (or a tunnel that carried on) |
 * | `upstream-error` | forwarded, and the upstream itself answered 4xx or 5xx |
 * | `pending` | answered `SIDEKEY_ERR_APPROVAL_PENDING`: nothing sent yet, a person must approve |
 * | `refused` | sidekey refused it: policy, a condition, a guard, an approver |
 * | `failed` | sidekey could not do it: a credential, the upstream, a handshake, an internal fault |
 * | `agent-gone` | the agent hung up (closed its connection, reset its stream) before the end: `SIDEKEY_ERR_AGENT_GONE` |
 */
export const OUTCOMES = ['served', 'upstream-error', 'pending', 'refused', 'failed', 'agent-gone'];
/** Codes that say something broke rather than that something was refused, below 500 too. */
const FAULTS = new Set(['SIDEKEY_ERR_TLS_HANDSHAKE', 'SIDEKEY_ERR_HEAD_TIMEOUT']);
export function outcomeOf(a) {
    if (a.error !== null) {
        if (a.error === 'SIDEKEY_ERR_APPROVAL_PENDING')
            return 'pending';
        // Neither refused nor failed: nobody was left to answer (a 499, below 500, would read as refused).
        if (a.error === 'SIDEKEY_ERR_AGENT_GONE')
            return 'agent-gone';
        const status = ERROR_CODES[a.error]?.status ?? a.status ?? 500;
        return status >= 500 || FAULTS.has(a.error) ? 'failed' : 'refused';
    }
    if (a.decision === 'deny')
        return 'refused';
    if (a.decision === 'error')
        return 'failed';
    return (a.status ?? 0) >= 400 ? 'upstream-error' : 'served';
}
//# sourceMappingURL=outcome.js.map