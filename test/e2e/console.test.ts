import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { chromium, type Locator, type Page } from 'playwright-core'
import { ProxyAgent, request } from 'undici'
import { curl } from '../helpers/clients.js'
import { pollFor } from '../helpers/poll.js'
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js'
import { requireTools } from '../helpers/tools.js'
import { startUpstream, upstreamTrust } from '../helpers/upstream.js'

// The web console in a real headless Chromium (Debian's, driven by playwright-core): sign in with
// the admin token (or a link carrying it) and a name, see a held request appear live, approve it,
// deny one after a note and a confirmation, and read the outcome of each request: rows coloured by
// how they ended, tunnels folded under their requests, filters, the last hour as charts. The
// layout is checked at 800 and 1280 px, with screenshots. Agent-controlled text is shown as text.

const CHROMIUM = process.env.SIDEKEY_CHROMIUM ?? '/usr/bin/chromium'
const APPROVER = 'Alice Approver'

/** Wait until the waiting requests have stood still long enough for their buttons to act (input protection). */
async function steady(page: Page): Promise<void> {
  await page.locator('#pending[data-steady=true]').waitFor({ state: 'attached' })
}

/**
 * Open a pending row's Deny dialog. The console ignores a click on a table that has just changed
 * (a refresh between the check for steadiness and the click lands there too), so a click that
 * opened nothing is made again once the table is steady.
 */
async function openDeny(page: Page, row: Locator): Promise<void> {
  const dialog = page.locator('#deny-dialog[open]')
  for (let attempt = 0; ; attempt++) {
    await steady(page)
    await row.locator('button[data-action=deny]').click()
    try {
      await dialog.waitFor({ timeout: 3000 })
      return
    } catch (err) {
      // Opened late (a loaded machine): a second click would land behind the modal dialog.
      if ((await dialog.count()) > 0) return
      if (attempt === 4) throw err
    }
  }
}

/** Deny a pending row through the console's own confirmation (an optional note, then Deny). */
async function denyIn(page: Page, row: Locator, note?: string): Promise<void> {
  await openDeny(page, row)
  if (note !== undefined) await page.fill('#deny-note', note)
  await page.click('#deny-confirm')
}

requireTools('chromium')

