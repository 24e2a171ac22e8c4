import { SidekeyError } from '../errors.js'
import type { QuarantineStore } from '../state/store.js'
import type { Caller } from './identify.js'
import type { RunTokens } from './run-tokens.js'
import { ANONYMOUS } from './workload-name.js'

/**
 * Whether a caller identified earlier may still go on: checked on every request (inside a tunnel
 * too, where the caller was identified once, at CONNECT) and for every open connection when a
 * token is revoked or a quarantine arrives.
 *
 * A caller without a run token cannot be told apart from any other process that reaches the
 * proxy: on one machine (local mode) that includes every agent running there. So while any
 * workload is quarantined, an anonymous caller is refused too: a quarantined agent that drops its
 * token must not carry on as `anonymous` (fail closed). A sidecar (`--workload`) has no anonymous
 * callers: a caller without a token is the pod's workload, quarantined by that name.
 */
export function callerRefusal(caller: Caller, tokens: Pick<RunTokens, 'isLive'>, state: Pick<QuarantineStore, 'quarantined' | 'listQuarantined' | 'quarantineListKnown'>): SidekeyError | null {
  if (caller.tokenId !== null && !tokens.isLive(caller.tokenId)) {
    return new SidekeyError('SIDEKEY_ERR_PROXY_AUTH_INVALID', 'the run token this connection was opened with has been revoked; nothing more is sent on it')
  }
  // A replica started while the shared store was unreachable does not know who is quarantined: a
  // quarantined agent must not carry on through it (found by a red-team run).
  if (!state.quarantineListKnown) {
    return new SidekeyError('SIDEKEY_ERR_STATE_UNAVAILABLE', 'this sidekey has not been able to read the shared quarantine list since it started (the state store is unreachable), so it cannot tell whether this workload is quarantined and serves no one until it can; retry in a few seconds')
  }
  if (caller.workload !== null) {
    const quarantine = state.quarantined(caller.workload)
    if (quarantine === undefined) return null
    return new SidekeyError('SIDEKEY_ERR_QUARANTINED', `workload "${caller.workload}" is quarantined (${quarantine.reason}) until an admin releases it`)
  }
  const own = state.quarantined(ANONYMOUS)
  if (own !== undefined) return new SidekeyError('SIDEKEY_ERR_QUARANTINED', `callers without a run token are quarantined (${own.reason}) until an admin releases them`)
  const any = state.listQuarantined()[0]
  if (any === undefined) return null
  return new SidekeyError('SIDEKEY_ERR_QUARANTINED', `workload "${any.workload}" is quarantined, and a caller without a run token cannot be told apart from it: requests without a run token are refused until every quarantine is released`)
}
