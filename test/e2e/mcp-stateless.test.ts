import t from 'tap'
import { request } from 'undici'
import { Client, ProtocolError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { MCP_HOST, startMcpSidekey } from '../helpers/mcp-sidekey.js'
import { startStatelessMcpUpstream } from '../helpers/mcp-stateless.js'
import { noSecretsLogged, SECRETS } from '../helpers/sidekey.js'
import { upstreamTrust } from '../helpers/upstream.js'

// The SDK v2 client and server speaking the stateless 2026-07-28 revision (Mcp-Method, Mcp-Name,
// Mcp-Param-* on every POST, no session) through sidekey on intercepted HTTPS; then requests
// written by hand that try to make sidekey and the server read a call differently.

const MODERN = '2026-07-28'

t.test('MCP SDK v2, stateless 2026-07-28, through sidekey', async (t) => {
  const trust = await upstreamTrust()
  const server = await startStatelessMcpUpstream(trust, MCP_HOST)
  t.teardown(() => server.close())
  const { sk, dispatcher, url, fetch, nextApproval, decide } = await startMcpSidekey(
    t,
    server,
    trust,
    `      stateless: true
      tools:
        - name: search_issues
        - name: create_issue
          conditions:
            rate: { requests: 2, per_s: 3600 }
            cel: ['mcp.arguments.repo.startsWith("acme/")']
        - name: delete_*
          approval: { timeout_s: 30 }
        - name: slow_report
`,
  )
  const client = new Client({ name: 'agent', version: '2.0.0' }, { versionNegotiation: { mode: { pin: MODERN } } })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch }))
  t.teardown(() => client.close())

  t.test('the client speaks 2026-07-28 and sees only the tools it may call', async (t) => {
    const { tools } = await client.listTools()
    t.same(tools.map((x) => x.name).sort(), ['create_issue', 'delete_repo', 'search_issues', 'slow_report'])
    const seen = server.seen.at(-1)!
    t.equal(seen.headers['mcp-protocol-version'], MODERN)
    t.equal(seen.headers['mcp-method'], 'tools/list')
    t.equal(seen.headers['mcp-session-id'], undefined, 'no session')
  })

  t.test('an allowed call, with its Mcp-Name and Mcp-Param-Repo headers agreeing, goes up with the credential', async (t) => {
    const r = await client.callTool({ name: 'create_issue', arguments: { repo: 'acme/site', title: 'broken link' } })
    t.same(JSON.parse((r.content as { text: string }[])[0]!.text), { tool: 'create_issue', args: { repo: 'acme/site', title: 'broken link' } })
    t.equal(server.called.at(-1)!.authorization, `Bearer ${SECRETS.GITHUB}`)
    const seen = server.seen.at(-1)!
    t.equal(seen.headers['mcp-name'], 'create_issue')
    t.equal(seen.headers['mcp-param-repo'], 'acme/site')
  })

  t.test('a CEL condition over mcp.arguments refuses in MCP terms', async (t) => {
    const err = await client.callTool({ name: 'create_issue', arguments: { repo: 'evil/site', title: 'x' } }).catch((e: unknown) => e)
    t.type(err, ProtocolError)
    t.match((err as ProtocolError).data, { sidekey_error: 'SIDEKEY_ERR_CONDITION_FAILED', call: 'tools/call "create_issue"' })
  })

  t.test('a denied tool raises the JSON-RPC error in the client', async (t) => {
    const before = server.called.length
    const err = await client.callTool({ name: 'admin_wipe', arguments: {} }).catch((e: unknown) => e)
    t.type(err, ProtocolError)
    t.equal((err as ProtocolError).code, -32003)
    t.match((err as ProtocolError).message, /admin_wipe.*SIDEKEY_ERR_MCP_DENIED/)
    t.equal(server.called.length, before)
  })

  t.test('approval: approved runs, denied raises', async (t) => {
    const pending = client.callTool({ name: 'delete_repo', arguments: { repo: 'acme/old' } })
    const a = await nextApproval()
    t.match(a.why, /tools\/call "delete_repo"/)
    await decide(a.id, 'approve')
    t.ok(await pending)
    const refused = client.callTool({ name: 'delete_repo', arguments: { repo: 'acme/main' } }).catch((e: unknown) => e)
    await decide((await nextApproval()).id, 'deny')
    t.match(((await refused) as ProtocolError).data, { sidekey_error: 'SIDEKEY_ERR_APPROVAL_DENIED' })
  })

  t.test('the rate limit of create_issue', async (t) => {
    await client.callTool({ name: 'create_issue', arguments: { repo: 'acme/a', title: 'b' } })
    const err = await client.callTool({ name: 'create_issue', arguments: { repo: 'acme/a', title: 'c' } }).catch((e: unknown) => e)
    t.match((err as ProtocolError).data, { sidekey_error: 'SIDEKEY_ERR_RATE_LIMITED' })
  })

  t.test('progress arrives while the tool runs', async (t) => {
    const progress: number[] = []
    await client.callTool({ name: 'slow_report', arguments: { steps: 2 } }, { onprogress: (p) => (progress.push(p.progress), server.openGate()) })
    t.same(progress, [1])
  })

  // Requests written by hand: sent through the same proxy and tunnel, checked against what reached the server.
  const send = async (body: string | Buffer, headers: Record<string, string | null> = {}, method = 'POST') => {
    const before = server.seen.length
    const all = Object.entries({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': MODERN, ...headers }).filter((e): e is [string, string] => e[1] !== null)
    const res = await request(url, { dispatcher, method: method as 'POST', headers: Object.fromEntries(all), body: method === 'GET' || method === 'DELETE' ? undefined : body })
    const text = await res.body.text()
    let json: unknown = null
    try {
      json = JSON.parse(text)
    } catch {
      // Not every refusal has a JSON body to assert on.
    }
    return { status: res.statusCode, error: res.headers['x-sidekey-error'], json: json as { id?: unknown; error?: { code: number; message: string; data: Record<string, unknown> } } & Record<string, unknown>, reached: server.seen.length - before }
  }
  const call = (name: string, args: unknown = {}, id: unknown = 7) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } })
  // As SEP-2243 sends a value a header cannot carry: base64 in a sentinel.
  const modern = (name: string) => ({ 'mcp-method': 'tools/call', 'mcp-name': /^[\x20-\x7e]*$/.test(name) ? name : `=?base64?${Buffer.from(name).toString('base64')}?=` })

  t.test('hostile: headers that disagree with the body are HeaderMismatch (400, -32020)', async (t) => {
    for (const [what, headers, body] of [
      ['Mcp-Method names another method', { 'mcp-method': 'tools/list', 'mcp-name': 'admin_wipe' }, call('admin_wipe')],
      ['Mcp-Name names an allowed tool, the body a denied one', modern('search_issues'), call('admin_wipe')],
      ['Mcp-Name in base64 naming another tool', { 'mcp-method': 'tools/call', 'mcp-name': `=?base64?${Buffer.from('search_issues').toString('base64')}?=` }, call('admin_wipe')],
      ['Mcp-Param-Repo carries a value no argument has', { ...modern('create_issue'), 'mcp-param-repo': 'acme/site' }, call('create_issue', { repo: 'evil/site', title: 'x' })],
      ['no Mcp-Method on a 2026-07-28 request', { 'mcp-name': 'search_issues' }, call('search_issues', { query: 'x' })],
    ] as const) {
      const r = await send(body, headers)
      t.equal(r.status, 400, what)
      t.equal(r.error, 'SIDEKEY_ERR_MCP_HEADER_MISMATCH', what)
      t.match(r.json, { jsonrpc: '2.0', id: 7, error: { code: -32020, message: /HeaderMismatch/ } }, what)
      t.equal(r.reached, 0, `${what}: nothing reached the server`)
    }
    const agreeing = await send(call('search_issues', { query: 'x' }), { ...modern('search_issues'), 'mcp-name': `=?base64?${Buffer.from('search_issues').toString('base64')}?=` })
    // The server goes on to refuse it for its own reasons (no _meta envelope): sidekey let it through.
    t.match(agreeing, { error: undefined, reached: 1 }, 'a base64-encoded Mcp-Name that agrees is fine')
  })

  t.test('hostile: a batch mixing an allowed and a denied call is refused whole', async (t) => {
    const batch = JSON.stringify([JSON.parse(call('search_issues', { query: 'x' }, 1)), JSON.parse(call('admin_wipe', {}, 2))])
    // 2025-03-26 (no MCP-Protocol-Version header) is the one revision with batches.
    const r = await send(batch, { 'mcp-protocol-version': null })
    t.equal(r.status, 200)
    t.match(r.json, [
      { id: 1, error: { code: -32003, data: { sidekey_error: 'SIDEKEY_ERR_MCP_DENIED', call: 'tools/call "admin_wipe"' } } },
      { id: 2, error: { code: -32003 } },
    ])
    t.equal(r.reached, 0)
    const line = await sk.sink.waitForAudit((l) => l.mcp_batch === 2)
    t.match(line, { decision: 'deny', reason: 'mcp-tool-not-allowed', mcp_method: 'tools/call', mcp_tool: 'search_issues', mcp_id: 1 }, 'the audit line names the batch\'s first call')
    t.same(line.mcp_tools, ['search_issues', 'admin_wipe'], 'and every tool the batch called (the new-tool anomaly learns each)')
    const listing = await send(JSON.stringify([{ jsonrpc: '2.0', id: 5, method: 'tools/list' }, JSON.parse(call('admin_wipe', {}, 6))]), { 'mcp-protocol-version': null })
    t.match(listing.json, [{ id: 5, error: { code: -32003 } }, { id: 6 }])
    t.match(await sk.sink.waitForAudit((l) => l.mcp_batch === 2 && l.mcp_id === 6), { mcp_tool: 'admin_wipe' }, 'a call that names something is named before a listing')
    const modernBatch = await send(batch)
    t.match(modernBatch, { status: 400, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, '2026-07-28 has no batches')
    t.match(modernBatch.json, { id: null, error: { code: -32600, message: /batch .* not part of MCP revision 2026-07-28/ } })
  })

  t.test('hostile: look-alike and case-variant tool names are refused, never matched', async (t) => {
    for (const [name, why] of [
      ['d\u0435lete_repo', 'Cyrillic e: would slip past delete_* and its approval'],
      ['search_issues\u200b', 'a zero-width space'],
      ['Delete_repo', 'letter case: delete_* names it for a server that ignores case'],
      ['ＤELETE_repo', 'fullwidth letters'],
    ]) {
      const r = await send(call(name!), modern(name!))
      t.equal(r.error, 'SIDEKEY_ERR_MCP_NAME_REFUSED', why)
      t.equal(r.json.error?.code, -32003, why)
      t.equal(r.reached, 0, why)
    }
    const sk2 = sk.sink.audits.at(-1)!
    t.equal(sk2.mcp_tool, 'ＤELETE_repo', 'the audit line names the tool as sent')
  })

  t.test('hostile: duplicate keys, and keys differing only in case, are refused', async (t) => {
    for (const body of [
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","name":"admin_wipe","arguments":{}}}',
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","Name":"admin_wipe","arguments":{}}}',
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","method":"tools/list","params":{"name":"search_issues","arguments":{}}}',
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","arguments":{"query":"a","query":"b"}}}',
    ]) {
      const r = await send(body, modern('search_issues'))
      t.match(r, { status: 200, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, body)
      t.match(r.json, { id: 7, error: { code: -32600 } })
    }
  })

  t.test('hostile: huge and deeply nested arguments', async (t) => {
    const huge = await send(call('search_issues', { query: 'x'.repeat(1024 * 1024 + 10) }), modern('search_issues'))
    t.match(huge, { status: 413, error: 'SIDEKEY_ERR_BODY_TOO_LARGE', reached: 0 })
    let deep: unknown = 'x'
    for (let i = 0; i < 40; i++) deep = { a: deep }
    const nested = await send(call('search_issues', { query: deep }), modern('search_issues'))
    t.match(nested, { status: 200, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 })
    t.match(nested.json.error?.message, /nests 4\d levels deep/)
  })

  t.test('hostile: bodies that are not JSON-RPC', async (t) => {
    // With an id sidekey could read, the error answers that request (200); without, it has a null id (400).
    for (const [body, code, id] of [
      ['tools/call admin_wipe', -32700, null],
      [Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), -32700, null],
      ['{"id":7,"method":"tools/call","params":{"name":"admin_wipe"}}', -32600, 7],
      ['{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"admin_wipe"}}', -32600, null],
      ['{"jsonrpc":"2.0","id":7,"method":"tools/call","params":["admin_wipe"]}', -32600, 7],
      ['{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"admin_wipe"},"result":{}}', -32600, 7],
    ] as const) {
      const r = await send(body)
      t.match(r, { status: id === null ? 400 : 200, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, String(body))
      t.match(r.json, { jsonrpc: '2.0', id, error: { code } }, String(body))
    }
  })

  t.test('hostile: a GET stream (or a DELETE) on a stateless route', async (t) => {
    const r = await send('', { accept: 'text/event-stream' }, 'GET')
    t.match(r, { status: 405, error: 'SIDEKEY_ERR_MCP_NO_SESSIONS', reached: 0 })
    t.match(await send('', {}, 'DELETE'), { status: 405, error: 'SIDEKEY_ERR_MCP_NO_SESSIONS', reached: 0 })
    const put = await send(call('admin_wipe'), {}, 'PUT')
    t.match(put, { status: 400, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, 'only a POST carries JSON-RPC: another method with a body is refused')
    // A server that also speaks a session revision would take the id as that session (found by a red-team run).
    t.match(await send(call('search_issues'), { 'mcp-session-id': 'someone-elses-session' }), { status: 400, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, 'a POST naming a session on a stateless route is refused')
  })

  noSecretsLogged(t, sk)
})

t.test('report-only: a call that would be refused goes on, uncredentialed, and the audit line says so', async (t) => {
  const trust = await upstreamTrust()
  const server = await startStatelessMcpUpstream(trust, MCP_HOST)
  t.teardown(() => server.close())
  const { sk, dispatcher, url } = await startMcpSidekey(t, server, trust, '      tools: [{ name: search_issues }]\n', { reportOnly: true })
  const res = await request(url, {
    dispatcher,
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'admin_wipe', arguments: {} } }),
  })
  await res.body.text()
  t.equal(res.headers['x-sidekey-error'], undefined, 'not refused')
  t.equal(server.seen.length, 1, 'it reached the server')
  t.equal(server.seen[0]!.headers.authorization, undefined, 'without the credential')
  const line = await sk.sink.waitForAudit((a) => a.mcp_tool === 'admin_wipe')
  t.match(line, { decision: 'allow', report_only: true, reason: 'would-refuse:mcp-tool-not-allowed', credential: null, error: null })
})

