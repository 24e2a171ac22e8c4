import { refuseBodyOverride } from '../../accept/method-override.js'
import { ConditionRefusal, SidekeyError } from '../../errors.js'
import { resolveChecked, type CheckedAddress } from '../../forward/ssrf.js'
import { guardRequest as guardUnderRoute } from '../../guard/request-guard.js'
import type { Route } from '../../policy/types.js'
import { subjectOf } from '../../mcp/decide.js'
import { celFacts } from '../../mcp/facts.js'
import type { ProxyContext } from '../context.js'
import { known, type RequestExchange, type Stage } from '../exchange.js'
import { decideAgainAfterHold, heldAndApproved } from './after-hold.js'
import { reasonOf, recordWouldRefuse } from './audit.js'

/**
 * The guard stage, for a request a route allowed: the route's conditions (on a SigV4 route, S3 headers
 * and subresources that reach past the URL, `guard/aws-resource.ts`), limits and approval
 * (`guard/request-guard.ts`), then the destination itself: resolved once and every address checked
 * by the SSRF guard, before anything is obtained for it. Report-only mode records what would have
 * been refused and lets the request through without its credential.
 */
export const guardRequest: Stage<RequestExchange> = {
  name: 'guard',
  async run(ctx, ex) {
    const target = known(ex.target, 'a target')
    const caller = known(ex.caller, 'a caller')
    let decision = known(ex.decision, 'a decision')
    let route = decision.route
    if (route !== null && !decision.reportOnly) {
      const method = ex.override?.method ?? ex.req.method ?? 'GET'
      let guarded
      try {
        guarded = await guardUnderRoute(ctx, route, { workload: caller.workload, host: target.host, port: target.port, method, ...(ex.override === null ? {} : { sentMethod: ex.req.method ?? 'GET' }), pathname: target.pathname, path: target.path, rawHeaders: ex.req.rawHeaders, signal: ex.signal, reportOnly: ctx.config.reportOnly, ...mcpInput(ex) }, ex.req)
      } catch (err) {
        if (err instanceof ConditionRefusal) ex.audit.condition = err.condition
        // A request answered "pending" or denied names its approval on the audit line too.
        if (err instanceof SidekeyError && typeof err.details?.approval_id === 'string') ex.audit.approval = err.details.approval_id
        throw err
      }
      ex.guarded = guarded
      if (guarded.wouldRefuse !== null) {
        decision = { ...decision, reportOnly: true }
        ex.decision = decision
        ex.audit.condition = guarded.wouldRefuse.condition
        recordWouldRefuse(ex.audit, reasonOf(guarded.wouldRefuse.code))
      }
      // The store was down and the route fails open: say which limits this request was not counted against.
      if (guarded.uncounted.length > 0) ex.audit.uncounted = guarded.uncounted
      if (guarded.approval !== null) ex.audit.approval = guarded.approval.via === 'grant' ? 'grant' : guarded.approval.record.id
      // It waited for a person: a reload meanwhile may have changed what decides it.
      if (heldAndApproved(guarded.approval)) route = decideAgainAfterHold(ctx, ex).route
      // A body already read is checked whole for a `_method` field; a streamed one on its way up.
      if (guarded.body !== null) refuseBodyOverride(ex.req.rawHeaders, guarded.body)
    }
    ex.to = await checkedDestination(ctx, target, route)
  },
}

/** Nothing to add for a request that is not an MCP POST: one object for all of them. */
const NOT_MCP: { alreadyRead?: Buffer | null; mcp?: unknown; calls?: number } = Object.freeze({})

/**
 * What the MCP guard already read and parsed (a POST on an MCP route): the body, CEL's `mcp` for a
 * single message, and for a batch how many calls it carries, each counted against the route's
 * rate limit and quota (found by a red-team run: three POSTs of 60 calls each ran 180 under a
 * limit of 3).
 */
function mcpInput(ex: RequestExchange): { alreadyRead?: Buffer | null; mcp?: unknown; calls?: number } {
  if (ex.mcp === null) return NOT_MCP
  const single = ex.mcp.body.batch ? null : ex.mcp.body.messages[0]!
  if (single === null) return { alreadyRead: ex.guarded.body, calls: ex.mcp.body.messages.filter((m) => m.kind === 'request').length }
  if (single.kind === 'response') return { alreadyRead: ex.guarded.body }
  return { alreadyRead: ex.guarded.body, mcp: celFacts(single, subjectOf(single)) }
}

/** The address to connect to for `authority`, checked by the SSRF guard (`--connect-to` applied). */
export function checkedDestination(ctx: ProxyContext, authority: { host: string; port: number }, route: Route | null): Promise<CheckedAddress> {
  return resolveChecked(authority.host, authority.port, route, ctx.resolver, ctx.config.connectTo.get(`${authority.host}:${authority.port}`))
}
