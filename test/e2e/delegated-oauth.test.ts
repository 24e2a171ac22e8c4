import { spawn } from 'node:child_process'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { ProxyAgent, request } from 'undici'
import { GRANTS_FILE, GRANTS_KEY_FILE } from '../../src/credentials/runtime.js'
import { delegatedCredential, launchChromium, signInAndConsent, startDelegatedAs } from '../helpers/oidc-delegated.js'
import { pollFor, waitFor } from '../helpers/poll.js'
import { startTestSidekey, type TestSidekey } from '../helpers/sidekey.js'
import { requireTools } from '../helpers/tools.js'
import { startUpstream } from '../helpers/upstream.js'
import { startWebhookSink } from '../helpers/webhook.js'

// Delegated OAuth with real parts: oidc-provider as a person's account provider (authorization code
// with PKCE, sign-in and consent pages, rotating refresh tokens, RFC 7009 revocation), the person's
// part driven in Debian's Chromium through sidekey's console, and an agent that calls the API
// through sidekey with the token injected and holds none. Then custody (no token in any output),
// rotation, a restart that keeps the grant, a refresh refused with invalid_grant, revocation from
// the console, and callbacks that must be refused: a forged state, another browser's, a replay.

const PERSON = 'Pat Person'
const ACCOUNT = 'pat@example.test'

requireTools('chromium')

