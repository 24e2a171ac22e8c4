import type { HoldOutcome } from '../../approvals/approvals.js'
import { SidekeyError } from '../../errors.js'
import { decideMcpMessage } from '../../mcp/decide.js'
import type { McpCall } from '../../mcp/jsonrpc.js'
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
 * approved it goes on only if the policy in force still decides it by the same route, written the
 * same (its destination, conditions, approval and MCP rules as they were approved under): refused
 * as that policy refuses it, and otherwise, when the route changed, refused with
 * SIDEKEY_ERR_POLICY_CHANGED, to be sent again and decided (and asked about) afresh (a review
 * found that matching the route alone let a request past a condition the reload had added). A
 * reload that left the route as it was lets it go on, with the credentials as they now read.
 * `mcpCalls` decides an MCP POST's calls again first, so a tool the reload denies is refused as
 * such.
 */
export function decideAgainAfterHold(ctx: ProxyContext, ex: RequestExchange, mcpCalls: readonly McpCall[] = []): Decision {
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
  const route = again.route
  if (route?.name !== held.name || again.reportOnly !== decision.reportOnly) {
    recordRefused(ex.audit, 'policy-changed')
    throw policyChanged(held.name, route === null ? 'no route decides it now' : `route "${route.name}" decides it now`)
  }
  if (route.mcp !== null) {
    try {
      for (const m of mcpCalls) decideMcpMessage(route.mcp, m)
    } catch (err) {
      recordRefused(ex.audit, 'policy-changed')
      throw err
    }
  }
  if (route.definition !== held.definition) {
    recordRefused(ex.audit, 'policy-changed')
    throw policyChanged(held.name, 'its destination, conditions, approval or MCP rules were rewritten')
  }
  ex.decision = again
  return again
}

function policyChanged(route: string, now: string): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_POLICY_CHANGED', `the policy was reloaded while this request waited for approval, and route "${route}" that asked for it was changed (${now}); nothing was sent. Send the request again to have it decided under the policy in force`)
}
