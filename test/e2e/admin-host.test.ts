import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { chromium } from 'playwright-core'
import { DEFAULTS } from '../../src/config.js'
import { startSidekey } from '../../src/sidekey.js'
import { curl, rawExchange } from '../helpers/clients.js'
import { LogSink } from '../helpers/log-sink.js'
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js'

// Issue #20, item 12: DNS rebinding. A page on evil.example re-points its name at 127.0.0.1; the
// browser then treats the admin listener as evil.example's own origin and lets the page read it.
// Only the Host header still carries the attacker's name, so the admin listener answers only to
// the names that are its own, before any handler runs.

const CHROMIUM = process.env.SIDEKEY_CHROMIUM ?? '/usr/bin/chromium'

const POLICY = `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: internal-api, host: api.internal.test, credential: key }
`

/** Every endpoint the admin listener has, with the method it answers. */
const ENDPOINTS: [string, string][] = [
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/v1/routes'],
  ['GET', '/v1/explain?method=GET&url=https%3A%2F%2Fapi.internal.test%2Fx'],
  ['GET', '/.well-known/jwks.json'],
  ['GET', '/.well-known/openid-configuration'],
  ['GET', '/metrics'],
  ['GET', '/v1/workloads'],
  ['GET', '/console'],
  ['GET', '/v1/ca.pem'],
  ['GET', '/v1/run-tokens'],
  ['POST', '/v1/run-tokens'],
  ['POST', '/v1/policy/reload'],
  ['POST', '/v1/workloads/agent/quarantine'],
  ['GET', '/v1/approvals'],
  ['GET', '/v1/decisions'],
  ['GET', '/v1/events'],
  ['GET', '/no-such-endpoint'],
]

const head = (answer: string) => answer.slice(0, answer.indexOf('\r\n\r\n'))
const statusOf = (answer: string) => Number(/^HTTP\/1\.[01] ([0-9]{3})/.exec(answer)?.[1] ?? 0)