t.test('delegated OAuth: connect in the console, use through sidekey, keep it alive', async (top) => {
  const t = top
  const as = await startDelegatedAs({ accessTokenTTL: 10 })
  t.teardown(() => as.close())
  // The API checks every token as a resource server does, and says whose it is. `refuse` makes it
  // answer 401 as if the provider had revoked the access token early: once, or to every token.
  let refuse: 'once' | 'always' | null = null
  // `echo`: the API repeats the token it was sent, as an echo endpoint or a chatty error does.
  let echo = false
  const api = await startUpstream((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '')
    if (refuse !== null) {
      if (refuse === 'once') refuse = null
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' }).end('{"error":"invalid_token"}')
      return
    }
    as.verify(token).then(
      (claims) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: claims.sub, scope: claims.scope, ...(echo ? { token } : {}) })),
      () => res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' }).end('{"error":"invalid_token"}'),
    )
  })
  t.teardown(() => api.close())
  const webhook = await startWebhookSink(t)
  const policy = `
version: v1
monitoring:
  webhook: { url: ${webhook.url} }
credentials:
${delegatedCredential('crm-user', as.issuer, 0.5)}routes:
  - name: api
    host: api.test
    ports: [${api.port}]
    addresses: [127.0.0.1]
    workloads: [assistant]
    credential: crm-user
    inject: { header: authorization, value: "Bearer {secret}" }
`
  const connectTo = { [`api.test:${api.port}`]: { host: '127.0.0.1', port: api.port } }
  let sk: TestSidekey = await startTestSidekey(t, policy, { connectTo })
  const dir = sk.dir
  as.register(`${sk.adminUrl}/oauth/callback`)

  const browser: Browser = await launchChromium()
  t.teardown(() => browser.close())
  const context: BrowserContext = await browser.newContext()
  const page: Page = await context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (e) => pageErrors.push(e.message))

  /** What the agent gets: it sends no credential, sidekey injects the person's token. */
  const agentCall = async (on: TestSidekey = sk) => {
    const res = await request(`http://api.test:${api.port}/v1/me`, { dispatcher: new ProxyAgent({ uri: on.proxyUrlFor('assistant'), proxyTunnel: false }) })
    return { status: res.statusCode, error: res.headers['x-sidekey-error'], body: await res.body.text() }
  }
  /** Every token sidekey holds for the grant right now (read in-process, as only the test can). */
  const heldTokens = async (): Promise<string[]> => {
    const { record } = await sk.credentials.grants.vault.read('crm-user')
    return [record?.accessToken, record?.refreshToken].filter((x): x is string => typeof x === 'string')
  }
  const everToken = new Set<string>()
  const remember = async () => (await heldTokens()).forEach((x) => everToken.add(x))

  const signIn = (p: Page) => signInAndConsent(p, ACCOUNT)

  t.test('before connecting, the agent is refused with a code that says a person must connect', async (t) => {
    const res = await agentCall()
    t.equal(res.status, 403)
    t.equal(res.error, 'SIDEKEY_ERR_GRANT_RECONNECT')
    t.match(res.body, /sidekey oauth connect crm-user/)
  })

  t.test('the console shows the scopes first, then the person signs in and consents at the provider', async (t) => {
    await page.goto(`${sk.adminUrl}/console#token=${encodeURIComponent(sk.adminToken)}`)
    await page.waitForSelector('#login:not([hidden])')
    await page.fill('#name', PERSON)
    await page.click('#login button')
    const row = page.locator('#grants tr[data-grant="crm-user"]')
    await row.waitFor()
    t.equal(await row.getAttribute('data-status'), 'not-connected')
    await row.locator('button[data-action=connect]').click()
    await page.locator('#connect-dialog[open]').waitFor()
    t.same(await page.locator('#connect-scopes li').allInnerTexts(), ['openid', 'offline_access', 'api.read'], 'the scopes asked for are shown before continuing')
    t.equal(await page.locator('#connect-provider').innerText(), as.issuer)
    await page.click('#connect-continue')
    await page.waitForURL((u) => u.origin === as.issuer)
    const authorize = new URL(page.url())
    t.equal(authorize.origin, as.issuer, 'the browser is at the provider')
    await signIn(page)
    await page.waitForURL((u) => u.pathname === '/oauth/callback')
    t.equal(await page.locator('#result').innerText(), 'Connected crm-user')
    t.same(as.events.grants, ['authorization_code'], 'sidekey exchanged the code at the provider')
    await page.goto(`${sk.adminUrl}/console`)
    await pollFor(() => row.getAttribute('data-status'), (s) => s === 'connected')
    t.equal(await row.getAttribute('data-status'), 'connected')
    const text = await row.innerText()
    t.match(text, PERSON, 'who connected it')
    t.match(text, 'api.read')
    await remember()
    t.equal(everToken.size, 2, 'sidekey holds an access token and a refresh token')
    const html = await page.content()
    for (const token of everToken) t.notOk(html.includes(token), 'the console holds no token')
  })

  t.test('the agent calls the API as the person, holding no token', async (t) => {
    const res = await agentCall()
    t.equal(res.status, 200)
    t.equal((JSON.parse(res.body) as { sub: string }).sub, ACCOUNT, 'the API saw the person\'s token')
    const seen = api.seen.at(-1)!.headers.authorization!.replace('Bearer ', '')
    t.ok(everToken.has(seen), 'the injected token is the grant\'s')
    t.notOk(res.body.includes(seen), 'the answer the agent reads holds no token')
  })

  t.test('the access token is refreshed ahead of expiry and the refresh token rotates', async (t) => {
    const firstRefresh = (await heldTokens())[1]
    const refreshed = await pollFor(
      async () => {
        const res = await agentCall()
        await remember()
        return { status: res.status, body: res.body, refreshes: as.events.grants.filter((g) => g === 'refresh_token').length }
      },
      (s) => s.status !== 200 || s.refreshes >= 2,
      40_000,
      250,
    )
    t.equal(refreshed.status, 200, `every call went through: ${JSON.stringify(refreshed)} ${JSON.stringify(as.events)}`)
    t.ok(refreshed.refreshes >= 2, 'refreshed at least twice')
    t.not((await heldTokens())[1], firstRefresh, 'the refresh token rotated')
    t.same(as.events.grantErrors, [], 'no refresh token was ever used twice')
  })

  t.test('custody: no token in the admin API, metrics, logs or the file at rest', async (t) => {
    await remember()
    const listed = await request(`${sk.adminUrl}/v1/oauth/grants`, { headers: { authorization: `Bearer ${sk.adminToken}` } })
    const body = await listed.body.text()
    const grant = (JSON.parse(body) as { grants: Record<string, unknown>[] }).grants[0]!
    t.match(grant, { credential: 'crm-user', status: 'connected', connected_by: PERSON, provider: as.issuer, has_refresh_token: true })
    t.ok(grant.last_used !== null && grant.access_expires_at !== null)
    const metrics = await (await request(`${sk.adminUrl}/metrics`)).body.text()
    const onDisk = await readFile(join(dir, 'certs', GRANTS_FILE), 'utf8')
    for (const token of everToken) {
      t.notOk(body.includes(token), 'admin API')
      t.notOk(metrics.includes(token), 'metrics')
      t.notOk(onDisk.includes(token), 'the grants file is encrypted')
    }
    t.same(sk.sink.leaks([...everToken]), [], 'no log line holds a token')
    t.equal((await stat(join(dir, 'certs', GRANTS_FILE))).mode & 0o777, 0o600)
    t.equal((await stat(join(dir, 'certs', GRANTS_KEY_FILE))).mode & 0o777, 0o600)
  })

  t.test('a restart keeps the grant', async (t) => {
    await sk.close()
    // The same admin port: the redirect URI registered at the provider names it.
    sk = await startTestSidekey(top, policy, { connectTo, dir, config: { admin: { host: '127.0.0.1', port: Number(new URL(sk.adminUrl).port) } } })
    const res = await agentCall()
    t.equal(res.status, 200)
    t.equal((JSON.parse(res.body) as { sub: string }).sub, ACCOUNT)
  })

  t.test('a 401 to the grant\'s token: one refresh and one retry, never a loop', async (t) => {
    const refreshes = () => as.events.grants.filter((g) => g === 'refresh_token').length
    const hits = () => api.seen.length
    let before = { refreshes: refreshes(), hits: hits() }
    refuse = 'once'
    echo = true
    const healed = await agentCall()
    echo = false
    t.equal(healed.status, 200, 'the agent never saw the 401')
    const fresh = await heldTokens()
    t.ok((JSON.parse(healed.body) as { token?: string }).token, 'the API echoed the token it was sent')
    for (const token of fresh) t.notOk(healed.body.includes(token), 'the token obtained for the retry is masked in the echo (found by a red-team run)')
    t.equal(refreshes() - before.refreshes, 1, 'one refresh')
    t.equal(hits() - before.hits, 2, 'the request went up twice')
    const audit = await sk.sink.waitForAudit((a) => (a as unknown as { retried_after_401?: boolean }).retried_after_401 === true)
    t.equal(audit.status, 200)
    // Within 10 s of that refresh, a 401 refreshes nothing and is not retried: an upstream that
    // answers 401 whatever the token must not make each request a grant refresh and two sends
    // (found by a red-team run). The 401 is the agent's answer at once.
    before = { refreshes: refreshes(), hits: hits() }
    refuse = 'always'
    for (let i = 0; i < 5; i++) t.equal((await agentCall()).status, 401, 'within the interval: the 401 is relayed')
    refuse = null
    t.equal(refreshes() - before.refreshes, 0, 'no refresh within the interval')
    t.equal(hits() - before.hits, 5, 'and no retry: each request went up once')
    t.equal((await agentCall()).status, 200, 'the grant is still usable')
  })

  t.test('callbacks that must be refused: forged state, another browser, a replay', async (t) => {
    const forged = await request(`${sk.adminUrl}/oauth/callback?code=abc&state=${'x'.repeat(43)}`)
    t.equal(forged.statusCode, 400)
    t.equal(forged.headers['x-sidekey-error'], 'SIDEKEY_ERR_OAUTH_CALLBACK')
    t.match(await forged.body.text(), /unknown, expired or was already used/)

    // Start connecting in the console, but finish at the provider in another browser (session fixation).
    const codes = () => as.events.grants.filter((g) => g === 'authorization_code').length
    const before = codes()
    const row = page.locator('#grants tr[data-grant="crm-user"]')
    await page.goto(`${sk.adminUrl}/console#token=${encodeURIComponent(sk.adminToken)}`)
    await row.locator('button[data-action=connect]').click()
    const authorization = page.waitForRequest((r) => new URL(r.url()).searchParams.has('code_challenge'))
    await page.click('#connect-continue')
    const authorizationUrl = (await authorization).url()
    await page.waitForURL((u) => u.origin === as.issuer)
    await page.goto('about:blank')
    const other = await browser.newContext()
    t.teardown(() => other.close())
    const stranger = await other.newPage()
    await stranger.goto(authorizationUrl)
    await signIn(stranger)
    await stranger.waitForURL((u) => u.pathname === '/oauth/callback')
    t.equal(await stranger.locator('#result').innerText(), 'Not connected', 'a browser that did not start the flow is refused')
    t.match(await stranger.locator('#detail').innerText(), /did not start this authorization.*SIDEKEY_ERR_OAUTH_CALLBACK/)
    t.equal(codes(), before, 'no code was exchanged for it')

    // A callback that worked once does not work twice, even in the browser that started it.
    await page.goto(`${sk.adminUrl}/console#token=${encodeURIComponent(sk.adminToken)}`)
    await row.locator('button[data-action=connect]').click()
    await page.click('#connect-continue')
    await signIn(page)
    await page.waitForURL((u) => u.pathname === '/oauth/callback')
    t.equal(await page.locator('#result').innerText(), 'Connected crm-user')
    const replay = await page.goto(page.url())
    t.equal(replay!.status(), 400, 'the replayed code and state are refused')
    t.equal(await page.locator('#result').innerText(), 'Not connected')
    t.equal((await agentCall()).status, 200, 'the grant in force is untouched')
  })

  t.test('CLI: sidekey oauth connect prints a link and waits until it is used', async (t) => {
    const child = spawn(process.execPath, [join(process.cwd(), 'dist/src/cli/main.js'), 'oauth', 'connect', 'crm-user', '--admin', sk.adminUrl.replace('http://', ''), '--certs', join(dir, 'certs')], { stdio: ['ignore', 'pipe', 'pipe'] })
    t.teardown(() => void child.kill('SIGKILL'))
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr.on('data', (d: Buffer) => (out += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    const link = await waitFor('the CLI to print the link', () => /(http:\/\/\S+\/oauth\/begin\?key=\S+)/.exec(out)?.[1])
    const cliPage = await context.newPage()
    await cliPage.goto(link)
    await signIn(cliPage)
    await cliPage.waitForURL((u) => u.pathname === '/oauth/callback')
    t.equal(await exited, 0, out)
    t.match(out, /connected crm-user/)
    t.notOk([...(await heldTokens())].some((x) => out.includes(x)), 'the CLI never saw a token')
    await cliPage.close()
  })

  t.test('invalid_grant at refresh fails closed: reconnect refusal, webhook alert, console attention', async (t) => {
    // A person revokes the grant at the provider, behind sidekey's back.
    const refresh = (await heldTokens())[1]!
    t.equal(await as.revokeDirectly(refresh), 200)
    const refused = await pollFor(() => agentCall(), (r) => r.status === 403, 20_000, 250)
    t.equal(refused.error, 'SIDEKEY_ERR_GRANT_RECONNECT')
    t.match(refused.body, /invalid_grant/)
    const alert = await waitFor('the webhook alert', () => webhook.received.find((a) => a.event === 'grant_needs_attention'))
    t.match(alert, { credential: 'crm-user', problem: /invalid_grant/ })
    await page.goto(`${sk.adminUrl}/console#token=${encodeURIComponent(sk.adminToken)}`)
    const row = page.locator('#grants tr[data-grant="crm-user"]')
    await pollFor(() => row.getAttribute('data-status'), (s) => s === 'needs-attention')
    t.equal(await row.getAttribute('data-status'), 'needs-attention')
    t.match(await row.innerText(), /NEEDS ATTENTION/)
  })

  t.test('revocation from the console: at the provider and locally', async (t) => {
    // Connect once more, then revoke it from the console.
    await page.goto(`${sk.adminUrl}/console#token=${encodeURIComponent(sk.adminToken)}`)
    const row = page.locator('#grants tr[data-grant="crm-user"]')
    await row.locator('button[data-action=connect]').click()
    await page.click('#connect-continue')
    await signIn(page)
    await page.waitForURL((u) => u.pathname === '/oauth/callback')
    t.equal((await agentCall()).status, 200)
    const refresh = (await heldTokens())[1]!
    const revocations = as.events.revocations
    await page.goto(`${sk.adminUrl}/console`)
    await row.locator('button[data-action=revoke]').click()
    await pollFor(() => row.getAttribute('data-status'), (s) => s === 'revoked')
    t.equal(await row.getAttribute('data-status'), 'revoked')
    t.ok(as.events.revocations > revocations, 'revoked at the provider (RFC 7009)')
    const res = await agentCall()
    t.equal(res.status, 403)
    t.equal(res.error, 'SIDEKEY_ERR_GRANT_RECONNECT')
    t.same(await heldTokens(), [], 'sidekey no longer holds any token of it')
    t.equal(await as.revokeDirectly(refresh), 200, '(the provider answers 200 to a token it no longer knows)')
  })

  t.test('no page error, and no token in any log line', async (t) => {
    t.same(pageErrors, [])
    t.same(sk.sink.leaks([...everToken]), [])
  })
})
