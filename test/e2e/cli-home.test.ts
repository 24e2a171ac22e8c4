import { execFile, spawn } from 'node:child_process'
import { appendFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { fetch, ProxyAgent } from 'undici'
import { DEFAULTS } from '../../src/config.js'
import { startSidekey } from '../../src/sidekey.js'
import { LogSink } from '../helpers/log-sink.js'
import { waitFor } from '../helpers/poll.js'
import { requireTools } from '../helpers/tools.js'
import { startUpstream, type Upstream } from '../helpers/upstream.js'

// The CLI from anywhere (issue #19): SIDEKEY_HOME instead of the current directory, `sidekey run`
// that checks before it embeds, explain that says what would happen now, the start-up report on a
// terminal and off one, and `sidekey audit`.

requireTools('curl', 'python3')

const CLI = join(process.cwd(), 'dist/src/cli/main.js')

interface Result {
  code: number
  stdout: string
  stderr: string
}

function sidekey(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr })
    })
  })
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A home (policies/ with `files`) and an unrelated, empty working directory. */
async function homeWith(files: Record<string, string>): Promise<{ home: string; cwd: string }> {
  const root = await mkdtemp(join(tmpdir(), 'sidekey-home-'))
  const home = join(root, 'home')
  const cwd = join(root, 'elsewhere')
  await mkdir(join(home, 'policies'), { recursive: true })
  await mkdir(cwd)
  for (const [name, text] of Object.entries(files)) await writeFile(join(home, 'policies', name), text)
  return { home, cwd }
}

/** An API stand-in on loopback, and a home whose one policy file (after `version: v1`) is `policy(port)`. */
async function homeWithUpstream(t: Test, policy: (port: number) => string): Promise<{ upstream: Upstream; home: string; cwd: string }> {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  return { upstream, ...(await homeWith({ 'p.yaml': `version: v1\n${policy(upstream.port)}` })) }
}

/** This process's environment without the settings that would point the CLI somewhere else. */
const BASE_ENV: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !['SIDEKEY_HOME', 'SIDEKEY_POLICIES', 'SIDEKEY_CERTS', 'SIDEKEY_ADMIN', 'SIDEKEY_WORKLOAD'].includes(name)))

t.test('every command finds its files in SIDEKEY_HOME, from any directory', async (t) => {
  const { home, cwd } = await homeWith({ 'p.yaml': 'version: v1\nroutes:\n  - { name: api, host: api.test }\n' })
  const env = { ...BASE_ENV, SIDEKEY_HOME: home }
  const check = await sidekey(['policy', 'check'], { cwd, env })
  t.equal(check.code, 0, check.stderr)
  t.match(check.stdout, /^ok: 1 route\(s\)/)
  const init = await sidekey(['ca', 'init'], { cwd, env })
  t.equal(init.code, 0, init.stderr)
  t.match(init.stdout, new RegExp(`created CA certificate ${join(home, 'certs', 'ca.pem')}`))
  const show = await sidekey(['ca', 'show'], { cwd, env })
  t.match(show.stdout, new RegExp(`^export SSL_CERT_FILE=${join(home, 'certs', 'bundle.pem')}$`, 'm'))
  const offline = await sidekey(['explain', 'GET', 'https://api.test/x', '--admin', `127.0.0.1:${await closedPort()}`], { cwd, env })
  t.match(offline.stdout, new RegExp(`decided by: the policy files in ${join(home, 'policies')}`))
  t.same(await readdir(cwd), [], 'nothing was written in the working directory')
})