t.test('web console', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const trust = await upstreamTrust()
  const secure = await startUpstream(undefined, { trust, host: 'tls.test' })
  t.teardown(() => secure.close())
  const port = upstream.port
  delete process.env.TEST_CONSOLE_UNSET
  const sk = await startTestSidekey(
    t,
    `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
  unset: { type: static, env: TEST_CONSOLE_UNSET }
routes:
  - name: deploys
    host: ci.test
    ports: [${port}]
    addresses: [127.0.0.1]
    credential: key
    approval: { when: 'body.env == "production"', timeout_s: 60 }
  - name: no-credential
    host: nocred.test
    ports: [${port}]
    addresses: [127.0.0.1]
    credential: unset
  # The first route for tls.test is another workload's: the tunnel is decided by the second.
  - name: tls-others
    host: tls.test
    workloads: [someone-else]
    addresses: [127.0.0.1]
  - name: tls-read
    host: tls.test
    methods: [GET]
    addresses: [127.0.0.1]
`,
    {
      upstreamCaFile: trust.caFile,
      connectTo: { [`ci.test:${port}`]: { host: '127.0.0.1', port }, [`nocred.test:${port}`]: { host: '127.0.0.1', port }, 'tls.test:443': { host: '127.0.0.1', port: secure.port } },
    },
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

  t.test('the page cannot be framed or kept a handle on by a page that opened it', async (t) => {
    const res = await request(`${sk.adminUrl}/console`)
    await res.body.dump()
    t.match(res.headers['content-security-policy'], /frame-ancestors 'none'/)
    t.equal(res.headers['x-frame-options'], 'DENY')
    t.equal(res.headers['cross-origin-opener-policy'], 'same-origin')
  })

  t.test('without a token it asks for one and a name; a wrong token is refused', async (t) => {
    await page.goto(`${sk.adminUrl}/console`)
    await page.waitForSelector('#login:not([hidden])')
    await page.fill('#token', 'wrong-token')
    await page.click('#login button')
    await page.locator('#status', { hasText: 'Give your name' }).waitFor()
    t.ok(await page.isVisible('#login'), 'no name, no console')
    await page.fill('#name', APPROVER)
    await page.click('#login button')
    await page.locator('#status', { hasText: 'refused' }).waitFor()
    t.ok(await page.isVisible('#login'))
  })

  t.test('a token from a link still asks for a name first', async (t) => {
    const fresh = await context.browser()!.newContext()
    t.teardown(() => fresh.close())
    const other = await fresh.newPage()
    await other.goto(`${sk.adminUrl}/console#token=${encodeURIComponent(sk.adminToken)}`)
    await other.waitForSelector('#login:not([hidden])')
    t.notOk(await other.isVisible('#token'), 'the token is known; only the name is asked')
    await other.fill('#name', 'bob')
    await other.click('#login button')
    await other.locator('#status', { hasText: /^live$/ }).waitFor()
    t.equal(await other.locator('#who').innerText(), 'signed in as bob')
  })

  t.test('a held request appears live; Approve lets it complete', async (t) => {
    await page.goto(`${sk.adminUrl}/console#token=${encodeURIComponent(sk.adminToken)}`)
    await page.locator('#status', { hasText: /^live$/ }).waitFor()
    t.equal(new URL(page.url()).hash, '', 'the token is taken out of the address bar')
    t.equal(await page.locator('#who').innerText(), `signed in as ${APPROVER}`, 'the name given at sign-in is kept for the tab')
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('deployer'), proxyTunnel: false })
    t.teardown(() => dispatcher.close())
    const hostile = '<img src=x onerror=alert(1)>'
    const agent = request(`http://ci.test:${port}/deploy`, { dispatcher, method: 'POST', body: JSON.stringify({ env: 'production', note: hostile }) }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }))
    const row = page.locator('#pending tr[data-approval]')
    await row.waitFor({ timeout: 10_000 })
    // Found by a red-team run: a card that just appeared (or moved) may not be the one the approver
    // aimed at, so for a moment (a second) its buttons only say so.
    await row.locator('button[data-action=approve]').click()
    t.equal(await page.locator('#pending').getAttribute('data-steady'), 'false', 'the list just changed')
    t.equal(await page.locator('#status').innerText(), 'The waiting requests just changed: look again, then click.')
    t.equal((await sk.state.listApprovals()).filter((a) => a.status === 'approved').length, 0, 'that click decided nothing')
    t.match(await row.innerText(), /deployer/)
    t.match(await row.innerText(), /POST ci\.test/)
    t.match(await row.locator('pre.body').innerText(), hostile, 'the body is shown as text')
    t.equal(await page.locator('#pending img').count(), 0, 'and never becomes markup')
    await page.screenshot({ path: join(await mkdtemp(join(tmpdir(), 'sidekey-console-')), 'pending.png') })
    await steady(page)
    await row.locator('button[data-action=approve]').click()
    const done = await agent
    t.equal(done.status, 200, "the agent's request completed")
    t.equal(upstream.seen.at(-1)!.url, '/deploy')
    await page.locator('#pending tr[data-approval]').waitFor({ state: 'detached' })
    await page.locator('#settled', { hasText: 'approved' }).waitFor()
    t.match(await page.locator('#settled').innerText(), APPROVER, 'the approver is recorded by name')
    t.equal((await sk.state.listApprovals()).find((a) => a.status === 'approved')?.decided_by, APPROVER)
    await page.locator('#decisions', { hasText: 'deployer' }).waitFor()
    t.match(await page.locator('#routes').innerText(), /deploys/)
    t.match(await page.locator('#routes').innerText(), /approval when body.env == "production"/)
  })

  t.test('the approver sees every query value, the headers but credentials, and the whole body (issue #20 item 5)', async (t) => {
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('sneaky'), proxyTunnel: false })
    t.teardown(() => dispatcher.close())
    // The body's names apart from the query's: a name in both is refused where a condition reads the body (test/e2e/merged-params.test.ts).
    const body = JSON.stringify({ env: 'production', pad: 'x'.repeat(1100), payee: 'attacker-iban' })
    const agent = request(`http://ci.test:${port}/deploy?amount=999999&to=attacker&memo=a%E2%80%AEb&pay=%D7%90%20100%20%D7%91%20200`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer agent-placeholder', cookie: 'sid=agent-cookie', 'x-change': 'CHG-42' }, body }).then((r) => ({ status: r.statusCode, error: r.headers['x-sidekey-error'] }))
    const row = page.locator('#pending tr[data-approval]', { hasText: 'sneaky' })
    await row.waitFor({ timeout: 10_000 })
    const query = await row.locator('pre.query').innerText()
    t.match(query, /amount = 999999/)
    t.match(query, /to = attacker/)
    t.match(query, /memo = a\\u\{202e\}b/, 'a bidi override is shown escaped, not applied')
    // Right-to-left letters around digits would have a browser draw "200 ב 100 א": the approver
    // would read the amounts swapped. Agent-controlled text is drawn in the order it is sent.
    const order = await row.locator('pre.query').evaluate((e) => {
      const node = [...e.childNodes].find((n) => n.textContent?.includes('pay = '))!
      const text = node.textContent!
      const x = (i: number): number => {
        const r = (globalThis as unknown as { document: { createRange(): { setStart(n: unknown, i: number): void; setEnd(n: unknown, i: number): void; getBoundingClientRect(): { left: number } } } }).document.createRange()
        r.setStart(node, i)
        r.setEnd(node, i + 1)
        return r.getBoundingClientRect().left
      }
      const at = text.indexOf('pay = ')
      return [x(at + 6), x(text.indexOf('100', at)), x(text.indexOf('\u05d1', at)), x(text.indexOf('200', at))]
    })
    t.same([...order].sort((a, b) => a - b), order, `each character drawn right of the one sent before it (${order.join(', ')})`)
    const headers = await row.locator('pre.headers').innerText()
    t.match(headers, /x-change: CHG-42/)
    t.notMatch(await row.innerText(), /agent-placeholder|agent-cookie|authorization/i, 'no credential value is shown')
    t.match(await row.innerText(), /cookie: \[hidden: the agent's own value, sent upstream as it is\]/, "the agent's own Cookie, which goes upstream, is named with its value hidden")
    const pre = row.locator('pre.body')
    t.equal(await pre.innerText(), body, 'the whole body is on the page')
    // Whole and in sight: the box is as tall as its text (nothing hidden behind a scroll bar), and
    // the field after the padding is visible once the row is.
    const box = await pre.evaluate((e) => ({ scroll: e.scrollHeight, client: e.clientHeight }))
    t.ok(box.scroll <= box.client + 1, `no part of the body is scrolled out of sight (${box.scroll} <= ${box.client})`)
    await pre.scrollIntoViewIfNeeded()
    t.ok(await row.getByText('attacker-iban').isVisible())
    await denyIn(page, row)
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
    await denyIn(page, row)
    t.equal(await agent, 403)
    // Detection quarantined the leaker; release it so the workloads table is as the next test expects.
    await pollFor(() => sk.state.quarantined('leaker'), (q) => q !== undefined)
    await request(`${sk.adminUrl}/v1/workloads/leaker/release`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}` }, body: '{}' }).then((r) => r.body.dump())
  })

  t.test('Deny asks for a note and a confirmation; Cancel leaves the request waiting', async (t) => {
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('deployer'), proxyTunnel: false })
    t.teardown(() => dispatcher.close())
    const agent = request(`http://ci.test:${port}/deploy`, { dispatcher, method: 'POST', body: '{"env":"production"}' }).then(async (r) => ({ status: r.statusCode, error: r.headers['x-sidekey-error'], body: await r.body.text() }))
    const row = page.locator('#pending tr[data-approval]')
    await row.waitFor({ timeout: 10_000 })
    const id = (await row.getAttribute('data-approval'))!
    await openDeny(page, row)
    t.match(await page.locator('#deny-what').innerText(), /POST ci\.test.* from deployer/)
    await page.click('#deny-cancel')
    await page.locator('#deny-dialog[open]').waitFor({ state: 'detached' })
    t.equal((await sk.state.getApproval(id))?.status, 'pending', 'Cancel denies nothing')
    await denyIn(page, row, 'wrong change window')
    const refused = await agent
    t.same([refused.status, refused.error], [403, 'SIDEKEY_ERR_APPROVAL_DENIED'])
    t.match(refused.body, `denied by ${APPROVER}: wrong change window`, 'the agent reads who denied it and why')
    t.match(await sk.state.getApproval(id), { status: 'denied', decided_by: APPROVER, note: 'wrong change window' })
  })

  t.test('rows are coloured by outcome, not by decision; tunnels fold under their requests', async (t) => {
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('deployer'), proxyTunnel: false })
    t.teardown(() => dispatcher.close())
    const missing = await request(`http://nocred.test:${port}/x`, { dispatcher })
    await missing.body.dump()
    t.equal(missing.statusCode, 502, 'a missing credential is a 502')
    const proxy = sk.proxyUrlFor('deployer')
    t.equal((await curl(['-x', proxy, '--cacert', sk.ca.certPath, 'https://tls.test/read'])).status, 200)
    const handshake = await curl(['-x', proxy, 'https://tls.test/read'])
    t.not(handshake.code, 0, "curl without sidekey's CA fails its handshake")

    const rows = page.locator('#decisions tr[data-outcome]')
    const byOutcome = async (): Promise<Record<string, string[]>> => {
      const seen: Record<string, string[]> = {}
      for (const r of await rows.all()) (seen[(await r.getAttribute('data-outcome'))!] ??= []).push(await r.innerText())
      return seen
    }
    const seen = await pollFor(byOutcome, (s) => (s.failed ?? []).some((x) => /CONNECT tls\.test/.test(x)) && (s.failed ?? []).some((x) => /nocred/.test(x)), 10_000, 100)
    t.ok((seen.refused ?? []).some((x) => /POST ci\.test\/deploy[\s\S]*approval-denied/.test(x)), 'an approver-denied request reads as refused')
    t.ok((seen.failed ?? []).some((x) => /nocred\.test[\s\S]*credential-unavailable[\s\S]*502/.test(x)), 'a 502 for a missing credential reads as failed')
    t.ok((seen.failed ?? []).some((x) => /CONNECT tls\.test:443[\s\S]*tls-handshake/.test(x)), `a failed handshake reads as failed: ${JSON.stringify(seen.failed)}`)
    t.ok((seen.served ?? []).some((x) => /GET tls\.test\/read/.test(x)), 'the served request reads as served')
    const tint = (outcome: string) => page.locator(`#decisions tr[data-outcome=${outcome}]`).first().evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(e).backgroundColor).then((c) => c.match(/[0-9]+/g)!.map(Number))
    const [sr, sg] = await tint('served')
    t.ok(sg > sr, 'served is green')
    for (const outcome of ['refused', 'failed']) {
      const [r, g] = await tint(outcome)
      t.ok(r > g, `${outcome} is not green`)
    }
    t.match(await rows.first().locator('td').first().innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, 'the time has its date')

    // The tunnel that carried GET /read is one folded row under it, naming the route that decided the tunnel.
    const served = page.locator('#decisions tr[data-outcome=served]', { hasText: 'GET tls.test/read' })
    const folded = served.locator('xpath=following-sibling::tr[1]')
    await folded.locator('summary', { hasText: 'via CONNECT tls.test:443 (1 request, tunnel decided by route tls-read)' }).waitFor({ timeout: 10_000 })
    t.equal(await page.locator('#decisions > tr[data-outcome]', { hasText: 'CONNECT tls.test:443' }).count(), 1, 'only the tunnel that carried nothing (the failed handshake) has a row of its own')
    await folded.locator('summary').click()
    t.match(await folded.innerText(), /served/)
  })

  t.test('filters by workload, route and outcome', async (t) => {
    await page.selectOption('#f-outcome', 'failed')
    const outcomes = await page.locator('#decisions tr[data-outcome]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-outcome')))
    t.ok(outcomes.length >= 2 && outcomes.every((o) => o === 'failed'), `only failed rows (${outcomes.join(', ')})`)
    await page.selectOption('#f-outcome', '')
    await page.selectOption('#f-route', 'deploys')
    const routes = await page.locator('#decisions tr[data-outcome] td:nth-child(4)').allInnerTexts()
    t.ok(routes.length >= 2 && routes.every((r) => r === 'deploys'), 'only the route chosen')
    await page.selectOption('#f-route', '')
    await page.selectOption('#f-workload', 'leaker')
    t.same(await page.locator('#decisions tr[data-outcome] td:nth-child(2)').allInnerTexts(), ['leaker'])
    await page.selectOption('#f-workload', '')
  })

  t.test('the last hour per workload and per route: requests, refusals, p95 and anomalies', async (t) => {
    await page.reload()
    await page.locator('#status', { hasText: /^live$/ }).waitFor()
    const deployer = page.locator('#activity-workloads .chart[data-series=deployer]')
    t.match(await deployer.locator('.summary').innerText(), /^\d+ requests, [1-9]\d* refused or failed, p95 <= \d+ ms$/)
    t.ok((await deployer.locator('rect.bar').count()) >= 1, 'requests are drawn')
    t.ok((await deployer.locator('rect.refused').count()) >= 1, 'and refusals over them')
    t.match(await page.locator('#activity-workloads .chart[data-series=leaker] .anomaly').innerText(), /^anomaly: secret-detected at \d{4}-/, 'the anomaly raised for the leaker')
    t.match(await page.locator('#activity-routes .chart[data-series=deploys] .summary').innerText(), /^\d+ requests, /)
    t.match(await page.locator('#activity-workloads .chart[data-series=leaker] .summary').innerText(), /^1 request, 1 refused/, 'one request is one request')
  })

  t.test('layout at 800 and 1280 px: no horizontal overflow, the body readable', async (t) => {
    // A pending approval with a long body and path, so the widest content is on the page.
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('deployer'), proxyTunnel: false })
    t.teardown(() => dispatcher.close())
    const agent = request(`http://ci.test:${port}/deploy/${'segment-'.repeat(40)}`, { dispatcher, method: 'POST', body: JSON.stringify({ env: 'production', manifest: 'x'.repeat(3000) }) }).then((r) => r.statusCode)
    const row = page.locator('#pending tr[data-approval]')
    await row.waitFor({ timeout: 10_000 })
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-console-'))
    for (const width of [800, 1280]) {
      await page.setViewportSize({ width, height: 900 })
      const layout = (await page.evaluate('({ scroll: document.documentElement.scrollWidth, inner: innerWidth })')) as { scroll: number; inner: number }
      t.ok(layout.scroll <= layout.inner, `no horizontal overflow at ${width} px (${layout.scroll} <= ${layout.inner})`)
      const body = await row.locator('pre.body').evaluate((e) => e.getBoundingClientRect().width)
      t.ok(body >= 0.6 * (width - 40) || body >= 500, `the body column is readable at ${width} px (${Math.round(body)} px wide)`)
      const file = join(dir, `console-${width}.png`)
      await page.screenshot({ path: file, fullPage: true })
      const png = await readFile(file)
      t.equal(png.readUInt32BE(16), width, `the screenshot is ${width} px wide: ${file}`)
    }
    await denyIn(page, row)
    t.equal(await agent, 403)
  })

  t.test('a quarantined workload can be released from the console', async (t) => {
    await request(`${sk.adminUrl}/v1/workloads/rogue/quarantine`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}` }, body: '{"reason":"test"}' }).then((r) => r.body.dump())
    await page.reload()
    const row = page.locator('#workloads tr', { hasText: 'rogue' })
    await row.waitFor()
    t.match(await row.innerText(), /QUARANTINED/)
    await row.locator('button').click()
    await page.locator('#workloads tr', { hasText: 'QUARANTINED' }).waitFor({ state: 'detached' })
    const { workloads } = (await (await request(`${sk.adminUrl}/v1/workloads`, { headers: { authorization: `Bearer ${sk.adminToken}` } })).body.json()) as { workloads: { workload: string; quarantined: unknown }[] }
    t.equal(workloads.find((w) => w.workload === 'rogue')?.quarantined ?? null, null)
  })

  t.test('the page ran without errors or browser dialogs', async (t) => {
    t.same(pageErrors, [])
    t.same(dialogs, [])
  })

  noSecretsLogged(t, sk)
})
