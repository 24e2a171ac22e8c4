import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { ApprovalRecord } from '../../src/state/store.js'
import { curl } from '../helpers/clients.js'
import { pollFor, waitFor } from '../helpers/poll.js'
import { noSecretsLogged, SECRETS, startTestSidekey, type TestSidekey } from '../helpers/sidekey.js'
import { requireTools } from '../helpers/tools.js'
import { startWebhookSink } from '../helpers/webhook.js'
import { startUpstream, upstreamTrust } from '../helpers/upstream.js'

// Asynchronous approval (issue #19): a request on an `approval.mode: async` route is answered at
// once with 403 SIDEKEY_ERR_APPROVAL_PENDING, its approval id and Retry-After; the identical
// request sent again after approval goes through (once, or for the route's `approved_for_s`), a
// changed one asks again, a denied one is refused on every retry. Real clients: curl over plain
// HTTP and through an intercepted tunnel, and Python httpx with its default 5 s timeout.

requireTools('curl', 'python3')

// Debian's python3-httpx is installed for Debian's interpreter; a python3 earlier on PATH (pyenv)
// may not have it.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'

const HTTPX_CLIENT = `
import httpx, json, sys, time
proxy, ca, url, body = sys.argv[1:5]
started = time.monotonic()
# httpx's default timeout (5 s) is left as it is: the point is that the answer comes before it.
with httpx.Client(proxies=proxy, verify=ca) as client:
    r = client.post(url, content=body, headers={"content-type": "application/json"})
print(json.dumps({"status": r.status_code, "error": r.headers.get("x-sidekey-error"), "retry_after": r.headers.get("retry-after"), "body": r.json(), "seconds": time.monotonic() - started}))
`

interface Answer {
  status: number
  error: string | undefined
  retryAfter: string | undefined
  approvalId: string | undefined
  message: string
}

