import { methodOverride, type MethodOverride } from '../../accept/method-override.js'
import type { RequestTarget } from '../../accept/target.js'
import { SidekeyError } from '../../errors.js'
import { checkUpgradeRequest, upgradeRefusal } from '../../guard/upgrade-guard.js'
import type { Caller } from '../../identity/identify.js'
import { applyReportOnly, decideConnect, decideRequest as decideUnderPolicy, type Decision, type RequestFacts } from '../../policy/decide.js'
import { describeAmbiguity } from '../../policy/path.js'
import type { Policy } from '../../policy/types.js'
import type { ProxyContext } from '../context.js'
import { known, type ConnectionExchange, type RequestExchange, type Stage } from '../exchange.js'
import { recordDecision, recordRefused, recordWouldRefuse } from './audit.js'

/**
 * The decide stage: policy's answer for the exchange, report-only mode applied, timed. A request is
 * decided on the path and method the upstream would run (an override header naming another
 * method is decided too); a connection on its authority. A denied one is refused here, with a
 * message that says what would allow it.
 */
export const decideRequest: Stage<RequestExchange> = {
  name: 'decide',
  run(ctx, ex) {
    const target = known(ex.target, 'a target')
    const caller = known(ex.caller, 'a caller')
    const override = methodOverride(ex.req.rawHeaders, target.path)
    ex.override = override
    if (override !== null) ex.audit.method_override = override.method
    const decidedAt = performance.now()
    let decision = requestDecision(ctx, ctx.policy.current, { workload: caller.workload, host: target.host, port: target.port, method: ex.req.method ?? 'GET', path: target.pathname, ambiguity: target.ambiguity, override })
    recordDecision(ex.audit, decision)
    ex.audit.decision_ms = performance.now() - decidedAt
    if (decision.action === 'deny') throw refusalFor(decision, caller, target, override)
    if (ex.reply.kind === 'upgrade') decision = decideUpgrade(ctx, ex, decision)
    ex.decision = decision
  },
}

export const decideConnection: Stage<ConnectionExchange> = {
  name: 'decide',
  run(ctx, ex) {
    const authority = known(ex.authority, 'an authority')
    const caller = known(ex.caller, 'a caller')
    const decidedAt = performance.now()
    const decision = connectDecision(ctx, ctx.policy.current, caller, authority)
    recordDecision(ex.audit, decision)
    ex.audit.decision_ms = performance.now() - decidedAt
    // Where nothing readable can be said on the connection, a denied destination is intercepted
    // and each request inside is refused with an answer the agent can read.
    if (decision.action === 'deny' && !ex.refusalsInside) throw refusalFor(decision, caller, authority)
    ex.decision = decision
  },
}

/** A CONNECT (or redirected TLS connection) decided under `policy`, report-only mode applied. */
export function connectDecision(ctx: ProxyContext, policy: Policy, caller: Caller, authority: { host: string; port: number }): Decision {
  const decision = decideConnect(policy, { workload: caller.workload, host: authority.host, port: authority.port })
  return ctx.config.reportOnly ? applyReportOnly(decision) : decision
}

/** A request decided under `policy`, report-only mode applied. */
export function requestDecision(ctx: ProxyContext, policy: Policy, facts: RequestFacts): Decision {
  const decision = decideUnderPolicy(policy, facts)
  return ctx.config.reportOnly ? applyReportOnly(decision) : decision
}

/**
 * An upgrade is decided before anything is obtained or held for it: one sidekey cannot relay is
 * refused, and so is one its route does not allow (in report-only mode that is recorded, and the
 * upgrade goes on without the credential, like any request that would have been refused).
 */
function decideUpgrade(ctx: ProxyContext, ex: RequestExchange, decision: Decision): Decision {
  checkUpgradeRequest(ex.req.method ?? 'GET', ex.req.headers)
  const refusal = decision.route === null || decision.reportOnly ? null : upgradeRefusal(decision.route)
  if (refusal === null) return decision
  if (!ctx.config.reportOnly) {
    recordRefused(ex.audit, 'upgrade-refused')
    throw refusal
  }
  recordWouldRefuse(ex.audit, 'upgrade-refused')
  return { ...decision, reportOnly: true }
}

/** The refusal for a denied exchange: what was refused and what would allow it. */
export function refusalFor(decision: Decision, caller: Caller, target: { host: string; port: number; ambiguity?: RequestTarget['ambiguity'] }, override: MethodOverride | null = null): SidekeyError {
  const who = caller.workload === null ? 'an anonymous caller' : `workload "${caller.workload}"`
  const where = `${target.host}:${target.port}`
  const message = {
    'route-denies': `route "${decision.route?.name}" denies ${where}${override === null ? '' : ` (the method override in ${override.via} names ${override.method}; a request is decided on its own method and on the overridden one)`}`,
    'ambiguous-path': target.ambiguity ? describeAmbiguity(target.ambiguity, where) : 'the path has no single meaning',
    'method-override': `route "${decision.route?.name}" does not accept method overrides, and ${override?.via ?? 'the request'} names ${override?.method ?? 'another method'}: send ${override?.method ?? 'that method'} as the request method (or an admin sets method_override: true on the route)`,
    'override-skips-guards': `route "${decision.route?.name}" decides this request as sent, with conditions or an approval, and ${override?.via ?? 'the request'} names ${override?.method ?? 'another method'}, which another route decides without them; the upstream may run either method, so send the request without the override, or as ${override?.method ?? 'that method'} itself`,
    'guarded-variant': `the request is another spelling of what route "${decision.route?.name}" names (letter case, a trailing slash or dot, HEAD for GET), and that route has conditions or an approval; a later route would allow this spelling without them, while the upstream may take it for the same request. Send it exactly as route "${decision.route?.name}" names it`,
    'no-route': `no route allows ${where} for ${who} (default deny); to allow it, add a route for host ${target.host} port ${target.port}${caller.workload === null ? '' : ` with workload "${caller.workload}"`} to sidekey's policy`,
    'workload-not-allowed': `a route matches ${where} but not ${who}; to allow it, add ${caller.workload === null ? 'a run token (start the agent with `sidekey run`)' : `"${caller.workload}" to that route's workloads`}`,
    'anonymous-not-allowed': `no route allows ${where} without a run token; authenticate with the token \`sidekey run\` provides`,
  }[decision.reason as 'no-route'] ?? `refused: ${decision.reason}`
  return new SidekeyError(decision.code ?? 'SIDEKEY_ERR_NO_ROUTE', message)
}
