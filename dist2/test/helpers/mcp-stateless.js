import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { startUpstream } from './upstream.js';
/**
 * The same GitHub-like tools on the SDK v2 server, serving only the stateless 2026-07-28
 * revision (`createMcpHandler`, `legacy: 'reject'`: no session, no GET stream, every POST with
 * `Mcp-Method` and `Mcp-Name`). `create_issue`'s `repo` argument is marked `x-mcp-header: Repo`,
 * so the client mirrors it as `Mcp-Param-Repo`.
 */
export async function startStatelessMcpUpstream(trust, host) {
    const called = [];
    let gate = () => undefined;
    let gateOpen = new Promise((r) => (gate = r));
    const factory = () => {
        const server = new McpServer({ name: 'github-like', version: '2.0.0' });
        /** A tool that records its call; `run` may send one progress notification (when the client asked for progress). */
        const tool = (name, schema, run) => server.registerTool(name, { description: `${name} tool`, inputSchema: schema }, async (args, ctx) => {
            called.push({ name, args, authorization: ctx.http?.req?.headers.get('authorization') ?? undefined });
            const token = ctx.mcpReq._meta?.progressToken;
            const progress = async () => {
                if (token !== undefined)
                    await ctx.mcpReq.notify({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } });
            };
            if (run)
                await run(progress);
            return { content: [{ type: 'text', text: JSON.stringify({ tool: name, args }) }] };
        });
        tool('search_issues', z.object({ query: z.string() }));
        tool('create_issue', z.object({ repo: z.string().meta({ 'x-mcp-header': 'Repo' }), title: z.string() }));
        tool('delete_repo', z.object({ repo: z.string() }));
        tool('admin_wipe', z.object({}));
        tool('slow_report', z.object({ steps: z.number() }), async (progress) => {
            await progress();
            await gateOpen;
            gateOpen = new Promise((r) => (gate = r));
        });
        return server;
    };
    const node = toNodeHandler(createMcpHandler(factory, { legacy: 'reject' }));
    const upstream = await startUpstream((req, res, body) => void node(req, res, parsed(body)).catch((err) => res.destroy(err)), { trust, host });
    return { ...upstream, called, openGate: () => gate() };
}
/** The body as the Node adapter takes it pre-read: parsed JSON, or the text (the server answers what is not JSON). */
function parsed(body) {
    try {
        return body === '' ? undefined : JSON.parse(body);
    }
    catch {
        return body;
    }
}
//# sourceMappingURL=mcp-stateless.js.map