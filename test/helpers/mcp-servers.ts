import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { z } from 'zod'
import { startUpstream, type Upstream, type UpstreamTrust } from './upstream.js'

/**
 * A GitHub-like MCP server on the official SDK (v1, session-based Streamable HTTP), served over
 * HTTPS for sidekey to intercept. Its tools answer with what they were called with, and record
 * the Authorization header they saw (`called`), so a test can tell the credential was injected. `slow_report`
 * sends a progress notification, then waits for `gate` before it finishes: a client that saw the
 * progress before opening the gate proves the SSE stream arrived event by event.
 */
export interface McpUpstream extends Upstream {
  /** Tools the server ran, in order, with their arguments. */
  readonly called: { name: string; args: unknown; authorization: string | undefined }[]
  /** Opens `slow_report`'s wait. */
  openGate(): void
}

/** The tool names the server lists. */
export const SERVER_TOOLS = ['search_issues', 'create_issue', 'delete_repo', 'admin_wipe', 'slow_report'] as const

export async function startMcpUpstream(trust: UpstreamTrust, host: string, options: { json?: boolean } = {}): Promise<McpUpstream> {
  const called: McpUpstream['called'] = []
  let gate: () => void = () => undefined
  let gateOpen = new Promise<void>((r) => (gate = r))
  const sessions = new Map<string, StreamableHTTPServerTransport>()

  const build = (): McpServer => {
    const server = new McpServer({ name: 'github-like', version: '1.0.0' })
    /** A tool that records its call; `run` may send one progress notification (when the client asked for progress). */
    const tool = (name: string, shape: Record<string, z.ZodType>, run?: (progress: () => Promise<void>) => Promise<void>) =>
      server.registerTool(name, { description: `${name} tool`, inputSchema: shape }, async (args: Record<string, unknown>, extra) => {
        const authorization = extra.requestInfo?.headers.authorization as string | undefined
        called.push({ name, args, authorization })
        const token = extra._meta?.progressToken
        const progress = async (): Promise<void> => {
          if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: 1, total: 2 } })
        }
        if (run) await run(progress)
        return { content: [{ type: 'text' as const, text: JSON.stringify({ tool: name, args }) }] }
      })
    tool('search_issues', { query: z.string() })
    tool('create_issue', { title: z.string(), body: z.string().optional() })
    tool('delete_repo', { repo: z.string() })
    tool('admin_wipe', {})
    tool('slow_report', { steps: z.number() }, async (progress) => {
      await progress()
      await gateOpen
      gateOpen = new Promise<void>((r) => (gate = r))
    })
    server.registerResource('readme', 'repo://acme/readme', { description: 'the readme' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'hello' }] }))
    server.registerResource('secrets', 'repo://acme/secrets', { description: 'not for agents' }, async (uri) => ({ contents: [{ uri: uri.href, text: 'no' }] }))
    server.registerPrompt('triage', { description: 'triage an issue' }, async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'triage' } }] }))
    server.registerPrompt('exfiltrate', { description: 'not for agents' }, async () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'no' } }] }))
    return server
  }

  const handle = async (req: IncomingMessage, res: ServerResponse, body: string): Promise<void> => {
    const id = req.headers['mcp-session-id']
    let transport = typeof id === 'string' ? sessions.get(id) : undefined
    if (transport === undefined) {
      transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), enableJsonResponse: options.json ?? false, onsessioninitialized: (sid) => void sessions.set(sid, transport!) })
      await build().connect(transport)
    }
    await transport.handleRequest(req, res, body === '' ? undefined : (JSON.parse(body) as unknown))
  }
  const upstream = await startUpstream((req, res, body) => void handle(req, res, body).catch((err: Error) => res.destroy(err)), { trust, host })
  return { ...upstream, called, openGate: () => gate() }
}
