import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { Client, ProtocolError, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import type { ApprovalRecord } from '../../src/state/store.js'
import { curl } from '../helpers/clients.js'
import { MCP_HOST, startMcpSidekey } from '../helpers/mcp-sidekey.js'
import { startStatelessMcpUpstream } from '../helpers/mcp-stateless.js'
import { waitFor } from '../helpers/poll.js'
import { noSecretsLogged, SECRETS, startTestSidekey, type TestSidekey } from '../helpers/sidekey.js'
import { startUpstream, upstreamTrust } from '../helpers/upstream.js'

// A request held for approval waits under the policy that allowed it; a reload may come before a
// person decides (found by a red-team run: a held request was forwarded, once approved, although a
// reload had removed its route). Once approved it is decided again under the policy in force:
// refused as that policy refuses it, refused with SIDEKEY_ERR_POLICY_CHANGED when another route now
// decides it, and sent under the route as it now reads when only that route's settings changed.
// The MCP case: a tool call approved after a reload that denies the tool.

async function reload(sk: TestSidekey, edit: (policy: string) => string): Promise<void> {
  const file = join(sk.policyDir, 'policy.yaml')
  const before = await readFile(file, 'utf8')
  const after = edit(before)
  if (after === before) throw new Error('the edit changed nothing')
  await writeFile(file, after)
  const res = await request(`${sk.adminUrl}/v1/policy/reload`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}` } })
  const body = await res.body.text()
  if (res.statusCode !== 200) throw new Error(`reload refused: ${body}`)
}

async function nextPending(sk: TestSidekey, seen: Set<string>): Promise<ApprovalRecord> {
  const found = await waitFor('a pending approval', async () => (await sk.state.listApprovals()).find((a) => a.status === 'pending' && !seen.has(a.id)))
  seen.add(found.id)
  return found
}

async function approve(sk: TestSidekey, id: string, grantFor?: string): Promise<void> {
  const res = await request(`${sk.adminUrl}/v1/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(grantFor === undefined ? {} : { for: grantFor }) })
  await res.body.dump()
  if (res.statusCode !== 200) throw new Error(`approve answered ${res.statusCode}`)
}

