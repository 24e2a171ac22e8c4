import { mcpResponsePlan } from '../../mcp/list-filter.js'
import type { RequestExchange, Stage } from '../exchange.js'

/**
 * The MCP answer filter, planned after the response guard and run on the answer as it streams
 * back (mcp/list-filter.ts): list results lose what the agent may not use, and the audit line gets
 * the outcome of the call it names. Nothing for a request that is not an MCP POST with requests in
 * it, or one only report-only mode let through.
 */
export const filterMcpAnswers: Stage<RequestExchange> = {
  name: 'filter mcp answers',
  run(_ctx, ex) {
    const mcp = ex.mcp
    if (mcp === null || mcp.requests.size === 0 || ex.decision?.reportOnly !== false) return
    const audit = ex.audit
    ex.response = mcpResponsePlan(ex.response, {
      policy: mcp.policy,
      requests: mcp.requests,
      onOutcome: (id, outcome) => {
        if (audit.mcp_id === id) audit.mcp_outcome = outcome
      },
      onHidden: (count) => (audit.mcp_hidden = (audit.mcp_hidden ?? 0) + count),
    })
  },
}
