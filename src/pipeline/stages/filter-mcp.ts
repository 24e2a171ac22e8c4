import type { ResponsePlan } from '../../guard/response-guard.js'
import { ANONYMOUS } from '../../identity/workload-name.js'
import { mcpResponsePlan } from '../../mcp/list-filter.js'
import { answeredSession } from '../../mcp/sessions.js'
import type { ProxyContext } from '../context.js'
import type { RequestExchange, Stage } from '../exchange.js'

/**
 * The MCP answer filter, planned after the response guard and run on the answer as it streams
 * back (mcp/list-filter.ts): list results lose what the agent may not use, and the audit line gets
 * the outcome of the call it names. On a GET stream (session revisions), which may replay earlier
 * answers when resumed, any answer holding a list is filtered. Nothing for other requests, or one
 * only report-only mode let through.
 */
export const filterMcpAnswers: Stage<RequestExchange> = {
  name: 'filter mcp answers',
  run(ctx, ex) {
    const decision = ex.decision
    const policy = decision?.route?.mcp ?? null
    if (policy === null || decision?.reportOnly !== false || ex.reply.kind !== 'response') return
    // The answer to a request that named no session may open one: it belongs to this caller.
    if (ex.opensMcpSession) ex.response = noteOpenedSession(ctx, ex, decision.route!.name)
    const mcp = ex.mcp
    // A GET stream may replay earlier answers (resumption): lists on it are filtered by their shape.
    const stream = mcp === null && ex.req.method === 'GET'
    if (!stream && (mcp === null || mcp.requests.size === 0)) return
    const audit = ex.audit
    ex.response = mcpResponsePlan(ex.response, {
      policy,
      requests: mcp?.requests ?? new Map(),
      byShape: stream,
      onOutcome: (id, outcome) => {
        if (audit.mcp_id === id) audit.mcp_outcome = outcome
      },
      onHidden: (count) => (audit.mcp_hidden = (audit.mcp_hidden ?? 0) + count),
    })
  },
}

/** The response plan, noting a session the server's answer opens (its `Mcp-Session-Id`) as this caller's. */
function noteOpenedSession(ctx: ProxyContext, ex: RequestExchange, route: string): ResponsePlan {
  const inner = ex.response
  const workload = ex.caller?.workload ?? ANONYMOUS
  const destination = `${ex.target!.host}:${ex.target!.port}`
  return {
    acceptEncoding: inner?.acceptEncoding ?? null,
    scrubs: inner?.scrubs ?? false,
    trailers: (fields) => inner?.trailers(fields) ?? fields,
    begin(status, headers) {
      const shaped = inner?.begin(status, headers) ?? { headers, filter: null, stages: [] }
      const opened = answeredSession(headers)
      if (opened !== null && status >= 200 && status < 300) ctx.mcpSessions.opened(route, destination, opened, workload)
      return shaped
    },
  }
}
