import t from 'tap'
import { fetch as undiciFetch, ProxyAgent, request } from 'undici'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { startMcpUpstream } from '../helpers/mcp-servers.js'
import { MCP_HOST, startMcpSidekey } from '../helpers/mcp-sidekey.js'
import { noSecretsLogged, SECRETS } from '../helpers/sidekey.js'
import { upstreamTrust } from '../helpers/upstream.js'

// The official MCP TypeScript SDK (v1, session-based Streamable HTTP: initialize, Mcp-Session-Id,
// SSE answers) through sidekey on intercepted HTTPS: the client sees only the tools policy lets it
// call, an allowed call goes up with the credential sidekey holds, a denied one comes back as the
// JSON-RPC error the client raises, approvals and rate limits apply per tool, and progress
// notifications arrive one by one.

for (const json of [false, true]) {
  t.test(`MCP SDK v1 through sidekey (${json ? 'JSON' : 'SSE'} answers)`, async (t) => {
    const trust = await upstreamTrust()
    const server = await startMcpUpstream(trust, MCP_HOST, { json })
    t.teardown(() => server.close())
    const { sk, url, fetch, dispatcher, nextApproval, decide } = await startMcpSidekey(
      t,
      server,
      trust,
      `      log_arguments: true
      tools:
        - name: search_issues
        - name: create_issue
          conditions: { rate: { requests: 2, per_s: 3600 } }
        - name: delete_*
          approval: { timeout_s: 30 }
        - name: slow_report
      resources:
        - uri: "repo://acme/readme"
      prompts:
        - name: triage
`,
    )
    const transport = new StreamableHTTPClientTransport(new URL(url), { fetch })
    const client = new Client({ name: 'agent', version: '1.0.0' })
    await client.connect(transport)
    t.teardown(() => client.close())

    t.test('tools/list shows only what the agent may call', async (t) => {
      const { tools } = await client.listTools()
      t.same(tools.map((x) => x.name).sort(), ['create_issue', 'delete_repo', 'search_issues', 'slow_report'])
      const line = await sk.sink.waitForAudit((a) => a.mcp_method === 'tools/list')
      t.equal(line.mcp_hidden, 1, 'the audit line counts what was hidden')
      t.equal(line.mcp_outcome, 'result')
    })

    t.test('resources/list and prompts/list are filtered too', async (t) => {
      t.same((await client.listResources()).resources.map((r) => r.uri), ['repo://acme/readme'])
      t.same((await client.listPrompts()).prompts.map((p) => p.name), ['triage'])
    })

    t.test('an allowed call goes up with the credential sidekey holds', async (t) => {
      const r = await client.callTool({ name: 'search_issues', arguments: { query: 'is:open' } })
      t.same(JSON.parse((r.content as { text: string }[])[0]!.text), { tool: 'search_issues', args: { query: 'is:open' } })
      t.equal(server.called.at(-1)!.authorization, `Bearer ${SECRETS.GITHUB}`, 'the agent holds no token; sidekey injected it')
      const line = await sk.sink.waitForAudit((a) => a.mcp_tool === 'search_issues')
      t.match(line, { decision: 'allow', mcp_method: 'tools/call', mcp_outcome: 'result', mcp_arguments: '{"query":"is:open"}', status: 200 })
    })

    t.test('a tool no rule allows raises the JSON-RPC error in the client, and never reaches the server', async (t) => {
      const before = server.called.length
      const err = await client.callTool({ name: 'admin_wipe', arguments: {} }).catch((e: unknown) => e)
      t.type(err, McpError)
      t.equal((err as McpError).code, -32003)
      t.match((err as McpError).message, /sidekey refused tools\/call "admin_wipe".*SIDEKEY_ERR_MCP_DENIED/)
      t.match((err as McpError).data, { sidekey_error: 'SIDEKEY_ERR_MCP_DENIED', call: 'tools/call "admin_wipe"' })
      t.equal(server.called.length, before)
      const line = await sk.sink.waitForAudit((a) => a.mcp_tool === 'admin_wipe')
      t.match(line, { decision: 'deny', reason: 'mcp-tool-not-allowed', mcp_outcome: 'SIDEKEY_ERR_MCP_DENIED', status: 200, error: 'SIDEKEY_ERR_MCP_DENIED' })
    })

    t.test('resources and prompts outside the rules are refused', async (t) => {
      await t.rejects(client.readResource({ uri: 'repo://acme/secrets' }), /SIDEKEY_ERR_MCP_DENIED/)
      await t.rejects(client.getPrompt({ name: 'exfiltrate' }), /SIDEKEY_ERR_MCP_DENIED/)
      t.equal((await client.readResource({ uri: 'repo://acme/readme' })).contents.length, 1)
    })

    t.test('delete_* waits for a person: approved, it runs; denied, the client gets the error', async (t) => {
      const pending = client.callTool({ name: 'delete_repo', arguments: { repo: 'acme/old' } })
      const a = await nextApproval()
      t.match(a.why, /tools\/call "delete_repo"/, 'the approver sees the tool')
      t.match(a.body, /"arguments":\{"repo":"acme\/old"\}/, 'and its arguments')
      t.equal(a.route, 'github-mcp/tool:delete_*')
      await decide(a.id, 'approve')
      const r = await pending
      t.match((r.content as { text: string }[])[0]!.text, /"tool":"delete_repo"/)

      const refused = client.callTool({ name: 'delete_repo', arguments: { repo: 'acme/main' } }).catch((e: unknown) => e)
      await decide((await nextApproval()).id, 'deny')
      const err = await refused
      t.type(err, McpError)
      t.match((err as McpError).message, /SIDEKEY_ERR_APPROVAL_DENIED/)
      t.equal(server.called.filter((c) => c.name === 'delete_repo').length, 1, 'only the approved call ran')
    })

    t.test('a tool over its rate limit is refused in MCP terms, others go on', async (t) => {
      await client.callTool({ name: 'create_issue', arguments: { title: 'a' } })
      await client.callTool({ name: 'create_issue', arguments: { title: 'b' } })
      const err = await client.callTool({ name: 'create_issue', arguments: { title: 'c' } }).catch((e: unknown) => e)
      t.type(err, McpError)
      t.match((err as McpError).data, { sidekey_error: 'SIDEKEY_ERR_RATE_LIMITED' })
      t.ok(((err as McpError).data as { retry_after_s: number }).retry_after_s > 0)
      t.ok(await client.callTool({ name: 'search_issues', arguments: { query: 'x' } }), 'the route itself is not limited')
    })

    if (!json) {
      t.test('progress notifications arrive while the tool still runs', async (t) => {
        const progress: number[] = []
        const call = client.callTool({ name: 'slow_report', arguments: { steps: 2 } }, undefined, {
          onprogress: (p) => {
            progress.push(p.progress)
            // The tool finishes only after the client saw its first event: the SSE stream was not held back.
            server.openGate()
          },
        })
        await call
        t.same(progress, [1])
      })
    }
    // Last: the workload is quarantined by it.
    t.test("a session belongs to the workload that opened it: another workload naming it gets 404, as for an unknown session", async (t) => {
      const session = transport.sessionId
      t.ok(session, 'the SDK client has a session')
      const intruder = new ProxyAgent({ uri: sk.proxyUrlFor('intruder'), requestTls: { ca: sk.ca.certPem } })
      t.teardown(() => intruder.close())
      const before = server.seen.length
      const headers = { 'mcp-session-id': session!, 'mcp-protocol-version': '2025-06-18', accept: 'application/json, text/event-stream', 'content-type': 'application/json' }
      const stream = await request(url, { dispatcher: intruder, method: 'GET', headers })
      await stream.body.dump()
      t.equal(stream.statusCode, 404, 'the GET stream of another workload\'s session is refused')
      t.equal(stream.headers['x-sidekey-error'], 'SIDEKEY_ERR_MCP_SESSION_UNKNOWN')
      const call = await request(url, { dispatcher: intruder, method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'search_issues', arguments: {} } }) })
      const answer = (await call.body.json()) as { code?: string; message?: string }
      t.equal(call.statusCode, 404, 'a POST on it too: the specification has a client open a new session on 404')
      t.equal(answer.code, 'SIDEKEY_ERR_MCP_SESSION_UNKNOWN')
      t.match(answer.message, /start a new session/)
      const twice = await request(url, { dispatcher: intruder, method: 'GET', headers: { ...headers, mcp_session_id: 'another' } })
      await twice.body.dump()
      t.equal(twice.headers['x-sidekey-error'], 'SIDEKEY_ERR_MCP_INVALID', 'a second spelling of the header is refused')
      const madeUp = await request(url, { dispatcher, method: 'GET', headers: { ...headers, 'mcp-session-id': 'made-up' } })
      await madeUp.body.dump()
      t.equal(madeUp.statusCode, 404, 'so is a session id sidekey never saw opened, from the right workload')
      t.equal(server.seen.length, before, 'none of them reached the server')
      const line = await sk.sink.waitForAudit((a) => a.workload === 'intruder' && a.error === 'SIDEKEY_ERR_MCP_SESSION_UNKNOWN')
      t.equal(line.reason, 'mcp-session-unknown')

      t.ok((await client.listTools()).tools.length > 0, 'the session still works for the workload that opened it')
      const other = new Client({ name: 'intruder', version: '1.0.0' })
      const own = new StreamableHTTPClientTransport(new URL(url), { fetch: ((u: string | URL, init?: RequestInit) => undiciFetch(u, { ...(init as object), dispatcher: intruder })) as typeof globalThis.fetch })
      await other.connect(own)
      t.teardown(() => other.close())
      t.ok((await other.listTools()).tools.length > 0, 'another workload opens a session of its own and uses it')
      t.not(own.sessionId, session)
    })

    t.test('a managed secret in tool arguments is refused before anything reads or logs it', async (t) => {
      const before = server.called.length
      // A JSON-RPC error, as every refusal on an MCP route: the client reads the reason.
      await t.rejects(client.callTool({ name: 'search_issues', arguments: { query: SECRETS.GITHUB } }), { code: -32003, message: /sidekey refused.*SIDEKEY_ERR_SECRET_DETECTED/ })
      t.equal(server.called.length, before)
      const line = await sk.sink.waitForAudit((a) => a.error === 'SIDEKEY_ERR_SECRET_DETECTED')
      t.equal(line.mcp_arguments, undefined, 'never parsed, never logged')
    })
    noSecretsLogged(t, sk)
  })
}