t.test('asynchronous approval', async (t) => {
  const trust = await upstreamTrust()
  const plain = await startUpstream()
  t.teardown(() => plain.close())
  const secure = await startUpstream(undefined, { trust, host: 'pay.test' })
  t.teardown(() => secure.close())
  const { url: hookUrl, received: notified } = await startWebhookSink(t)
  const port = plain.port
  const policy = `
version: v1
approvals:
  webhook: { url: "${hookUrl}/slack", retries: 0, format: slack }
  quarantine_after_denials: 0       # this file denies on purpose
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - name: refunds
    host: pay.test
    ports: [${port}, 443]
    addresses: [127.0.0.1]
    credential: key
    approval: { mode: async, timeout_s: 60, retry_after_s: 2 }
  - name: deploys
    host: ci.test
    ports: [${port}]
    addresses: [127.0.0.1]
    approval: { mode: async, timeout_s: 60, approved_for_s: 60 }
  - name: brief
    host: brief.test
    ports: [${port}]
    addresses: [127.0.0.1]
    approval: { mode: async, timeout_s: 1 }
`
  const sk = await startTestSidekey(
    t,
    policy,
    {
      upstreamCaFile: trust.caFile,
      connectTo: {
        [`pay.test:${port}`]: { host: '127.0.0.1', port },
        [`ci.test:${port}`]: { host: '127.0.0.1', port },
        [`brief.test:${port}`]: { host: '127.0.0.1', port },
        'pay.test:443': { host: '127.0.0.1', port: secure.port },
      },
    },
  )

  const send = async (url: string, body: string, workload = 'agent'): Promise<Answer> => {
    const r = await curl(['-x', sk.proxyUrlFor(workload), '--cacert', sk.ca.certPath, '-H', 'content-type: application/json', '--data-binary', body, url])
    const header = (name: string): string | undefined => new RegExp(`^${name}: *(.*?)\\r?$`, 'im').exec(r.headers)?.[1]
    const parsed = (r.status === 403 ? JSON.parse(r.body) : {}) as { approval_id?: string; message?: string }
    return { status: r.status, error: header('x-sidekey-error'), retryAfter: header('retry-after'), approvalId: parsed.approval_id, message: parsed.message ?? r.body }
  }
  const decide = async (id: string, verdict: 'approve' | 'deny', note?: string): Promise<void> => {
    const r = await curl(['-X', 'POST', '-H', `authorization: Bearer ${sk.adminToken}`, '--data-binary', JSON.stringify({ by: 'alice', note }), `${sk.adminUrl}/v1/approvals/${id}/${verdict}`])
    t.equal(r.status, 200, `${verdict} ${id}`)
  }
  const approval = async (id: string): Promise<ApprovalRecord> => {
    const r = await curl(['-H', `authorization: Bearer ${sk.adminToken}`, `${sk.adminUrl}/v1/approvals/${id}`])
    return JSON.parse(r.body) as ApprovalRecord
  }
  const pendingCount = async (sk: TestSidekey): Promise<number> => (await sk.state.listApprovals()).filter((a) => a.status === 'pending').length

  t.test('plain HTTP: pending at once, the identical retry waits on the same approval, goes through once approved, then asks again', async (t) => {
    const url = `http://pay.test:${port}/v1/refunds?order=7`
    const body = '{"amount":250}'
    const before = plain.seen.length
    const first = await send(url, body)
    t.equal(first.status, 403)
    t.equal(first.error, 'SIDEKEY_ERR_APPROVAL_PENDING')
    t.equal(first.retryAfter, '2', "Retry-After is the route's retry_after_s")
    t.match(first.approvalId, /^[0-9a-f-]{36}$/)
    t.match(first.message, /a person must approve this request/)
    t.match(first.message, /nothing was sent/)
    t.match(first.message, /Send the identical request again in 2 s/)
    t.equal(plain.seen.length, before, 'nothing reached the upstream')
    const record = await approval(first.approvalId!)
    t.equal(record.status, 'pending')
    t.equal(record.mode, 'async')
    t.equal(record.body, body, 'approvers see the whole body')

    const again = await send(url, body)
    t.same([again.status, again.error, again.approvalId], [403, 'SIDEKEY_ERR_APPROVAL_PENDING', first.approvalId], 'a retry before the decision names the same approval')
    t.equal(await pendingCount(sk), 1, 'and asks no one again')

    await decide(first.approvalId!, 'approve')
    const passed = await send(url, body)
    t.equal(passed.status, 200, 'the identical retry goes through once approved')
    t.equal(plain.seen.length, before + 1)
    t.equal(plain.seen.at(-1)!.body, body)
    t.equal(plain.seen.at(-1)!.headers.authorization, `Bearer ${SECRETS.OPENAI}`, 'with its credential')
    const audit = await sk.sink.waitForAudit((a) => a.path === '/v1/refunds' && a.status === 200)
    t.equal(audit.approval, first.approvalId, 'the audit line names the approval it went through on')
    t.equal((await sk.sink.waitForAudit((a) => a.error === 'SIDEKEY_ERR_APPROVAL_PENDING')).approval, first.approvalId, 'and so does the pending answer')

    const third = await send(url, body)
    t.equal(third.status, 403, 'a one-time approval lets the request through once')
    t.equal(third.error, 'SIDEKEY_ERR_APPROVAL_PENDING')
    t.not(third.approvalId, first.approvalId, 'and the next identical request is a new question')
    await decide(third.approvalId!, 'deny', 'one refund was enough')
  })

  t.test('a changed body, URL or workload is a different request', async (t) => {
    const url = `http://pay.test:${port}/v1/refunds?order=8`
    const asked = await send(url, '{"amount":300}')
    await decide(asked.approvalId!, 'approve')
    for (const [what, r] of [
      ['body', await send(url, '{"amount":3000}')],
      ['URL', await send(`http://pay.test:${port}/v1/refunds?order=9`, '{"amount":300}')],
      ['workload', await send(url, '{"amount":300}', 'other-agent')],
    ] as const) {
      t.equal(r.error, 'SIDEKEY_ERR_APPROVAL_PENDING', `another ${what} asks again`)
      t.not(r.approvalId, asked.approvalId)
      await decide(r.approvalId!, 'deny')
    }
    t.equal((await send(url, '{"amount":300}')).status, 200, 'the approved request still goes through')
  })

  t.test('denied: every identical retry is refused, saying so', async (t) => {
    const url = `http://pay.test:${port}/v1/refunds?order=10`
    const asked = await send(url, '{"amount":999}', 'denied-agent')
    await decide(asked.approvalId!, 'deny', 'not this customer')
    for (let i = 0; i < 2; i++) {
      const r = await send(url, '{"amount":999}', 'denied-agent')
      t.equal(r.status, 403)
      t.equal(r.error, 'SIDEKEY_ERR_APPROVAL_DENIED')
      t.equal(r.approvalId, asked.approvalId)
      t.match(r.message, /denied this request .* by alice: not this customer\); sending it again will not change that/)
    }
  })

  t.test('approved_for_s: the identical request goes through as often as sent while the approval lasts', async (t) => {
    const url = `http://ci.test:${port}/deploy`
    const asked = await send(url, '{"env":"production"}')
    t.equal(asked.retryAfter, '15', 'the default Retry-After')
    t.match(asked.message, /as often as it is sent for 60 s/)
    await decide(asked.approvalId!, 'approve')
    for (let i = 0; i < 3; i++) t.equal((await send(url, '{"env":"production"}')).status, 200, `retry ${i + 1}`)
    t.equal((await send(url, '{"env":"staging"}')).error, 'SIDEKEY_ERR_APPROVAL_PENDING', 'but not another body')
  })

  t.test('undecided: the approval expires on its own, and a retry asks again', async (t) => {
    const url = `http://brief.test:${port}/x`
    const asked = await send(url, '{}')
    await pollFor(() => approval(asked.approvalId!), (a) => a.status === 'expired', 10_000, 100)
    const again = await send(url, '{}')
    t.equal(again.error, 'SIDEKEY_ERR_APPROVAL_PENDING')
    t.not(again.approvalId, asked.approvalId)
    t.match(again.message, new RegExp(`approval ${asked.approvalId} for it expired undecided`))
  })

  t.test('through an intercepted tunnel: curl and Python httpx (default 5 s timeout) see the pending answer, then pass', async (t) => {
    const url = 'https://pay.test/v1/refunds'
    const viaCurl = await send(url, '{"amount":101}', 'tunnel-agent')
    t.same([viaCurl.status, viaCurl.error], [403, 'SIDEKEY_ERR_APPROVAL_PENDING'])

    const httpx = (): Promise<{ status: number; error: string; retry_after: string; body: { approval_id: string; message: string }; seconds: number }> =>
      new Promise((resolve, reject) => {
        execFile(PYTHON, ['-c', HTTPX_CLIENT, sk.proxyUrlFor('tunnel-agent'), sk.ca.certPath, url, '{"amount":101}'], { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
          if (err !== null) reject(new Error(`httpx failed (install Debian's python3-httpx): ${stderr}`))
          else resolve(JSON.parse(stdout) as never)
        })
      })
    const pending = await httpx()
    t.equal(pending.status, 403)
    t.equal(pending.error, 'SIDEKEY_ERR_APPROVAL_PENDING')
    t.equal(pending.retry_after, '2')
    t.equal(pending.body.approval_id, viaCurl.approvalId, 'the same request from another client is the same question')
    t.ok(pending.seconds < 5, `answered before httpx's 5 s timeout (${pending.seconds.toFixed(2)} s)`)
    await decide(viaCurl.approvalId!, 'approve')
    const before = secure.seen.length
    const passed = await httpx().catch(() => null)
    // httpx raises nothing for a 200; its JSON body is the upstream's.
    t.equal(passed?.status, 200, 'the identical retry through the tunnel goes through')
    t.equal(secure.seen.length, before + 1)
    t.equal(secure.seen.at(-1)!.headers.authorization, `Bearer ${SECRETS.OPENAI}`)
  })

  t.test('approvers are notified with a Slack-compatible payload', async (t) => {
    const slack = await waitFor('a Slack message', () => notified.find((n) => typeof n.text === 'string' && (n.text as string).includes('/v1/refunds')))
    t.same(Object.keys(slack), ['text'])
    t.match(slack.text, /workload \*agent\* asks to send `POST pay\.test:\d+\/v1\/refunds`/)
    t.match(slack.text, /sidekey approvals approve [0-9a-f-]{36}/)
    t.match(slack.text, /The agent was told to send it again/)
  })

  t.test('a reload after the decision holds the approval to the stricter terms, never the looser', async (t) => {
    const once = `http://pay.test:${port}/v1/refunds?order=reload`
    const often = `http://ci.test:${port}/deploy?reload=1`
    const [askedOnce, askedOften] = [await send(once, '{"amount":1}'), await send(often, '{}')]
    await decide(askedOnce.approvalId!, 'approve')
    await decide(askedOften.approvalId!, 'approve')
    t.equal((await approval(askedOnce.approvalId!)).approved_for_ms, null, 'the record keeps the terms it was asked under')
    // refunds now says "for ten minutes", deploys "once".
    const swapped = policy
      .replace('approval: { mode: async, timeout_s: 60, retry_after_s: 2 }', 'approval: { mode: async, timeout_s: 60, retry_after_s: 2, approved_for_s: 600 }')
      .replace('approval: { mode: async, timeout_s: 60, approved_for_s: 60 }', 'approval: { mode: async, timeout_s: 60 }')
    t.not(swapped, policy)
    await writeFile(join(sk.policyDir, 'policy.yaml'), swapped)
    const reloaded = await curl(['-X', 'POST', '-H', `authorization: Bearer ${sk.adminToken}`, `${sk.adminUrl}/v1/policy/reload`])
    t.equal(reloaded.status, 200)
    t.equal((await send(once, '{"amount":1}')).status, 200, 'a one-time approval goes through once')
    t.equal((await send(once, '{"amount":1}')).error, 'SIDEKEY_ERR_APPROVAL_PENDING', 'and is not stretched to ten minutes by the reload')
    t.equal((await send(often, '{}')).status, 200, 'an approval for 60 s under a route now "once"')
    t.equal((await send(often, '{}')).error, 'SIDEKEY_ERR_APPROVAL_PENDING', 'is used once')
  })

  noSecretsLogged(t, sk)
})
