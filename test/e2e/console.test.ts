import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { chromium } from 'playwright-core'
import { ProxyAgent, request } from 'undici'
import { pollFor } from '../helpers/poll.js'
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js'
import { requireTools } from '../helpers/tools.js'
import { startUpstream } from '../helpers/upstream.js'

// The web console in a real headless Chromium (Debian's, driven by playwright-core): open it with
// the admin token in the URL fragment, see a held request appear live, click Approve, and the
// agent's request completes. Agent-controlled text (the body summary) is shown as text, never run.

const CHROMIUM = process.env.SIDEKEY_CHROMIUM ?? '/usr/bin/chromium'

requireTools('chromium')

t.test('web console', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const port = upstream.port
  const sk = await startTestSidekey(
    t,
    `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - name: deploys
    host: ci.test
    ports: [${port}]
    addresses: [127.0.0.1]
    credential: key
    approval: { when: 'body.env == "production"', timeout_s: 60 }
`,
    { connectTo: { [`ci.test:${port}`]: { host: '127.0.0.1', port } } },
  )
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  })
  t.teardown(() => browser.close())
  const context = await browser.newContext()
  const page = await context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.message))
  const dialogs: string[] = []
  page.on('dialog', (d) => {
    dialogs.push(d.message())
    void d.dismiss()
  })

  t.test('without a token it asks for one; a wrong one is refused', async (t) => {
    await page.goto(`${sk.adminUrl}/console`)
    await page.waitForSelector('#login:not([hidden])')
    await page.fill('#token', 'wrong-token')
    await page.click('#login button')
    await page.locator('#status', { hasText: 'refused' }).waitFor()
    t.ok(await page.isVisible('#login'))
  })

  t.test('a held request appears live; Approve lets it complete', async (t) => {
    await page.goto(`${sk.adminUrl}/console#token=${encodeURIComponent(sk.adminToken)}`)
    await page.locator('#status', { hasText: /^live$/ }).waitFor()
    t.equal(new URL(page.url()).hash, '', 'the token is taken out of the address bar')
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('deployer'), proxyTunnel: false })
    t.teardown(() => dispatcher.close())
    const hostile = '<img src=x onerror=alert(1)>'
    const agent = request(`http://ci.test:${port}/deploy`, { dispatcher, method: 'POST', body: JSON.stringify({ env: 'production', note: hostile }) }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }))
    const row = page.locator('#pending tr[data-approval]')
    await row.waitFor({ timeout: 10_000 })
    t.match(await row.innerText(), /deployer/)
    t.match(await row.innerText(), /POST ci\.test/)
    t.match(await row.locator('pre.body').innerText(), hostile, 'the body is shown as text')
    t.equal(await page.locator('#pending img').count(), 0, 'and never becomes markup')
    await page.screenshot({ path: join(await mkdtemp(join(tmpdir(), 'sidekey-console-')), 'pending.png') })
    await row.locator('button[data-action=approve]').click()
    const done = await agent
    t.equal(done.status, 200, "the agent's request completed")
    t.equal(upstream.seen.at(-1)!.url, '/deploy')
    await page.locator('#pending tr[data-approval]').waitFor({ state: 'detached' })
    await page.locator('#settled', { hasText: 'approved' }).waitFor()
    await page.locator('#decisions', { hasText: 'deployer' }).waitFor()
    t.match(await page.locator('#routes').innerText(), /deploys/)
    t.match(await page.locator('#routes').innerText(), /approval when body.env == "production"/)
  })

  t.test('the approver sees every query value, the headers but credentials, and the whole body (issue #20 item 5)', async (t) => {
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('sneaky'), proxyTunnel: false })
    t.teardown(() => dispatcher.close())
    const body = JSON.stringify({ env: 'production', pad: 'x'.repeat(1100), to: 'attacker-iban' })
    const agent = request(`http://ci.test:${port}/deploy?amount=999999&to=attacker&memo=a%E2%80%AEb`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer agent-placeholder', cookie: 'sid=agent-cookie', 'x-change': 'CHG-42' }, body }).then((r) => ({ status: r.statusCode, error: r.headers['x-sidekey-error'] }))
    const row = page.locator('#pending tr[data-approval]', { hasText: 'sneaky' })
    await row.waitFor({ timeout: 10_000 })
    const query = await row.locator('pre.query').innerText()
    t.match(query, /amount = 999999/)
    t.match(query, /to = attacker/)
    t.match(query, /memo = a\\u\{202e\}b/, 'a bidi override is shown escaped, not applied')
    const headers = await row.locator('pre.headers').innerText()
    t.match(headers, /x-change: CHG-42/)
    t.notMatch(await row.innerText(), /agent-placeholder|agent-cookie|authorization|cookie/i, 'no credential header is shown')
    const pre = row.locator('pre.body')
    t.equal(await pre.innerText(), body, 'the whole body is on the page')
    // Whole and in sight: the box is as tall as its text (nothing hidden behind a scroll bar), and
    // the field after the padding is visible once the row is.
    const box = await pre.evaluate((e) => ({ scroll: e.scrollHeight, client: e.clientHeight }))
    t.ok(box.scroll <= box.client + 1, `no part of the body is scrolled out of sight (${box.scroll} <= ${box.client})`)
    await pre.scrollIntoViewIfNeeded()
    t.ok(await row.getByText('attacker-iban').isVisible())
    await row.locator('button[data-action=deny]').click()
    t.same(await agent, { status: 403, error: 'SIDEKEY_ERR_APPROVAL_DENIED' })
  })

  t.test('a request carrying a managed secret never reaches the console (issue #20 item 10)', async (t) => {
    const leaker = new ProxyAgent({ uri: sk.proxyUrlFor('leaker'), proxyTunnel: false })
    const honest = new ProxyAgent({ uri: sk.proxyUrlFor('honest'), proxyTunnel: false })
    t.teardown(() => Promise.all([leaker.close(), honest.close()]))
    const refused = await request(`http://ci.test:${port}/deploy`, { dispatcher: leaker, method: 'POST', body: JSON.stringify({ env: 'production', token: SECRETS.OPENAI }) })
    await refused.body.dump()
    t.equal(refused.headers['x-sidekey-error'], 'SIDEKEY_ERR_SECRET_DETECTED')
    // Held after it: once this row is on the page, one for the refused request would be too.
    const agent = request(`http://ci.test:${port}/deploy`, { dispatcher: honest, method: 'POST', body: '{"env":"production"}' }).then((r) => r.statusCode)
    const row = page.locator('#pending tr[data-approval]', { hasText: 'honest' })
    await row.waitFor({ timeout: 10_000 })
    t.equal(await page.locator('#pending tr', { hasText: 'leaker' }).count(), 0, 'no row for the refused request')
    t.notOk((await page.content()).includes(SECRETS.OPENAI), 'the secret is nowhere on the page')
    await row.locator('button[data-action=deny]').click()
    t.equal(await agent, 403)
    // Detection quarantined the leaker; release it so the workloads table is as the next test expects.
    await pollFor(() => sk.state.quarantined('leaker'), (q) => q !== undefined)
    await request(`${sk.adminUrl}/v1/workloads/leaker/release`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}` }, body: '{}' }).then((r) => r.body.dump())
  })

  t.test('Deny refuses the request', async (t) => {
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('deployer'), proxyTunnel: false })
    t.teardown(() => dispatcher.close())
    const agent = request(`http://ci.test:${port}/deploy`, { dispatcher, method: 'POST', body: '{"env":"production"}' }).then((r) => ({ status: r.statusCode, error: r.headers['x-sidekey-error'] }))
    const row = page.locator('#pending tr[data-approval]')
    await row.waitFor({ timeout: 10_000 })
    await row.locator('button[data-action=deny]').click()
    t.same(await agent, { status: 403, error: 'SIDEKEY_ERR_APPROVAL_DENIED' })
  })

  t.test('a quarantined workload can be released from the console', async (t) => {
    await request(`${sk.adminUrl}/v1/workloads/rogue/quarantine`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}` }, body: '{"reason":"test"}' }).then((r) => r.body.dump())
    await page.reload()
    const row = page.locator('#workloads tr', { hasText: 'rogue' })
    await row.waitFor()
    t.match(await row.innerText(), /QUARANTINED/)
    await row.locator('button').click()
    await page.locator('#workloads tr', { hasText: 'QUARANTINED' }).waitFor({ state: 'detached' })
    const { workloads } = (await (await request(`${sk.adminUrl}/v1/workloads`)).body.json()) as { workloads: { workload: string; quarantined: unknown }[] }
    t.equal(workloads.find((w) => w.workload === 'rogue')?.quarantined ?? null, null)
  })

  t.test('the page ran without errors or dialogs', async (t) => {
    t.same(pageErrors, [])
    t.same(dialogs, [])
  })

  noSecretsLogged(t, sk)
})
