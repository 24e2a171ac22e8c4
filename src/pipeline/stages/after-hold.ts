import type { HoldOutcome } from '../../approvals/approvals.js'
import { SidekeyError } from '../../errors.js'
import { decideMcpMessage } from '../../mcp/decide.js'
import type { McpCall } from '../../mcp/jsonrpc.js'
import type { McpVerdict } from '../../mcp/decide.js'
import type { Decision } from '../../policy/decide.js'
import type { ProxyContext } from '../context.js'
import { known, type RequestExchange } from '../exchange.js'
import { recordRefused } from './audit.js'
import { refusalFor, requestDecision } from './decide.js'

/** A request that waited for a person (not an asynchronous retry, not a grant): a reload may have come meanwhile. */
export function heldAndApproved(approval: HoldOutcome | null): boolean {
  return approval !== null && approval.via === 'approved' && approval.record.mode !== 'async'
}

/**
 * A request held for approval waits, for minutes maybe, after the policy that allowed it was read;
 * a reload meanwhile may have removed, narrowed or replaced its route (found by a red-team run: a
 * held request was forwarded once approved although a reload had removed its route). So once
 * approved it is decided again under the policy in force, unless no reload touched its route:
 * refused as that policy refuses it, or when another route now decides it (its approval was asked
 * under this one); otherwise it goes on under the route as it now reads (its credential, its
 * upstream settings). Nothing is re-asked: the person approved this request on this route.
 */
export function decideAgainAfterHold(ctx: ProxyContext, ex: RequestExchange): Decision {
  const decision = known(ex.decision, 'a decision')
  const held = decision.route!
  const policy = ctx.policy.current
  if (policy.routes.includes(held)) return decision
  const target = known(ex.target, 'a target')
  const caller = known(ex.caller, 'a caller')
  const again = requestDecision(ctx, policy, { workload: caller.workload, host: target.host, port: target.port, method: ex.req.method ?? 'GET', path: target.pathname, ambiguity: target.ambiguity, override: ex.override })
  if (again.action === 'deny') {
    recordRefused(ex.audit, 'policy-changed')
    throw refusalFor(again, caller, target, ex.override)
  }
  if (again.route?.name !== held.name || again.reportOnly !== decision.reportOnly) {
    recordRefused(ex.audit, 'policy-changed')
    throw policyChanged(held.name, again.route === null ? 'no route decides it now' : `route "${again.route.name}" decides it now`)
  }
  ex.decision = again
  return again
}

/**
 * The same for an MCP POST whose calls were approved: the route, then each call under the route's
 * `mcp:` rules as they now read (a tool a reload denied is refused; one now under another rule
 * was approved under a rule that no longer applies to it).
 */
export function decideMcpAgainAfterHold(ctx: ProxyContext, ex: RequestExchange, verdicts: readonly { m: McpCall; verdict: McpVerdict }[]): void {
  const before = known(ex.decision, 'a decision').route
  const again = decideAgainAfterHold(ctx, ex)
  if (again.route === before) return
  const mcp = again.route!.mcp
  if (mcp === null) {
    recordRefused(ex.audit, 'policy-changed')
    throw policyChanged(before!.name, 'it is no longer an MCP route')
  }
  for (const { m, verdict } of verdicts) {
    const now = decideMcpMessage(mcp, m)
    if (now.rule?.pattern !== verdict.rule?.pattern) {
      recordRefused(ex.audit, 'policy-changed')
      throw policyChanged(before!.name, `its call ${m.method} is under ${now.rule === null ? 'no rule' : `rule "${now.rule.pattern}"`} now`)
    }
  }
}

function policyChanged(route: string, now: string): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_POLICY_CHANGED', `the policy was reloaded while this request waited for approval, and route "${route}" that asked for it was changed (${now}); nothing was sent. Send the request again to have it decided under the policy in force`)
}
