import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { HIDDEN_VALUE } from '../../src/approvals/record.js'
import { ProxyAgent, request } from 'undici'
import type { ApprovalRecord } from '../../src/state/store.js'
import { pollFor, waitFor } from '../helpers/poll.js'
import { noSecretsLogged, SECRETS, startTestSidekey, type TestSidekey } from '../helpers/sidekey.js'
import { startWebhookSink } from '../helpers/webhook.js'
import { startUpstream } from '../helpers/upstream.js'

// Human approval through the real proxy: a held request completes when approved through the admin
// API or the CLI, and is refused when denied, when nobody decides in time, or when a grant expired;
// an agent that hangs up cancels its approval; approvers get a webhook.

const run = promisify(execFile)
const cli = new URL('../../src/cli/main.js', import.meta.url).pathname

async function admin(sk: TestSidekey, method: string, path: string, body?: unknown, token: string | null = sk.adminToken) {
  const res = await request(`${sk.adminUrl}${path}`, { method: method as 'GET', headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

function waitForPending(sk: TestSidekey, pred: (a: ApprovalRecord) => boolean = () => true): Promise<ApprovalRecord> {
  return waitFor('a pending approval', async () => ((await admin(sk, 'GET', '/v1/approvals')).body.approvals as ApprovalRecord[]).find((a) => a.status === 'pending' && pred(a)), 10_000, 20)
}

t.test('human approval', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const { url: hookUrl, received: notified } = await startWebhookSink(t)
  const port = upstream.port
  const sk = await startTestSidekey(
    t,
    `
version: v1
approvals:
  webhook: { url: "${hookUrl}/approvals", retries: 0 }
  quarantine_after_denials: 2
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - name: refunds
    host: pay.test
    ports: [${port}]
    addresses: [127.0.0.1]
    credential: key
    approval: { when: 'body.amount > 100', timeout_s: 30 }
  - name: slow-approval
    host: slow.test
    ports: [${port}]
    addresses: [127.0.0.1]
    approval: { timeout_s: 1 }
`,
    { connectTo: { [`pay.test:${port}`]: { host: '127.0.0.1', port }, [`slow.test:${port}`]: { host: '127.0.0.1', port } } },
  )
  const send = async (host: string, body: unknown, workload = 'agent', signal?: AbortSignal) => {
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor(workload), proxyTunnel: false })
    try {
      const res = await request(`http://${host}:${port}/v1/refunds?order=7`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal })
      const text = await res.body.text()
      return { status: res.statusCode, error: res.headers['x-sidekey-error'] as string | undefined, text }
    } finally {
      await dispatcher.close()
    }
  }

  t.test('below the threshold: no approval needed', async (t) => {
    const r = await send('pay.test', { amount: 20 })
    t.equal(r.status, 200)
    t.equal(upstream.seen.at(-1)!.headers.authorization, `Bearer ${SECRETS.OPENAI}`)
  })

  t.test('held, then approved through the admin API: the request completes with the credential', async (t) => {
    const before = upstream.seen.length
    const pending = send('pay.test', { amount: 500, reason: 'damaged' })
    const a = await waitForPending(sk)
    t.match(a, { workload: 'agent', route: 'refunds', method: 'POST', host: 'pay.test', port, path: '/v1/refunds', query: [['order', '7']], why: 'approval.when body.amount > 100' })
    t.equal(a.body, '{"amount":500,"reason":"damaged"}')
    t.equal(upstream.seen.length, before, 'nothing reached the upstream while held')
    t.equal((await admin(sk, 'POST', `/v1/approvals/${a.id}/approve`, {}, null)).status, 401, 'deciding needs the admin token')
    const metrics = await (await request(`${sk.adminUrl}/metrics`)).body.text()
    t.match(metrics, /sidekey_approvals_pending 1/)
    const decided = await admin(sk, 'POST', `/v1/approvals/${a.id}/approve`, { by: 'alice' })
    t.equal(decided.status, 200)
    t.equal(decided.body.status, 'approved')
    const r = await pending
    t.equal(r.status, 200)
    t.equal(upstream.seen.at(-1)!.body, '{"amount":500,"reason":"damaged"}')
    t.equal(upstream.seen.at(-1)!.headers.authorization, `Bearer ${SECRETS.OPENAI}`)
    const audit = await sk.sink.waitForAudit((x) => x.approval === a.id)
    t.equal(audit.status, 200)
    t.equal((await admin(sk, 'POST', `/v1/approvals/${a.id}/deny`, {})).status, 409, 'the first decision stands')
    // The webhook is sent without waiting for it (it never holds the request): poll for it.
    const webhooked = await pollFor(() => notified.some((n) => n.type === 'approval_requested' && (n.approval as ApprovalRecord).id === a.id), (hit) => hit, 5000)
    t.ok(webhooked, 'approvers were notified by webhook')
    t.ok(sk.sink.lines.some((l) => l.event === 'approval_requested' && l.approval === a.id), 'and in the log')
  })

  t.test('denied: 403 with the reason, nothing forwarded', async (t) => {
    const before = upstream.seen.length
    const pending = send('pay.test', { amount: 900 }, 'denied-once')
    const a = await waitForPending(sk, (x) => x.workload === 'denied-once')
    await admin(sk, 'POST', `/v1/approvals/${a.id}/deny`, { note: 'not today' })
    const r = await pending
    t.equal(r.status, 403)
    t.equal(r.error, 'SIDEKEY_ERR_APPROVAL_DENIED')
    t.match(r.text, /not today/)
    t.equal(upstream.seen.length, before)
  })

  t.test('no decision before the timeout means deny', async (t) => {
    const r = await send('slow.test', { anything: true }, 'patient')
    t.equal(r.status, 403)
    t.equal(r.error, 'SIDEKEY_ERR_APPROVAL_TIMEOUT')
    const { body } = await admin(sk, 'GET', '/v1/approvals')
    t.ok((body.approvals as ApprovalRecord[]).some((a) => a.workload === 'patient' && a.status === 'expired'))
  })

  t.test('an agent that hangs up cancels its approval', async (t) => {
    const abort = new AbortController()
    const pending = send('pay.test', { amount: 1000 }, 'quitter', abort.signal).catch((e: Error) => e)
    const a = await waitForPending(sk, (x) => x.workload === 'quitter')
    abort.abort()
    t.ok((await pending) instanceof Error)
    await pollFor(async () => (await admin(sk, 'GET', `/v1/approvals/${a.id}`)).body.status, (status) => status === 'cancelled', 5000, 20)
    t.equal((await admin(sk, 'GET', `/v1/approvals/${a.id}`)).body.status, 'cancelled')
    const line = await sk.sink.waitForAudit((x) => x.workload === 'quitter' && x.event === 'request')
    t.match(line, { error: 'SIDEKEY_ERR_AGENT_GONE', status: 499 }, 'the audit line says the agent went away, not the upstream')
  })

  t.test('the CLI lists and approves with a grant; the grant covers later requests', async (t) => {
    const pending = send('pay.test', { amount: 300 }, 'granted')
    const a = await waitForPending(sk, (x) => x.workload === 'granted')
    const common = ['--admin', sk.adminUrl.replace('http://', ''), '--certs', `${sk.dir}/certs`]
    const list = await run(process.execPath, [cli, 'approvals', 'list', ...common])
    t.match(list.stdout, a.id)
    t.match(list.stdout, /body: \{"amount":300\}/)
    const approve = await run(process.execPath, [cli, 'approvals', 'approve', a.id, '--for', '10m', ...common])
    t.match(approve.stdout, /without asking until/)
    t.equal((await pending).status, 200)
    const again = await send('pay.test', { amount: 400 }, 'granted')
    t.equal(again.status, 200, 'no hold within the grant')
    t.ok(await sk.sink.waitForAudit((x) => x.workload === 'granted' && x.approval === 'grant'))
    const other = send('pay.test', { amount: 400 }, 'not-granted')
    const b = await waitForPending(sk, (x) => x.workload === 'not-granted')
    t.ok(b, 'the grant is for that workload only')
    await run(process.execPath, [cli, 'approvals', 'deny', b.id, ...common])
    t.equal((await other).error, 'SIDEKEY_ERR_APPROVAL_DENIED')
    const bad = await run(process.execPath, [cli, 'approvals', 'approve', a.id, '--for', 'forever', ...common]).catch((e: { code: number; stderr: string }) => e)
    t.equal((bad as { code: number }).code, 1)
  })

  /** A request with its own query, headers and body text. */
  const sendAs = async (workload: string, path: string, headers: Record<string, string>, body: string) => {
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor(workload), proxyTunnel: false })
    try {
      const res = await request(`http://pay.test:${port}${path}`, { dispatcher, method: 'POST', headers, body })
      return { status: res.statusCode, error: res.headers['x-sidekey-error'] as string | undefined, text: await res.body.text() }
    } finally {
      await dispatcher.close()
    }
  }

  t.test('approvers see every query value, the headers but credentials, and the whole body (issue #20 item 5)', async (t) => {
    // What was approved unseen before: values after the query names, a field after 1 KiB of padding.
    const body = JSON.stringify({ amount: 500, pad: 'x'.repeat(1100), to: 'attacker-iban' })
    const headers = { 'content-type': 'application/json', authorization: 'Bearer agent-placeholder', cookie: 'session=agent-cookie', 'x-request-note': 'quarterly refund' }
    // Query names apart from the body's: one in both is refused on a route whose `when` reads the body (test/e2e/merged-params.test.ts).
    const pending = sendAs('viewer', '/v1/refunds?invoice=999999&payee=attacker', headers, body)
    const a = await waitForPending(sk, (x) => x.workload === 'viewer')
    t.same(a.query, [['invoice', '999999'], ['payee', 'attacker']], 'every query parameter with its value')
    t.equal(a.body, body, 'the whole body, padding and all')
    t.equal(a.body_bytes, Buffer.byteLength(body))
    t.equal(a.body_encoding, 'utf8')
    const names = a.headers.map(([n]) => n)
    t.ok(a.headers.some(([n, v]) => n === 'x-request-note' && v === 'quarterly refund'), 'ordinary headers are shown')
    t.ok(names.includes('content-type'))
    for (const hidden of ['authorization', 'proxy-authorization', 'host']) t.notOk(names.includes(hidden), `${hidden} is not shown (sidekey's own Authorization replaces the agent's)`)
    t.ok(a.headers.some(([n, v]) => n === 'cookie' && v === HIDDEN_VALUE), "the agent's own Cookie goes upstream: listed, its value hidden")
    t.notMatch(JSON.stringify(a), /agent-placeholder|agent-cookie/, 'no credential anywhere in the record')
    const hooked = await pollFor(() => notified.find((n) => (n.approval as ApprovalRecord | undefined)?.id === a.id), (hit) => hit !== undefined, 5000)
    t.same((hooked?.approval as ApprovalRecord).query, a.query, 'the webhook carries the query values')
    t.equal((hooked?.approval as ApprovalRecord).body, body, 'and the whole body')
    const common = ['--admin', sk.adminUrl.replace('http://', ''), '--certs', `${sk.dir}/certs`]
    const list = await run(process.execPath, [cli, 'approvals', 'list', ...common])
    t.match(list.stdout, /query: invoice = 999999/)
    t.match(list.stdout, /query: payee = attacker/)
    t.match(list.stdout, /header: x-request-note: quarterly refund/)
    t.match(list.stdout, /"to":"attacker-iban"/, 'the CLI prints the whole body')
    t.notMatch(list.stdout, /agent-placeholder|agent-cookie/)
    await admin(sk, 'POST', `/v1/approvals/${a.id}/deny`, {})
    t.equal((await pending).error, 'SIDEKEY_ERR_APPROVAL_DENIED')
    const kept = (await admin(sk, 'GET', `/v1/approvals/${a.id}`)).body
    t.match(kept, { status: 'denied', body: null, body_bytes: Buffer.byteLength(body), query: a.query }, 'a settled record keeps the request but not its body (memory)')
  })

  t.test('the CLI shows control and bidi characters escaped, so a body cannot redraw the terminal', async (t) => {
    // Raw control bytes (not JSON escapes): the body is then no JSON, and `when` holds what it cannot read.
    const body = '{"amount":700,"to":"ok\u001b[2K\u001b[1A","memo":"\u202eevil"}'
    const pending = sendAs('escaper', '/v1/refunds', { 'content-type': 'application/json' }, body)
    const a = await waitForPending(sk, (x) => x.workload === 'escaper')
    const list = await run(process.execPath, [cli, 'approvals', 'list', '--admin', sk.adminUrl.replace('http://', ''), '--certs', `${sk.dir}/certs`])
    t.notOk(list.stdout.includes('\u001b') || list.stdout.includes('\u202e'), 'no raw escape or override reaches the terminal')
    t.match(list.stdout, /ok\\u\{001b\}\[2K/)
    await admin(sk, 'POST', `/v1/approvals/${a.id}/deny`, {})
    await pending
  })

  t.test('a managed secret in a body that would be held is refused before anything shows it (issue #20 item 10)', async (t) => {
    const attempts: { workload: string; path: string; headers: Record<string, string>; body: string }[] = [
      { workload: 'leak-body', path: '/v1/refunds', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: 900, note: SECRETS.OPENAI }) },
      { workload: 'leak-b64', path: '/v1/refunds', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: 900, note: Buffer.from(SECRETS.OPENAI).toString('base64') }) },
      { workload: 'leak-query', path: `/v1/refunds?memo=${SECRETS.OPENAI}`, headers: { 'content-type': 'application/json' }, body: '{"amount":900}' },
      { workload: 'leak-header', path: '/v1/refunds', headers: { 'content-type': 'application/json', 'x-memo': SECRETS.OPENAI }, body: '{"amount":900}' },
    ]
    const before = upstream.seen.length
    for (const x of attempts) {
      const r = await sendAs(x.workload, x.path, x.headers, x.body)
      t.equal(r.status, 403, x.workload)
      t.equal(r.error, 'SIDEKEY_ERR_SECRET_DETECTED', x.workload)
    }
    t.equal(upstream.seen.length, before, 'nothing forwarded')
    // A request held afterwards: its webhook comes after any the refused ones would have caused.
    const pending = send('pay.test', { amount: 800 }, 'after-leaks')
    const later = await waitForPending(sk, (x) => x.workload === 'after-leaks')
    await pollFor(() => notified.some((n) => (n.approval as ApprovalRecord | undefined)?.id === later.id), (hit) => hit, 5000)
    const leakers = new Set(attempts.map((x) => x.workload))
    const { body } = await admin(sk, 'GET', '/v1/approvals')
    t.notOk((body.approvals as ApprovalRecord[]).some((r) => leakers.has(r.workload ?? '')), 'no approval record was made (admin API, the store)')
    t.notMatch(JSON.stringify(body), SECRETS.OPENAI)
    t.notOk(notified.some((n) => leakers.has((n.approval as ApprovalRecord | undefined)?.workload ?? '')), 'no webhook was sent for them')
    t.notMatch(JSON.stringify(notified), SECRETS.OPENAI, 'no webhook payload holds the secret')
    await admin(sk, 'POST', `/v1/approvals/${later.id}/deny`, {})
    await pending
  })

  t.test('repeated denials quarantine the workload', async (t) => {
    for (let i = 0; i < 2; i++) {
      const pending = send('pay.test', { amount: 5000 + i }, 'pushy')
      const a = await waitForPending(sk, (x) => x.workload === 'pushy')
      await admin(sk, 'POST', `/v1/approvals/${a.id}/deny`, {})
      t.equal((await pending).error, 'SIDEKEY_ERR_APPROVAL_DENIED')
    }
    await pollFor(async () => (await send('pay.test', { amount: 1 }, 'pushy')).error, (error) => error === 'SIDEKEY_ERR_QUARANTINED', 5000, 20)
    const r = await send('pay.test', { amount: 1 }, 'pushy')
    t.equal(r.error, 'SIDEKEY_ERR_QUARANTINED')
    t.match(r.text, /denied by approvers/)
  })

  noSecretsLogged(t, sk)
})