t.test('run with no sidekey and no policy refuses before it creates anything', async (t) => {
  const { cwd } = await homeWith({})
  const admin = `127.0.0.1:${await closedPort()}`
  const r = await sidekey(['run', '--no-sandbox', '--admin', admin, '--', 'true'], { cwd, env: BASE_ENV })
  t.equal(r.code, 1)
  t.match(r.stderr, new RegExp(`no sidekey answers at http://${admin}, and none can start here: cannot read policy path \\(ENOENT\\): ${join(cwd, 'policies')}`))
  t.match(r.stderr, /set SIDEKEY_HOME to the directory holding policies\/ and certs\//)
  t.same(await readdir(cwd), [], 'no CA, no admin token, no certs directory')
})

t.test('run --no-embed refuses when no sidekey answers, and starts nothing', async (t) => {
  const { home, cwd } = await homeWith({ 'p.yaml': 'version: v1\nroutes:\n  - { name: api, host: api.test }\n' })
  const admin = `127.0.0.1:${await closedPort()}`
  const r = await sidekey(['run', '--no-sandbox', '--no-embed', '--admin', admin, '--', 'true'], { cwd, env: { ...BASE_ENV, SIDEKEY_HOME: home } })
  t.equal(r.code, 1)
  t.match(r.stderr, new RegExp(`no sidekey answers at http://${admin}, and --no-embed forbids starting one here`))
  t.same(await readdir(home), ['policies'], 'no certs directory was made')
})

t.test('the embedded sidekey is announced in one line; its log goes to certs/audit.log, not the agent\'s stderr', async (t) => {
  const { upstream, home, cwd } = await homeWithUpstream(t, (port) => `credentials:
  k: { type: static, env: HOME_TEST_SECRET }
routes:
  - { name: local, host: 127.0.0.1, ports: [${port}], workloads: [agent], credential: k }
`)
  const secret = 'home-secret-6b1d'
  const env = { ...BASE_ENV, SIDEKEY_HOME: home, HOME_TEST_SECRET: secret }
  const r = await sidekey(['run', '--no-sandbox', '--admin', `127.0.0.1:${await closedPort()}`, '--', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${upstream.port}/v1/x`], { cwd, env })
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '200')
  t.equal(upstream.seen.at(-1)?.headers.authorization, `Bearer ${secret}`)
  const logFile = join(home, 'certs', 'audit.log')
  t.equal(r.stderr.split('\n').filter((l) => l.includes('starting one in this process')).length, 1, 'one announcement')
  t.match(r.stderr, new RegExp(`with the policies in ${join(home, 'policies')} \\(its log: ${logFile}; --no-embed refuses instead\\)`))
  t.notMatch(r.stderr, /"level"/, 'no JSON log line in the agent\'s stderr')
  t.notOk(r.stdout.includes(secret) || r.stderr.includes(secret))
  const log = (await readFile(logFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(log.find((l) => l.event === 'request'), { workload: 'agent', route: 'local', status: 200, credential: 'k' })
  t.same(await readdir(cwd), [], 'nothing in the working directory')

  // sidekey audit reads that log by default, one readable line per exchange, filtered.
  const audit = await sidekey(['audit', '--status', '2xx'], { cwd, env })
  t.equal(audit.code, 0, audit.stderr)
  t.match(audit.stdout, new RegExp(`^\\d\\d:\\d\\d:\\d\\d  agent +200 GET http://127\\.0\\.0\\.1:${upstream.port}/v1/x  allow \\(route-allows\\)  route=local credential=k  \\d+ ms$`, 'm'))
  t.notOk(audit.stdout.includes('\u001b['), 'no colour when stdout is not a terminal')
  t.equal((await sidekey(['audit', '--workload', 'someone-else'], { cwd, env })).stdout, '', 'the workload filter leaves nothing')
})

t.test('explain: run\'s workload, the running sidekey\'s view, the credential and the address guard now', async (t) => {
  const { upstream, home, cwd } = await homeWithUpstream(t, (port) => `credentials:
  k: { type: static, env: EXPLAIN_TEST_SECRET }
  minted: { type: jwt, audience: https://minted.test }
routes:
  - { name: api, host: api.test, workloads: [agent], credential: k }
  - { name: local-name, host: localhost, workloads: [agent] }
  - { name: minted, host: 127.0.0.1, ports: [${port}], workloads: [agent], credential: minted }
`)
  process.env.EXPLAIN_TEST_SECRET = 'explain-secret-0c2a'
  t.teardown(() => delete process.env.EXPLAIN_TEST_SECRET)
  const running = await startSidekey(
    { ...DEFAULTS, listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, policyPath: join(home, 'policies'), certsDir: join(home, 'certs'), connectTo: new Map([['api.test:443', { host: '93.184.215.14', port: 443 }]]), watchPolicy: false },
    { logger: new LogSink().logger() },
  )
  t.teardown(() => running.close())
  const admin = running.adminUrl.replace('http://', '')
  // The CLI's own environment lacks the variable: only the running sidekey can say it is set.
  const env = { ...BASE_ENV, SIDEKEY_HOME: home, SIDEKEY_ADMIN: admin }
  const ready = await sidekey(['explain', 'GET', 'https://api.test/v1/x'], { cwd, env })
  t.equal(ready.code, 0, ready.stdout + ready.stderr)
  t.match(ready.stdout, /\(workload: agent\)/, 'the workload sidekey run uses')
  t.match(ready.stdout, new RegExp(`decided by: the running sidekey at http://${admin}`))
  t.match(ready.stdout, /credential: k injected\n {4}ok: variable EXPLAIN_TEST_SECRET/)
  t.match(ready.stdout, /address guard: allowed: 93\.184\.215\.14: may be dialled/, 'the --connect-to target, as the proxy would dial it')
  t.notMatch(ready.stdout, /explain-secret-0c2a/)

  const brief = await sidekey(['explain', '--brief', 'GET', 'https://api.test/v1/x'], { cwd, env })
  t.equal(brief.stdout, 'GET api.test:443/v1/x (agent): allowed by route "api", credential "k" ready, address 93.184.215.14 allowed\n')

  const blocked = await sidekey(['explain', '--brief', 'GET', 'http://localhost/'], { cwd, env })
  t.equal(blocked.code, 3, 'allowed by policy, refused now')
  t.match(blocked.stdout, /^GET localhost:80\/ \(agent\): refused now: (127\.0\.0\.1|::1) is a loopback address: refused with SIDEKEY_ERR_DESTINATION_BLOCKED; name it in route "local-name"'s addresses if this is intended\n$/)

  const anonymous = await sidekey(['explain', '--brief', '--workload=', 'GET', 'https://api.test/v1/x'], { cwd, env })
  t.equal(anonymous.code, 1)
  t.match(anonymous.stdout, /\(anonymous\): refused: anonymous-not-allowed -> SIDEKEY_ERR_PROXY_AUTH_REQUIRED/)

  // A token the running sidekey fetches (here: mints) is cached after the first request.
  const target = `http://127.0.0.1:${upstream.port}/v1/y`
  t.match((await sidekey(['explain', 'GET', target], { cwd, env })).stdout, /credential: minted injected\n {4}token: none cached; fetched from the identity provider on first use/)
  const through = await fetch(target, { dispatcher: new ProxyAgent(running.proxyUrl.replace('http://', `http://agent:${running.runTokens.mint('agent').token}@`)) })
  t.equal(through.status, 200)
  t.match((await sidekey(['explain', 'GET', target], { cwd, env })).stdout, /credential: minted injected\n {4}token: cached, usable now/)
  // /v1/explain is public: an agent may ask as any workload, and whether one has a token cached
  // says it called the service lately. Only the admin token's holder (the CLI above) learns that.
  const asked = `${running.adminUrl}/v1/explain?method=GET&url=${encodeURIComponent(target)}&workload=agent`
  const publicAnswer = (await (await fetch(asked)).json()) as { credential: string; credential_cached: boolean | null }
  t.equal(publicAnswer.credential, 'minted')
  t.equal(publicAnswer.credential_cached, null, 'not told without the admin token')
  const adminAnswer = (await (await fetch(asked, { headers: { authorization: `Bearer ${running.adminToken}` } })).json()) as { credential_cached: boolean | null }
  t.equal(adminAnswer.credential_cached, true)

  // Offline, from the files and this process's environment: the variable is missing here.
  const offline = await sidekey(['explain', 'GET', 'https://api.test/v1/x', '--policies', join(home, 'policies')], { cwd, env })
  t.equal(offline.code, 3)
  t.match(offline.stdout, /outcome: refused now: credential "k": variable EXPLAIN_TEST_SECRET is not set in sidekey's environment -> SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE/)
  t.match(offline.stdout, /missing: variable EXPLAIN_TEST_SECRET is not set/)
})

const WARNED_POLICY = {
  'a.yaml': 'version: v1\ncredentials:\n  k: { type: static, env: START_TEST_UNSET }\n  f: { type: static, file: ./no-such-secret }\nroutes:\n  - { name: api, host: api.test, credential: k }\n  - { name: files, host: files.test, credential: f }\n',
  'b.yaml': 'version: v1\nroutes:\n  - { name: api-deny, host: api.test, methods: [DELETE], action: deny }\n',
}

/** Start `sidekey start` on free ports, read its output until `done`, then stop it with SIGINT. */
async function startUntil(home: string, done: (out: string) => boolean, tty: boolean, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const args = [CLI, 'start', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']
  // A terminal for the child: python3's pty, so isTTY is true in it as in a person's shell.
  const pty = 'import os,pty,sys\npid,fd=pty.fork()\nif pid==0: os.execv(sys.argv[1], sys.argv[1:])\nwhile True:\n  try: b=os.read(fd,65536)\n  except OSError: break\n  if not b: break\n  sys.stdout.buffer.write(b); sys.stdout.flush()\n'
  const env = { ...BASE_ENV, SIDEKEY_HOME: home, ...extraEnv }
  const child = tty ? spawn('python3', ['-c', pty, process.execPath, ...args], { env }) : spawn(process.execPath, args, { env })
  let out = ''
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    await waitFor('the start-up report', () => done(out), 20_000)
  } finally {
    // Through the pty the signal reaches sidekey as the terminal's Ctrl-C would: to its group.
    if (tty) spawn('pkill', ['-INT', '-P', String(child.pid)])
    child.kill('SIGINT')
    await exited
  }
  return out
}

t.test('start warns of unreadable credential sources and of routes whose file order decides, as JSON lines off a terminal', async (t) => {
  const { home } = await homeWith(WARNED_POLICY)
  const out = await startUntil(home, (o) => o.includes('"route_order_decides"') && (o.match(/"credential_unavailable"/g) ?? []).length === 2, false)
  const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.match(lines.find((l) => l.event === 'credential_unavailable' && l.credential === 'k'), { level: 'warn', variable: 'START_TEST_UNSET', msg: /variable START_TEST_UNSET is not set in sidekey's environment; requests that need it will be refused/ })
  t.match(lines.find((l) => l.event === 'credential_unavailable' && l.credential === 'f'), { level: 'warn', file: join(home, 'policies', 'no-such-secret'), msg: /cannot be read \(ENOENT\)/ })
  t.match(lines.find((l) => l.event === 'route_order_decides'), { level: 'warn', route: 'api', other: 'api-deny', msg: /"api" wins only because its file's name sorts first/ })
  t.notMatch(out, /sidekey is running/, 'no human summary in a log pipe')
})

t.test('policy check warns of overlapping routes of different files, unless one shadows the other', async (t) => {
  const { home } = await homeWith({
    'a.yaml': 'version: v1\nroutes:\n  - { name: reads, host: "*.test", methods: [GET] }\n',
    'b.yaml': 'version: v1\nroutes:\n  - { name: api-deny, host: api.test, action: deny }\n',
  })
  const check = await sidekey(['policy', 'check', join(home, 'policies')])
  t.equal(check.code, 0, 'a warning, not an error')
  t.match(check.stderr, new RegExp(`b\\.yaml:3: warning: route "api-deny" overlaps route "reads" \\(${join(home, 'policies', 'a.yaml')}:3\\) and decides differently; "reads" wins only because its file's name sorts first`))
  const { home: shadowing } = await homeWith(WARNED_POLICY)
  const shadowed = await sidekey(['policy', 'check', join(shadowing, 'policies')])
  t.match(shadowed.stderr, /route "api-deny" is never reached/)
  t.notMatch(shadowed.stderr, /overlaps/, 'one warning for one pair')
})

t.test('start on a terminal prints a summary for a person and logs to certs/audit.log', async (t) => {
  const { home } = await homeWith(WARNED_POLICY)
  const out = await startUntil(home, (o) => o.includes('sidekey audit --follow'), true)
  t.match(out, /sidekey is running with 3 route\(s\)/)
  t.match(out, /proxy {4}http:\/\/127\.0\.0\.1:\d+/)
  t.match(out, /console {2}http:\/\/127\.0\.0\.1:\d+\/console/)
  t.match(out, /metrics {2}http:\/\/127\.0\.0\.1:\d+\/metrics/)
  t.match(out, new RegExp(`log {6}${join(home, 'certs', 'audit.log')}`))
  t.match(out, /warning: credential "k" cannot be obtained/)
  t.match(out, /sidekey run -- YOUR_AGENT_COMMAND/)
  t.notMatch(out, /"level"/, 'no JSON on the terminal')
  const log = await readFile(join(home, 'certs', 'audit.log'), 'utf8')
  t.match(log, /"event":"started"/)
  t.match(log, /"event":"route_order_decides"/)
})

t.test('start on a terminal with SIDEKEY_LOG=stdout keeps the JSON log there, after the summary', async (t) => {
  const { home } = await homeWith(WARNED_POLICY)
  const out = await startUntil(home, (o) => o.includes('sidekey audit --follow') && o.includes('"route_order_decides"'), true, { SIDEKEY_LOG: 'stdout' })
  t.match(out, /sidekey is running with 3 route\(s\)/)
  t.notMatch(out, /\n {2}log {6}/, 'no log file named')
  t.match(out, /"event":"started"/)
  t.same(await readdir(join(home, 'certs')).then((f) => f.includes('audit.log')), false, 'no audit.log written')
})

t.test('audit --follow prints lines as they are appended, tunnels folded under their requests', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-audit-'))
  const file = join(dir, 'audit.log')
  const line = (fields: Record<string, unknown>): string =>
    `${JSON.stringify({ level: 'info', time: '2026-01-02T03:04:05.000Z', tunnel: null, workload: 'agent', method: 'GET', scheme: 'https', host: 'api.test', port: 443, path: '/x', route: 'api', decision: 'allow', reason: 'route-allows', report_only: false, condition: null, approval: null, credential: null, status: 200, error: null, total_ms: 3, ...fields })}\n`
  await writeFile(file, line({ event: 'request', id: 'r0', path: '/before' }))
  const child = spawn(process.execPath, [CLI, 'audit', '--follow', file], { env: { ...BASE_ENV, NO_COLOR: '1' } })
  let out = ''
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.teardown(() => child.kill('SIGKILL'))
  await waitFor('the existing line', () => out.includes('/before'))
  await appendFile(file, line({ event: 'request', id: 'r1', tunnel: 't1', path: '/inside' }) + line({ event: 'tunnel', id: 't1', method: 'CONNECT', path: null, total_ms: 40 }) + line({ event: 'tunnel', id: 't2', host: 'refused.test', route: null, decision: 'deny', reason: 'no-route', status: 403, method: 'CONNECT', path: null }))
  await waitFor('the appended lines', () => out.includes('refused.test'))
  child.kill('SIGINT')
  t.equal(await exited, 0, 'SIGINT ends the follow')
  const lines = out.trim().split('\n')
  t.match(lines, [/agent +200 GET https:\/\/api\.test\/before/, /agent +200 GET https:\/\/api\.test\/inside/, /^ {4}└ tunnel api\.test:443 closed after 1 request\(s\), 40 ms$/, /agent +403 CONNECT refused\.test:443 {2}deny \(no-route\)/])
  t.equal(lines.length, 4)
})

t.test('npm install -g of the checkout gives a sidekey command that works from any directory', async (t) => {
  // Offline, so no tarball: `npm install -g sidekey-*.tgz` fetches the dependencies from the
  // registry. A checkout is linked, with its own node_modules (README: Install).
  const { home, cwd } = await homeWith({ 'p.yaml': 'version: v1\nroutes:\n  - { name: api, host: api.test }\n' })
  const prefix = await mkdtemp(join(tmpdir(), 'sidekey-prefix-'))
  const install = await new Promise<Result>((resolve) => {
    execFile('npm', ['install', '--global', '--prefix', prefix, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', process.cwd()], { encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : 1, stdout, stderr })
    })
  })
  t.equal(install.code, 0, install.stderr)
  // The bin runs on the `node` first on PATH (#!/usr/bin/env node): the Node sidekey needs.
  const env = { ...BASE_ENV, SIDEKEY_HOME: home, PATH: [join(process.execPath, '..'), join(prefix, 'bin'), BASE_ENV.PATH].join(':') }
  const help = await new Promise<Result>((resolve) => {
    execFile('sidekey', ['--help'], { cwd, env, encoding: 'utf8' }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, stdout, stderr }))
  })
  t.equal(help.code, 0, help.stderr)
  t.match(help.stdout, /^usage:/m)
  const check = await new Promise<Result>((resolve) => {
    execFile('sidekey', ['policy', 'check'], { cwd, env, encoding: 'utf8' }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, stdout, stderr }))
  })
  t.match(check.stdout, /^ok: 1 route\(s\)/, 'the policy found through SIDEKEY_HOME')
})