t.test('admin listener and the Host header', async (t) => {
  const sk = await startTestSidekey(t, POLICY)
  const port = Number(new URL(sk.adminUrl).port)
  const raw = (method: string, target: string, headerLines: string[], version = '1.1') =>
    rawExchange(port, `${method} ${target} HTTP/${version}\r\n${headerLines.map((h) => `${h}\r\n`).join('')}${method === 'POST' ? 'content-type: application/json\r\ncontent-length: 2\r\n' : ''}connection: close\r\n\r\n${method === 'POST' ? '{}' : ''}`)
  const admin = `authorization: Bearer ${sk.adminToken}`

  t.test('a rebinding name is refused on every endpoint, with the admin token too, before any handler', async (t) => {
    for (const [method, path] of ENDPOINTS) {
      for (const host of ['evil.example', `evil.example:${port}`]) {
        const answer = await raw(method, path, [`Host: ${host}`, admin])
        t.equal(statusOf(answer), 421, `${method} ${path} with Host ${host}: 421`)
        t.match(head(answer), /\r\nx-sidekey-error: SIDEKEY_ERR_ADMIN_HOST\r\n/i)
        // The body is chunked (connection: close): the JSON is between the first { and the last }.
        const body = JSON.parse(answer.slice(answer.indexOf('{'), answer.lastIndexOf('}') + 1)) as { error: { code: string; message: string } }
        t.equal(body.error.code, 'SIDEKEY_ERR_ADMIN_HOST')
        t.match(body.error.message, /answers only to localhost, loopback addresses and its configured names .* defence against DNS rebinding; this request has Host "evil\.example/)
        t.notMatch(answer, /internal-api|TEST_OPENAI_KEY|sidekey_requests_total|BEGIN CERTIFICATE|<html/i, 'nothing of what the handler would answer')
      }
    }
    t.equal(sk.runTokens.list().length, 0, 'no run token was minted')
    t.notOk(sk.monitor.workloads().some((w) => (w as { quarantined?: boolean }).quarantined), 'nothing was quarantined')
  })

  t.test('names that only look local, and requests that name two hosts, are refused', async (t) => {
    const refused: [string, string[], string?][] = [
      ['/v1/routes', ['Host: 127.0.0.1.evil.example']],
      ['/v1/routes', [`Host: localhost.evil.example:${port}`]],
      ['/v1/routes', ['Host: LOCALHOST.evil.example.']],
      ['/v1/routes', ['Host: 0.0.0.0']],
      ['/v1/routes', [`Host: 10.1.2.3:${port}`]],
      ['/v1/routes', ['Host: [::ffff:7f00:1]']],
      ['/v1/routes', ['Host: localhost', 'Host: evil.example']],
      [`http://evil.example:${port}/v1/routes`, ['Host: 127.0.0.1']],
      ['/v1/routes', [], '1.0'],
    ]
    for (const [target, headers, version] of refused) {
      const answer = await raw('GET', target, headers, version)
      t.equal(statusOf(answer), 421, `${target} with ${headers.join(', ') || 'no Host (HTTP/1.0)'}: 421`)
      t.notMatch(answer, /internal-api/)
    }
  })

  t.test('loopback names are answered, with the listener\'s port, another port (a forwarded one) or none', async (t) => {
    for (const host of ['localhost', `localhost:${port}`, 'LocalHost.', '127.0.0.1', `127.0.0.1:${port}`, '127.0.0.2', '[::1]', `[::1]:${port}`, 'localhost:8080']) {
      const answer = await raw('GET', '/v1/routes', [`Host: ${host}`])
      t.equal(statusOf(answer), 200, `Host ${host}: 200`)
      t.match(answer, /internal-api/)
    }
    t.equal(statusOf(await raw('GET', `http://localhost:${port}/healthz`, ['Host: localhost'])), 200, 'an absolute-form target naming the listener')
  })

  t.test('curl, with the attacker\'s name resolved to loopback as a rebinding does', async (t) => {
    const evil = await curl(['--resolve', `evil.example:${port}:127.0.0.1`, `http://evil.example:${port}/v1/routes`])
    t.equal(evil.status, 421)
    t.match(evil.headers, /x-sidekey-error: SIDEKEY_ERR_ADMIN_HOST/i)
    const local = await curl([`http://localhost:${port}/metrics`])
    t.equal(local.status, 200)
    t.match(local.body, /sidekey_requests_total/)
  })

  t.test('one log line per refused name and minute, at warn', async (t) => {
    const lines = sk.sink.lines.filter((l) => l.event === 'admin_host_refused')
    t.ok(lines.length > 0)
    t.equal(lines.filter((l) => l.refused === 'Host "evil.example"').length, 1, 'the same name is not logged again within the minute')
    t.match(lines[0], { level: 'warn', method: 'GET' })
  })

  t.test('a page rebound to the admin listener in a real browser reads nothing', { skip: existsSync(CHROMIUM) || process.env.CI ? false : `no Chromium at ${CHROMIUM}` }, async (t) => {
    // Chromium resolves evil.example to 127.0.0.1, as the attacker's DNS would after the rebind;
    // a script in that origin asks for what the console shows.
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--host-resolver-rules=MAP evil.example 127.0.0.1'],
    })
    t.teardown(() => browser.close())
    const page = await browser.newPage()
    await page.goto(`http://evil.example:${port}/`)
    const seen = await page.evaluate(async () => {
      const out: Record<string, [number, string]> = {}
      for (const path of ['/v1/routes', '/v1/workloads', '/metrics', '/v1/explain?url=https://api.internal.test/']) {
        const res = await fetch(path)
        out[path] = [res.status, await res.text()]
      }
      return out
    })
    for (const [path, [status, text]] of Object.entries(seen)) {
      t.equal(status, 421, `${path}: 421 to the rebound page`)
      t.notMatch(text, /internal-api|sidekey_requests_total/)
    }
    // The console itself, opened by its real name, still works.
    const ok = await page.goto(`http://127.0.0.1:${port}/console`)
    t.equal(ok?.status(), 200)
  })

  noSecretsLogged(t, sk)
})

