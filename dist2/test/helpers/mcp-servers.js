import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';
import { startUpstream } from './upstream.js';
/** The tool names the server lists. */
export const SERVER_TOOLS = ['search_issues', 'create_issue', 'delete_repo', 'admin_wipe', 'slow_report'];
export async function startMcpUpstream(trust, host, options = {}) {
    const called = [];
    let gate = () => undefined;
    let gateOpen = new Promise((r) => (gate = r));
    const sessions = new Map();
    const build = () => {
        const server = new McpServer({ name: 'github-like', version: '1.0.0' });
        /** A tool that records its call; `run` may send one progress notification (when the client asked for progress). */
        const tool = (name, shape, run) => server.registerTool(name, { description: `${name} tool`, inputSchema: shape }, async (args, extra) => {
            const authorization = extra.requestInfo?.headers.authorization;
            called.push({ name, args, authorization });
            const token = extra._meta?.progressToken;
            const progress = async () => {
                if (token !== undefined)
                    await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } });
            };
            if (run)
                await run(progress);
            return { content: [{ type: 'text', text: JSON.stringify({ tool: name, args }) }] };
        });
        tool('search_issues', { query: z.string() });
        tool('create_issue', { title: z.string(), body: z.string().optional() });
        tool('delete_repo', { repo: z.string() });
        tool('admin_wipe', {});
        tool('slow_report', { steps: z.number() }, async (progress) => {
            await progress();
            await gateOpen;
            gateOpen = new Promise((r) => (gate = r));
        });
        server.registerResource('readme', 'repo://acme/readme', { description: 'the readme' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'hello' }] }));
        server.registerResource('secrets', 'repo://acme/secrets', { description: 'not for agents' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'no' }] }));
        server.registerPrompt('triage', { description: 'triage an issue' }, async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'triage' } }] }));
        server.registerPrompt('exfiltrate', { description: 'not for agents' }, async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'no' } }] }));
        return server;
    };
    const handle = async (req, res, body) => {
        const id = req.headers['mcp-session-id'];
        let transport = typeof id === 'string' ? sessions.get(id) : undefined;
        if (transport === undefined) {
            transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), enableJsonResponse: options.json ?? false, onsessioninitialized: (sid) => void sessions.set(sid, transport) });
            await build().connect(transport);
        }
        await transport.handleRequest(req, res, body === '' ? undefined : JSON.parse(body));
    };
    const upstream = await startUpstream((req, res, body) => void handle(req, res, body).catch((err) => res.destroy(err)), { trust, host });
    return { ...upstream, called, openGate: () => gate() };
}
//# sourceMappingURL=mcp-servers.js.map