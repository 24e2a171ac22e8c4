import { mcpResponsePlan } from '../../mcp/list-filter.js';
/**
 * The MCP answer filter, planned after the response guard and run on the answer as it streams
 * back (mcp/list-filter.ts): list results lose what the agent may not use, and the audit line gets
 * the outcome of the call it names. On a GET stream (session revisions), which may replay earlier
 * answers when resumed, any answer holding a list is filtered. Nothing for other requests, or one
 * only report-only mode let through.
 */
export const filterMcpAnswers = {
    name: 'filter mcp answers',
    run(_ctx, ex) {
        const decision = ex.decision;
        const policy = decision?.route?.mcp ?? null;
        if (policy === null || decision?.reportOnly !== false || ex.reply.kind !== 'response')
            return;
        const mcp = ex.mcp;
        // A GET stream may replay earlier answers (resumption): lists on it are filtered by their shape.
        const stream = mcp === null && ex.req.method === 'GET';
        if (!stream && (mcp === null || mcp.requests.size === 0))
            return;
        const audit = ex.audit;
        ex.response = mcpResponsePlan(ex.response, {
            policy,
            requests: mcp?.requests ?? new Map(),
            byShape: stream,
            onOutcome: (id, outcome) => {
                if (audit.mcp_id === id)
                    audit.mcp_outcome = outcome;
            },
            onHidden: (count) => (audit.mcp_hidden = (audit.mcp_hidden ?? 0) + count),
        });
    },
};
//# sourceMappingURL=filter-mcp.js.map