t.test('HTTP: a held request is decided again once approved, under the policy in force', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const port = upstream.port
  const policy = `
version: v1
approvals: { quarantine_after_denials: 0 }
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
  other: { type: static, env: TEST_GITHUB_TOKEN }
routes:
  - name: pay
    host: pay.test
    ports: [${port}]
    addresses: [127.0.0.1]
    credential: key
    approval: { timeout_s: 60 }
`
  const sk = await startTestSidekey(t, policy, { connectTo: { [`pay.test:${port}`]: { host: '127.0.0.1', port }, [`pay2.test:${port}`]: { host: '127.0.0.1', port } } })
  const seen = new Set<string>()
  const send = (path: string) => curl(['-x', sk.proxyUrlFor('agent'), '-X', 'POST', '--data-binary', '{"amount":5}', `http://pay.test:${port}${path}`])
  const header = (headers: string, name: string) => new RegExp(`^${name}: *(.*?)\\r?$`, 'im').exec(headers)?.[1]

  t.test('the route a reload removed: refused as the new policy refuses it, nothing sent', async (t) => {
    const before = upstream.seen.length
    const pending = send('/removed')
    const held = await nextPending(sk, seen)
    await reload(sk, (p) => p.replace(/ {2}- name: pay[\s\S]*$/, '  - name: elsewhere\n    host: elsewhere.test\n'))
    await approve(sk, held.id)
    const r = await pending
    t.equal(r.status, 403)
    t.equal(header(r.headers, 'x-sidekey-error'), 'SIDEKEY_ERR_NO_ROUTE')
    t.equal(upstream.seen.length, before, 'the upstream saw nothing')
    const audit = await sk.sink.waitForAudit((l) => l.approval === held.id)
    t.equal(audit.reason, 'policy-changed')
    await reload(sk, () => policy)
  })

  t.test('another route decides it now: refused with SIDEKEY_ERR_POLICY_CHANGED', async (t) => {
    const before = upstream.seen.length
    const pending = send('/replaced')
    const held = await nextPending(sk, seen)
    await reload(sk, (p) => p.replace('  - name: pay\n', '  - name: pay-v2\n'))
    await approve(sk, held.id)
    const r = await pending
    t.equal(r.status, 409)
    t.equal(header(r.headers, 'x-sidekey-error'), 'SIDEKEY_ERR_POLICY_CHANGED')
    t.match((JSON.parse(r.body) as { message: string }).message, /route "pay" that asked for it was changed \(route "pay-v2" decides it now\); nothing was sent/)
    t.equal(upstream.seen.length, before)
    await reload(sk, () => policy)
  })

  t.test('the route rewritten (a condition added): refused with SIDEKEY_ERR_POLICY_CHANGED', async (t) => {
    // Found by a review: matching the route by name let the request past the condition.
    const before = upstream.seen.length
    const pending = send('/conditioned')
    const held = await nextPending(sk, seen)
    await reload(sk, (p) => p.replace('    approval: { timeout_s: 60 }\n', '    approval: { timeout_s: 60 }\n    conditions: { cel: [\'body.amount < 5\'] }\n'))
    await approve(sk, held.id)
    const r = await pending
    t.equal(r.status, 409)
    t.equal(header(r.headers, 'x-sidekey-error'), 'SIDEKEY_ERR_POLICY_CHANGED')
    t.equal(upstream.seen.length, before)
    await reload(sk, () => policy)
  })

  t.test('the route as it was, its credential redefined: sent, with the credential as it now reads', async (t) => {
    const pending = send('/kept')
    const held = await nextPending(sk, seen)
    await reload(sk, (p) => p.replace('  key: { type: static, env: TEST_OPENAI_KEY }\n', '  key: { type: static, env: TEST_GITHUB_TOKEN }\n') + '  - name: unrelated\n    host: unrelated.test\n')
    await approve(sk, held.id)
    const r = await pending
    t.equal(r.status, 200, 'another route added and the credential redefined: this route reads the same')
    t.equal(upstream.seen.at(-1)!.headers.authorization, `Bearer ${SECRETS.GITHUB}`)
    await reload(sk, () => policy)
  })

  t.test('no reload: sent as before', async (t) => {
    const pending = send('/plain')
    await approve(sk, (await nextPending(sk, seen)).id)
    t.equal((await pending).status, 200)
    t.equal(upstream.seen.at(-1)!.headers.authorization, `Bearer ${SECRETS.OPENAI}`)
  })

  t.test('a grant ("approve for a period") ends when a reload points the route at another host', async (t) => {
    const pending = send('/granted')
    await approve(sk, (await nextPending(sk, seen)).id, '1h')
    t.equal((await pending).status, 200)
    t.equal((await send('/under-grant')).status, 200, 'the grant covers the next request without asking')
    // The route now names another host; the agent reaches the same address under that name.
    await reload(sk, (p) => p.replace('    host: pay.test\n', '    host: pay2.test\n'))
    const other = curl(['-x', sk.proxyUrlFor('agent'), '-X', 'POST', '--data-binary', '{"amount":5}', `http://pay2.test:${port}/after-move`])
    const asked = await nextPending(sk, seen)
    t.equal(asked.host, 'pay2.test', 'a request to the new host waits for a person again')
    await approve(sk, asked.id)
    t.equal((await other).status, 200)
    await reload(sk, () => policy)
    t.equal((await send('/back')).status, 200, 'back on the first host, the grant given for it holds again')
  })

  noSecretsLogged(t, sk)
})

t.test('MCP: a tool call approved after a reload that denies the tool is refused in MCP terms', async (t) => {
  const trust = await upstreamTrust()
  const server = await startStatelessMcpUpstream(trust, MCP_HOST)
  t.teardown(() => server.close())
  const { sk, url, fetch, nextApproval, decide } = await startMcpSidekey(
    t,
    server,
    trust,
    `      stateless: true
      tools:
        - name: search_issues
        - name: delete_*
          approval: { timeout_s: 30 }
`,
  )
  const client = new Client({ name: 'agent', version: '2.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } })
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch }))
  t.teardown(() => client.close())
  const before = server.called.length
  const pending = client.callTool({ name: 'delete_repo', arguments: { repo: 'acme/old' } }).catch((e: unknown) => e)
  const a = await nextApproval()
  await reload(sk, (p) => p.replace('        - name: delete_*\n          approval: { timeout_s: 30 }\n', '        - name: delete_*\n          action: deny\n'))
  await decide(a.id, 'approve')
  const err = await pending
  t.type(err, ProtocolError)
  t.match((err as ProtocolError).data, { sidekey_error: 'SIDEKEY_ERR_MCP_DENIED' })
  t.equal(server.called.length, before, 'the tool never ran')
  noSecretsLogged(t, sk)
})