t.test('configured names: the bind address, the issuer host and --admin-hosts (the pod IP and Service name Prometheus uses)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-admin-hosts-'))
  await mkdir(join(dir, 'policies'))
  await writeFile(join(dir, 'policies', 'policy.yaml'), POLICY)
  const sink = new LogSink()
  // Bound to every address, as the Helm chart does when the ServiceMonitor scrapes the pod IP.
  const sk = await startSidekey(
    { ...DEFAULTS, listen: { host: '127.0.0.1', port: 0 }, admin: { host: '0.0.0.0', port: 0 }, adminHosts: ['10.1.2.3', 'demo-sidekey-metrics.agents.svc', 'fd00::7'], issuer: 'https://sidekey.example.com', policyPath: join(dir, 'policies'), certsDir: join(dir, 'certs'), watchPolicy: false },
    { logger: sink.logger() },
  )
  t.teardown(() => sk.close())
  const port = Number(new URL(sk.adminUrl).port)
  const get = (path: string, host: string) => rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nconnection: close\r\n\r\n`)
  for (const host of [`10.1.2.3:${port}`, `demo-sidekey-metrics.agents.svc:${port}`, 'Demo-Sidekey-Metrics.Agents.Svc.', `[fd00::7]:${port}`, `localhost:${port}`]) {
    const answer = await get('/metrics', host)
    t.equal(statusOf(answer), 200, `/metrics with Host ${host}: 200`)
    t.match(answer, /sidekey_policy_stale 0/)
  }
  t.equal(statusOf(await get('/.well-known/jwks.json', 'sidekey.example.com')), 200, 'verifiers fetch the JWKS by the issuer\'s name')
  for (const host of ['0.0.0.0', `0.0.0.0:${port}`, 'evil.example', '10.1.2.4', 'demo-sidekey-metrics.agents.svc.evil.example']) {
    t.equal(statusOf(await get('/metrics', host)), 421, `Host ${host}: 421 (a wildcard bind address names nothing)`)
  }
  // The container's HEALTHCHECK reads SIDEKEY_ADMIN like `start` does: with a wildcard bind it
  // calls loopback, a name the listener answers to.
  const health = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(process.cwd(), 'dist/src/cli/main.js'), 'health', '--ready'], { env: { ...process.env, SIDEKEY_ADMIN: `0.0.0.0:${port}` }, encoding: 'utf8' }, (err, _stdout, stderr) => resolve({ code: err === null ? 0 : 1, stderr }))
  })
  t.same(health, { code: 0, stderr: '' }, 'sidekey health with SIDEKEY_ADMIN=0.0.0.0:PORT')
})

t.test('a call that changes state, sent by a browser from another site, is refused (POST /v1/shutdown)', async (t) => {
  // Found by a red-team run: with --shutdown-endpoint, any page the operator visited could stop
  // sidekey with a form POST to http://127.0.0.1:PORT/v1/shutdown, whose Host passes the Host check.
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-admin-cross-site-'))
  await mkdir(join(dir, 'policies'))
  await writeFile(join(dir, 'policies', 'policy.yaml'), POLICY)
  let stops = 0
  const sk = await startSidekey(
    { ...DEFAULTS, listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, policyPath: join(dir, 'policies'), certsDir: join(dir, 'certs'), watchPolicy: false },
    { logger: new LogSink().logger(), onShutdownRequest: () => void stops++ },
  )
  t.teardown(() => sk.close())
  const port = Number(new URL(sk.adminUrl).port)
  const post = (path: string, lines: string[]) => rawExchange(port, `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${lines.map((l) => `${l}\r\n`).join('')}content-type: text/plain\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx`)
  for (const lines of [['Origin: https://evil.example'], ['Origin: null'], [`Origin: http://127.0.0.1:${port + 1}`], ['Sec-Fetch-Site: cross-site'], ['Sec-Fetch-Site: same-site', `Origin: http://127.0.0.1:${port}`]]) {
    const answer = await post('/v1/shutdown', lines)
    t.equal(statusOf(answer), 403, lines.join(', '))
    t.match(answer, /x-sidekey-error: SIDEKEY_ERR_ADMIN_CROSS_SITE/i)
  }
  // With the admin token too: the token does not make a cross-site call the operator's.
  t.equal(statusOf(await post('/v1/policy/reload', ['Origin: https://evil.example', `authorization: Bearer ${sk.adminToken}`])), 403)
  t.equal(stops, 0, 'nothing stopped sidekey')

  if (existsSync(CHROMIUM) || process.env.CI) {
    // A real page on another site, posting as an attack page would: a form, no preflight.
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'] })
    t.teardown(() => browser.close())
    const page = await browser.newPage()
    await page.route('http://evil.example/', (route) => route.fulfill({ contentType: 'text/html', body: `<form id=f method=POST action="http://127.0.0.1:${port}/v1/shutdown" enctype="text/plain"><input name=x value=y></form><script>document.getElementById('f').submit()</script>` }))
    const answered = page.waitForResponse((r) => r.url().endsWith('/v1/shutdown'))
    await page.goto('http://evil.example/')
    t.equal((await answered).status(), 403, 'the form post from the page is refused')
    t.equal(stops, 0)
  }

  // Not a browser (curl, `sidekey` itself, a Job's agent): no Origin, no Sec-Fetch-Site.
  const plain = await post('/v1/shutdown', [])
  t.equal(statusOf(plain), 202)
  t.equal(stops, 1)
})
