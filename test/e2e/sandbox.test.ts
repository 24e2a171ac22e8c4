import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, openSync, realpathSync } from 'node:fs'
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { homedir, networkInterfaces, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { loadOrCreateCA } from '../../src/ca/authority.js'
import { DEFAULTS } from '../../src/config.js'
import { probeSandbox } from '../../src/sandbox/bwrap.js'
import { SandboxError } from '../../src/sandbox/errors.js'
import { mountArgs } from '../../src/sandbox/mounts.js'
import { startSidekey } from '../../src/sidekey.js'
import { LogSink } from '../helpers/log-sink.js'
import { pollFor } from '../helpers/poll.js'
import { startRedis } from '../helpers/redis.js'
import { requireTools } from '../helpers/tools.js'
import { startUpstream, upstreamTrust } from '../helpers/upstream.js'

requireTools('bwrap', 'redis-server')

// Issue #20 item 3: under `sidekey run` an agent running as the same user read certs/admin.token,
// the CA key and sidekey's environment through /proc, and wrote a policy that hot-reloaded. Here a
// hostile agent (test/fixtures/agents/escape-agent.mjs) tries each of those, the mounts that hide
// them, and the network around the proxy, under the default sandbox; then one proxied request.

const CLI = join(process.cwd(), 'dist/src/cli/main.js')
const AGENT = join(process.cwd(), 'test/fixtures/agents/escape-agent.mjs')
const SECRET = {
  env: 'sbx-env-secret-4e1f9a07',
  keysFile: 'sbx-keys-file-secret-8d2c',
  cwdFile: 'sbx-cwd-file-secret-51ab',
  homeFile: 'sbx-home-file-secret-c3e9',
  mixedFile: 'sbx-mixed-file-secret-77f0',
  redis: 'sbx-redis-password-90de',
} as const
const EXFIL_POLICY = 'version: v1\nroutes:\n  - { name: exfil, host: exfil.test }\n'

interface Run {
  code: number
  stdout: string
  stderr: string
}

function sidekeyRun(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; started?: (child: ChildProcess) => void }): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, 'run', ...args], { cwd: options.cwd, env: options.env, encoding: 'utf8', timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr })
    })
    options.started?.(child)
  })
}

/** What the escape agent printed (its last stdout line). */
interface Seen {
  sidekeyPid?: string
  reads: Record<string, { ok: boolean; value?: string; code?: string }> & { before: Record<string, { ok: boolean; value?: string; code?: string }>; after: Record<string, { ok: boolean; value?: string; code?: string }> }
  writes: Record<string, { ok: boolean; code?: string }>
  renames: Record<string, { ok: boolean; code?: string }>
  commands: Record<string, { status: number | null; stderr: string }>
  connects: Record<string, string>
  processes: { pid: number; cmdline: string | null }[]
  environs: string[]
  socketAnswer?: string
  fetches: Record<string, { status?: number; body?: string; error?: string }>
  proxyGets: Record<string, { status?: number; error?: string }>
  env: Record<string, string | undefined>
}

function seen(r: Run): Seen {
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Seen
}

/** The host's own address on a non-loopback interface, if it has one. */
function externalAddress(): string | null {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  return null
}

t.test('an agent under `sidekey run` (sidekey in-process) reaches none of its secrets, policy or network, and its proxied calls still work', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const redis = await startRedis(['--requirepass', SECRET.redis])
  t.teardown(() => redis.stop())

  // The layout of a user who runs sidekey from the agent's project directory, plus secret files in
  // the home directory (outside the working directory and outside /tmp, which the sandbox replaces).
  const project = join(await mkdtemp(join(tmpdir(), 'sidekey-sandbox-')), 'project')
  const home = await mkdtemp(join(homedir(), '.sidekey-sandbox-test-'))
  t.teardown(() => rm(home, { recursive: true, force: true }))
  const policies = join(project, 'config', 'policies')
  for (const dir of [policies, join(project, 'keys'), join(project, 'redis'), join(home, 'vault'), join(home, 'mixed')]) await mkdir(dir, { recursive: true })
  await writeFile(join(project, 'keys', 'api.key'), `${SECRET.keysFile}\n`)
  await writeFile(join(project, 'github.token'), `${SECRET.cwdFile}\n`)
  await writeFile(join(home, 'vault', 'home.key'), `${SECRET.homeFile}\n`)
  await writeFile(join(home, 'mixed', 'token.txt'), `${SECRET.mixedFile}\n`)
  await writeFile(join(home, 'mixed', 'readme.txt'), 'not a secret\n')
  await writeFile(join(project, 'redis', 'redis.password'), `${SECRET.redis}\n`)
  await writeFile(join(project, 'state.yaml'), `store: redis\nredis:\n  url: ${redis.url}\n  password_file: redis/redis.password\n`)
  const port = upstream.port
  const policy = `version: v1
credentials:
  env-key: { type: static, env: SANDBOX_TEST_KEY }
  keys-file: { type: static, file: ../../keys/api.key }
  cwd-file: { type: static, file: ../../github.token }
  home-file: { type: static, file: ${join(home, 'vault', 'home.key')} }
  mixed-file: { type: static, file: ${join(home, 'mixed', 'token.txt')} }
routes:
  - { name: api, host: api.test, ports: [${port}], workloads: [escapee], credential: env-key, addresses: [127.0.0.1] }
  - { name: files, host: files.test, ports: [${port}], workloads: [escapee], credential: keys-file, addresses: [127.0.0.1] }
`
  await writeFile(join(policies, 'p.yaml'), policy)

  const at = (...p: string[]): string => join(project, ...p)
  const hidden = [at('certs', 'admin.token'), at('certs', 'ca-key.pem'), at('config', 'policies', 'p.yaml'), at('keys', 'api.key'), at('github.token'), at('state.yaml'), at('redis', 'redis.password'), join(home, 'vault', 'home.key'), join(home, 'mixed', 'token.txt')]
  const external = externalAddress()
  const plan = {
    pidFile: at('sidekey.pid'),
    read: [...hidden, at('certs', 'ca.pem'), at('certs', 'bundle.pem'), join(home, 'mixed', 'readme.txt')],
    write: { [at('config', 'policies', 'allow-exfil.yaml')]: EXFIL_POLICY, [at('certs', 'admin.token')]: 'sk_admin_chosen_by_the_agent\n', [at('keys', 'api.key')]: 'mine\n', [at('github.token')]: 'mine\n', [at('state.yaml')]: 'store: memory\n' },
    rename: { [at('config')]: at('config-moved'), [at('keys')]: at('keys-moved'), [at('certs')]: at('certs-moved'), [at('github.token')]: at('github.token.moved') },
    plant: { [at('config', 'policies', 'zz-exfil.yaml')]: EXFIL_POLICY },
    commands: [
      `umount ${at('certs')}`,
      `umount -l ${at('config', 'policies')}`,
      `umount ${at('github.token')}`,
      `mount -o remount,rw ${at('config', 'policies')}`,
      `unshare -Urm umount ${at('certs')}`,
      'mount -t proc proc /proc',
    ],
    connect: [`127.0.0.1:${port}`, `127.0.0.1:${redis.port}`, `[::1]:${port}`, ...(external === null ? [] : [`${external}:${port}`])].map((a) => a.replace(/^\[(.*)\]/, '$1')),
    socketRequest: { path: '/run/sidekey/proxy.sock', url: `http://api.test:${port}/v1/no-token` },
    fetch: [`http://api.test:${port}/v1/models`, `http://files.test:${port}/v1/files`],
    proxyGet: [`http://exfil.test:${port}/steal`],
    env: ['SANDBOX_TEST_KEY'],
  }
  const env = { ...process.env, SANDBOX_TEST_KEY: SECRET.env, ESCAPE_PLAN: JSON.stringify(plan), HTTP_PROXY: '', HTTPS_PROXY: '', NODE_OPTIONS: '' }
  const args = ['--workload', 'escapee', '--policies', 'config/policies', '--certs', 'certs', '--state', 'state.yaml', '--admin', '127.0.0.1:1', '--connect-to', `api.test:${port}:127.0.0.1:${port},files.test:${port}:127.0.0.1:${port}`]
  let pid = 0
  const r = await sidekeyRun([...args, '--', process.execPath, AGENT], {
    cwd: project,
    env,
    started: (child) => {
      pid = child.pid!
      void writeFile(at('sidekey.pid'), String(pid))
    },
  })
  t.equal(r.code, 0, 'the agent ran to its end', { stderr: r.stderr })
  const out = seen(r)
  // Read without throwing: with the attack succeeding these may have been moved away.
  const readOr = (path: string): Promise<string | null> => readFile(path, 'utf8').catch(() => null)
  const adminToken = (await readOr(at('certs', 'admin.token')))?.trim() ?? 'the admin token was moved'
  const caKey = (await readOr(at('certs', 'ca-key.pem'))) ?? 'the CA key\nwas moved'

  t.test('sidekey\'s files: certs, CA key, policy, state, every secret file, before and after the unmount attempts', async (t) => {
    for (const when of ['before', 'after'] as const) {
      for (const path of hidden) t.notOk(out.reads[when][path]!.ok, `${when}: ${path} cannot be read (${out.reads[when][path]!.code})`)
    }
    t.equal(out.reads.after[at('certs', 'ca.pem')]!.value, await readOr(at('certs', 'ca.pem')), 'the public CA certificate is shown, read-only')
    t.ok(out.reads.after[at('certs', 'bundle.pem')]!.ok, 'so is the trust bundle')
    t.equal(out.reads.after[join(home, 'mixed', 'readme.txt')]!.value, 'not a secret\n', 'a file beside a hidden one stays readable: only what sidekey reads is hidden')
  })

  t.test('sidekey\'s process: its PID and /proc are not in the agent\'s namespace', async (t) => {
    t.equal(out.sidekeyPid, String(pid))
    t.notOk(out.reads[`/proc/${pid}/environ`]!.ok, `/proc/${pid}/environ (sidekey, holding the key) cannot be read`)
    t.notOk(out.processes.some((p) => p.cmdline?.includes('cli/main.js')), 'no sidekey process is visible')
    t.match(out.processes.find((p) => p.pid === 1)?.cmdline, /^(\S*\/)?bwrap /, 'PID 1 is bubblewrap\'s init')
    t.notOk(out.environs.some((e) => e.includes(SECRET.env)), 'no environment the agent can read holds the key')
  })

  t.test('policy: no write, no rename around the masks, no reload', async (t) => {
    for (const [path, result] of Object.entries(out.writes)) t.notOk(result.ok, `write ${path} refused (${result.code})`)
    for (const [path, result] of Object.entries(out.renames)) t.notOk(result.ok, `rename ${path} refused (${result.code})`)
    t.same(await readdir(policies).catch(() => null), ['p.yaml'], 'the policy directory holds only its own file')
    t.equal(await readOr(join(policies, 'p.yaml')), policy)
    t.notMatch(await readOr(at('certs', 'admin.token')), /chosen_by_the_agent/)
    t.equal(await readOr(at('keys', 'api.key')), `${SECRET.keysFile}\n`)
    t.notOk(existsSync(at('config-moved')) || existsSync(at('keys-moved')) || existsSync(at('certs-moved')), 'nothing was moved on the host')
    t.notMatch(r.stderr, /policy_reloaded/, 'sidekey never reloaded a policy')
    t.same(out.proxyGets[`http://exfil.test:${port}/steal`], { status: 403, error: 'SIDEKEY_ERR_NO_ROUTE' }, 'the "allow exfil" route does not exist')
  })

  t.test('mounts: no unmount, remount or new namespace, even as root', async (t) => {
    for (const [command, result] of Object.entries(out.commands)) t.not(result.status, 0, `${command}: ${result.stderr}`)
  })

  t.test('network: only the proxy; the token still decides', async (t) => {
    for (const [target, result] of Object.entries(out.connects)) t.not(result, 'connected', `${target} without the proxy: ${result}`)
    t.match(out.socketAnswer, /^HTTP\/1\.1 407 /, 'the proxy socket itself still wants the run token')
    const api = out.fetches[`http://api.test:${port}/v1/models`]!
    t.equal(api.status, 200, 'a proxied request works')
    t.equal(upstream.seen.find((s) => s.url === '/v1/models')?.headers.authorization, `Bearer ${SECRET.env}`, 'with the key from sidekey\'s environment')
    t.equal(out.fetches[`http://files.test:${port}/v1/files`]!.status, 200)
    t.equal(upstream.seen.find((s) => s.url === '/v1/files')?.headers.authorization, `Bearer ${SECRET.keysFile}`, 'and the secret file the agent cannot read')
    t.notOk(upstream.seen.some((s) => s.url === '/v1/no-token'), 'nothing without a token went out')
    t.equal(out.env.SANDBOX_TEST_KEY, 'sidekey-placeholder')
  })

  t.test('no secret in anything the agent saw', async (t) => {
    for (const secret of [...Object.values(SECRET), adminToken, caKey.split('\n')[1]!]) {
      t.notOk(r.stdout.includes(secret), `the agent's output holds no ${secret.slice(0, 12)}...`)
    }
  })
})

t.test('attached to a running sidekey: the sandbox hides the paths that sidekey reports, not run\'s defaults', async (t) => {
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const project = await mkdtemp(join(tmpdir(), 'sidekey-sandbox-'))
  await mkdir(join(project, 'rules'))
  await writeFile(join(project, 'rules', 'p.yaml'), `version: v1\ncredentials:\n  k: { type: static, env: SANDBOX_ATTACH_KEY }\nroutes:\n  - { name: api, host: api.test, ports: [${upstream.port}], workloads: [w], credential: k, addresses: [127.0.0.1] }\n`)
  process.env.SANDBOX_ATTACH_KEY = SECRET.env
  // Its log in a file of the project's (`sidekey start --log sidekey.log`), and an upstream CA
  // there too: the first is hidden (every workload's audit lines), the second read-only.
  const logFile = join(project, 'sidekey.log')
  await writeFile(logFile, '{"msg":"audit","host":"earlier.test"}\n')
  const upstreamCa = join(project, 'upstream-ca.pem')
  await copyFile((await upstreamTrust()).caFile, upstreamCa)
  const upstreamCaText = await readFile(upstreamCa, 'utf8')
  const sink = new LogSink()
  const running = await startSidekey(
    { ...DEFAULTS, listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, policyPath: join(project, 'rules'), certsDir: join(project, 'certs'), upstreamCaFile: upstreamCa, connectTo: new Map([[`api.test:${upstream.port}`, { host: '127.0.0.1', port: upstream.port }]]), watchPolicy: true },
    { logger: sink.logger(), logFile },
  )
  t.teardown(() => running.close())
  const before = running.policy.current
  const adminPort = Number(new URL(running.adminUrl).port)
  const unauthenticated = await fetch(`${running.adminUrl}/v1/sandbox`)
  t.equal(unauthenticated.status, 401, 'where sidekey keeps its secrets is for the admin token only')
  const plan = {
    read: [join(project, 'certs', 'admin.token'), join(project, 'certs', 'ca-key.pem'), join(project, 'rules', 'p.yaml'), logFile, upstreamCa],
    write: { [join(project, 'rules', 'allow-exfil.yaml')]: EXFIL_POLICY, [logFile]: '', [upstreamCa]: 'the agent\'s own CA\n' },
    rename: { [logFile]: `${logFile}.moved`, [upstreamCa]: `${upstreamCa}.moved` },
    connect: [`127.0.0.1:${adminPort}`, `127.0.0.1:${upstream.port}`],
    fetch: [`http://api.test:${upstream.port}/v1/attached`],
  }
  // Only --certs and --admin: `run` does not know the policy is in rules/, the running sidekey does.
  const r = await sidekeyRun(['--workload', 'w', '--certs', 'certs', '--admin', `127.0.0.1:${adminPort}`, '--', process.execPath, AGENT], {
    cwd: project,
    env: { ...process.env, ESCAPE_PLAN: JSON.stringify(plan), HTTP_PROXY: '', HTTPS_PROXY: '', NODE_OPTIONS: '' },
  })
  t.equal(r.code, 0, r.stderr)
  const out = seen(r)
  for (const path of plan.read.slice(0, -1)) t.notOk(out.reads.before[path]!.ok, `${path} cannot be read (${out.reads.before[path]!.code})`)
  t.notOk(out.writes[join(project, 'rules', 'allow-exfil.yaml')]!.ok, 'the policy directory cannot be written')
  t.notOk(out.writes[logFile]!.ok, `nor its log file, which it cannot read either (${out.writes[logFile]!.code})`)
  t.ok(out.reads.before[upstreamCa]!.ok, 'the upstream CA it trusts is readable (it is public)')
  t.notOk(out.writes[upstreamCa]!.ok, `but not writable (${out.writes[upstreamCa]!.code})`)
  for (const from of Object.keys(plan.rename)) t.notOk(out.renames[from]!.ok, `nor can it be moved aside for one of the agent's (${from}: ${out.renames[from]!.code})`)
  t.match(await readFile(logFile, 'utf8'), /earlier\.test/, 'the log is as sidekey wrote it')
  t.equal(await readFile(upstreamCa, 'utf8'), upstreamCaText, 'and so is the CA file')
  t.equal(running.policy.current, before, 'the running sidekey\'s policy is the one it started with')
  t.not(out.connects[`127.0.0.1:${adminPort}`], 'connected', 'the admin port is out of reach')
  t.not(out.connects[`127.0.0.1:${upstream.port}`], 'connected', 'so is the upstream, without the proxy')
  t.equal(out.fetches[`http://api.test:${upstream.port}/v1/attached`]!.status, 200, 'through the proxy the call works')
  t.equal(upstream.seen.at(-1)!.headers.authorization, `Bearer ${SECRET.env}`)
  t.notOk(r.stdout.includes(running.adminToken), 'the admin token is nowhere in the agent\'s output')
  t.same(running.runTokens.list(), [], 'the run token was revoked at exit')
})

t.test('without bubblewrap, run refuses and says how to go on; --no-sandbox runs with one warning line', async (t) => {
  const project = await mkdtemp(join(tmpdir(), 'sidekey-sandbox-'))
  await mkdir(join(project, 'policies'))
  await writeFile(join(project, 'policies', 'p.yaml'), 'version: v1\nroutes:\n  - { name: a, host: api.test }\n')
  const agent = ['--', process.execPath, '-e', "require('fs').writeFileSync('ran', require('fs').readFileSync('certs/admin.token'))"]
  const args = ['--admin', '127.0.0.1:1']

  const refused = await sidekeyRun([...args, ...agent], { cwd: project, env: { ...process.env, PATH: join(project, 'no-bwrap-here') } })
  t.equal(refused.code, 1)
  t.match(refused.stderr, /cannot start the agent in its sandbox: bwrap \(bubblewrap 0\.8 or later\) is not installed or not on PATH/)
  t.match(refused.stderr, /pass --no-sandbox/)
  t.notOk(existsSync(join(project, 'ran')), 'the agent did not run')
  t.notMatch(refused.stderr, /sidekey started/, 'no sidekey was started for it')

  const plain = await sidekeyRun(['--no-sandbox', ...args, ...agent], { cwd: project, env: { ...process.env, PATH: join(project, 'no-bwrap-here') } })
  t.equal(plain.code, 0, plain.stderr)
  const warnings = plain.stderr.split('\n').filter((l) => /WARNING/.test(l))
  t.equal(warnings.length, 1, 'one warning line')
  t.match(warnings[0], /--no-sandbox: .*can read sidekey's secrets/)
  t.match(await readFile(join(project, 'ran'), 'utf8'), /^sk_admin_/, 'and it is true: the agent read the admin token')
})

t.test('Ctrl-C reaches the agent in its sandbox, which exits on its own terms', async (t) => {
  const project = await mkdtemp(join(tmpdir(), 'sidekey-sandbox-'))
  await mkdir(join(project, 'policies'))
  await writeFile(join(project, 'policies', 'p.yaml'), 'version: v1\nroutes:\n  - { name: a, host: api.test }\n')
  const agent = "process.on('SIGINT', () => { console.log('agent got SIGINT'); process.exit(4) }); console.log('ready'); setInterval(() => {}, 1000)"
  // Its own process group, as a terminal's foreground job: Ctrl-C signals the whole group.
  const child = spawn(process.execPath, [CLI, 'run', '--admin', '127.0.0.1:1', '--', process.execPath, '-e', agent], { cwd: project, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => void child.kill('SIGKILL'))
  t.match(await pollFor(() => stdout, (s) => s.includes('ready'), 60_000), /ready/, 'the agent started')
  process.kill(-child.pid!, 'SIGINT')
  t.equal(await exited, 4, 'sidekey run exits with the agent\'s own status')
  t.match(stdout, /agent got SIGINT/, 'the agent handled the signal')
})

t.test('refusals before a leaky sandbox starts', async (t) => {
  t.match(await probeSandbox('darwin'), /built on Linux namespaces \(bubblewrap\) and this system is darwin/)
  t.equal(await probeSandbox(), null, 'bubblewrap works on this machine')

  const base = await mkdtemp(join(tmpdir(), 'sidekey-sandbox-'))
  const cwd = join(base, 'work')
  await mkdir(cwd)
  const elsewhere = await mkdtemp(join(tmpdir(), 'sidekey-sandbox-'))
  await symlink(elsewhere, join(cwd, 'policies'))
  const plan = (hide: string[]): Parameters<typeof mountArgs>[0] => ({ paths: { hide, show: [], protect: [] }, cwd, socketDir: elsewhere, needed: [], protect: [] })
  t.throws(() => mountArgs(plan([join(cwd, 'policies')])), new SandboxError(`${join(cwd, 'policies')} goes through the symlink ${join(cwd, 'policies')} inside the agent's working directory, which the agent could point elsewhere; give sidekey the real path, or run the agent from another directory`), 'a symlink the agent could point at its own policy')
  t.throws(() => mountArgs(plan([base])), /the agent's working directory .* is inside .*, which sidekey keeps from the agent/, 'a working directory inside a hidden path')
  t.throws(() => mountArgs({ ...plan([]), cwd: tmpdir() }), /does not share writable/, 'the shared temporary directory as working directory')

  // sidekey checked out under /tmp (replaced by a tmpfs inside), its certs beside its code: the
  // code is bound back for the agent to start, and the certs masked on top of it.
  const checkout = join(elsewhere, 'sidekey')
  await mkdir(join(checkout, 'certs'), { recursive: true })
  await mkdir(join(checkout, 'dist'))
  const args = mountArgs({ ...plan([join(checkout, 'certs')]), needed: [checkout] })
  const bound = args.findIndex((a, i) => a === '--ro-bind' && args[i + 1] === checkout)
  const masked = args.findIndex((a, i) => a === '--tmpfs' && args[i + 1] === join(checkout, 'certs'))
  t.ok(bound > 0 && masked > bound, 'the checkout is shown, and its certs directory hidden after it')
  t.throws(() => mountArgs({ ...plan([checkout]), needed: [join(checkout, 'dist')] }), /which the agent needs to start, is inside/, 'nothing hidden is shown back because the agent needs it')
  // Found by a red-team run: run from the directory above a checkout, the agent created
  // node_modules/bufferutil there, and the next `npm test` in the checkout loaded it (ws looks for it).
  t.throws(
    () => mountArgs({ ...plan([]), cwd: elsewhere, protect: [join(checkout, 'dist'), join(elsewhere, 'node_modules')] }),
    new RegExp(`${join(elsewhere, 'node_modules').replaceAll('.', '\\.')} does not exist, and the agent could create it in its working directory`),
    'a module directory above sidekey\'s that is not there yet, in the working directory, is refused',
  )
  await mkdir(join(elsewhere, 'node_modules'))
  const made = mountArgs({ ...plan([]), cwd: elsewhere, protect: [join(checkout, 'dist'), join(elsewhere, 'node_modules')] })
  t.ok(made.some((a, i) => a === '--ro-bind' && made[i + 1] === join(elsewhere, 'node_modules')), 'once it exists, it is bound read-only')
})

t.test('run from sidekey\'s own checkout (the Quickstart): the agent cannot change the code, dependencies or Node that sidekey runs, nor the sources the next start builds', async (t) => {
  // Found by a red-team run: the agent appended to node_modules/http-proxy/index.js, then made the
  // first WebSocket upgrade, and sidekey loaded the module (on first use) with the agent's code in it.
  // And by another: the agent appended to src/cli/main.ts, and the user's next `npm start` (tsc -b,
  // then dist) ran it inside sidekey, with the keys. The whole checkout is now read-only to it.
  const root = process.cwd()
  const config = await mkdtemp(join(tmpdir(), 'sidekey-sandbox-'))
  await mkdir(join(config, 'policies'))
  await writeFile(join(config, 'policies', 'p.yaml'), 'version: v1\nroutes:\n  - { name: a, host: api.test }\n')
  const probe = '.sidekey-sandbox-probe'
  const created = [join(root, 'dist', probe), join(root, 'node_modules', probe), join(root, 'node_modules', 'http-proxy', probe), join(root, '.sidekey-sandbox-agent-file')]
  t.teardown(() => Promise.all(created.map((p) => rm(p, { force: true }))))
  // The Node binary cannot be opened for writing while it runs (ETXTBSY): a new file beside it shows the mount.
  const node = realpathSync(process.execPath)
  if (node.startsWith(`${root}/`)) created.splice(-1, 0, join(dirname(node), probe))
  const plan = {
    read: [join(root, 'node_modules', 'http-proxy', 'index.js'), join(root, 'package.json')],
    write: Object.fromEntries(created.map((p) => [p, 'written by the agent\n'])),
    // Opened for appending, nothing written: a file that could be opened so could be rewritten.
    commands: [': >> package.json', ': >> node_modules/http-proxy/index.js', ': >> dist/src/cli/main.js', ': >> src/cli/main.ts', ': >> tsconfig.json', ': >> scripts/test-prerequisites.sh', ': > .npmrc'],
  }
  const r = await sidekeyRun(['--workload', 'w', '--policies', join(config, 'policies'), '--certs', join(config, 'certs'), '--admin', '127.0.0.1:1', '--', process.execPath, AGENT], {
    cwd: root,
    env: { ...process.env, ESCAPE_PLAN: JSON.stringify(plan), HTTP_PROXY: '', HTTPS_PROXY: '', NODE_OPTIONS: '' },
  })
  t.equal(r.code, 0, r.stderr)
  const out = seen(r)
  for (const path of plan.read) t.ok(out.reads.before[path]!.ok, `${path} can be read`)
  for (const path of created.slice(0, -1)) t.notOk(out.writes[path]!.ok, `${path} cannot be created (${out.writes[path]!.code})`)
  for (const command of plan.commands) {
    t.not(out.commands[command]!.status, 0, `${command}: refused`)
    t.match(out.commands[command]!.stderr, /Read-only file system/, command)
  }
  t.notOk(out.writes[created.at(-1)!]!.ok, 'nor anything else in the checkout')
  t.match(r.stderr, /the agent's working directory is in sidekey's own directory .* which the sandbox shares read-only/, 'sidekey run says so, and how to let the agent write')
  for (const path of created) t.notOk(existsSync(path), `nothing appeared at ${path}`)
  t.notOk(existsSync(join(root, '.npmrc')), 'no .npmrc was planted')
})

t.test('bwrap is never taken from the agent\'s working directory, where the agent could replace it', async (t) => {
  // Found by a red-team run: with an activated virtualenv's bin on PATH, the agent planted a bwrap
  // there, and the next `sidekey run` ran it, outside any sandbox, with the real key in reach.
  const project = await mkdtemp(join(tmpdir(), 'sidekey-sandbox-'))
  await mkdir(join(project, 'policies'))
  await mkdir(join(project, 'bin'))
  await writeFile(join(project, 'policies', 'p.yaml'), 'version: v1\nroutes:\n  - { name: a, host: api.test }\n')
  const real = await new Promise<string>((resolve, reject) => execFile('sh', ['-c', 'command -v bwrap'], (err, stdout) => (err === null ? resolve(stdout.trim()) : reject(err))))
  const planted = join(project, 'planted-bwrap-ran')
  await writeFile(join(project, 'bin', 'bwrap'), `#!/bin/sh\ntouch ${planted}\nexec ${real} "$@"\n`)
  await chmod(join(project, 'bin', 'bwrap'), 0o755)
  const agent = ['--', process.execPath, '-e', "require('fs').writeFileSync('ran', 'yes')"]
  for (const first of [join(project, 'bin'), 'bin']) {
    await rm(join(project, 'ran'), { force: true })
    const r = await sidekeyRun(['--admin', '127.0.0.1:1', ...agent], { cwd: project, env: { ...process.env, PATH: `${first}:${process.env.PATH}` } })
    t.equal(r.code, 0, r.stderr)
    t.ok(existsSync(join(project, 'ran')), `with ${first} first on PATH the agent ran, in a sandbox`)
    t.notOk(existsSync(planted), `and the bwrap in ${first} never ran`)
  }
  await rm(join(project, 'ran'), { force: true })
  const only = await sidekeyRun(['--admin', '127.0.0.1:1', ...agent], { cwd: project, env: { ...process.env, PATH: join(project, 'bin') } })
  t.equal(only.code, 1)
  t.match(only.stderr, new RegExp(`the only bwrap on PATH \\(${join(project, 'bin', 'bwrap').replaceAll('.', '\\.')}\\) lies in the agent's working directory`))
  t.match(only.stderr, /install bubblewrap system-wide/)
  t.notOk(existsSync(join(project, 'ran')), 'the agent did not run')
  t.notOk(existsSync(planted), 'nor did the planted bwrap')
})

t.test('the directory a CA is imported from is hidden; descriptors sidekey run inherited open do not reach the agent', async (t) => {
  // Outside /tmp (which the sandbox replaces, and would hide anyway), as a mounted Secret would be.
  const home = await mkdtemp(join(homedir(), '.sidekey-sandbox-test-'))
  t.teardown(() => rm(home, { recursive: true, force: true }))
  await loadOrCreateCA(join(home, 'ca-src'))
  const caKey = await readFile(join(home, 'ca-src', 'ca-key.pem'), 'utf8')
  await writeFile(join(home, 'outside.txt'), 'held open by the parent\n')
  const project = await mkdtemp(join(tmpdir(), 'sidekey-sandbox-'))
  await mkdir(join(project, 'policies'))
  await writeFile(join(project, 'policies', 'p.yaml'), 'version: v1\nroutes:\n  - { name: a, host: api.test }\n')
  const agent = `const fs = require('fs'); const r = {}
try { r.key = fs.readFileSync(${JSON.stringify(join(home, 'ca-src', 'ca-key.pem'))}, 'utf8') } catch (e) { r.key = e.code }
r.open = fs.readdirSync('/proc/self/fd').map((n) => { try { return fs.readlinkSync('/proc/self/fd/' + n) } catch { return '' } }).filter((l) => l.includes('outside'))
console.log(JSON.stringify(r))`
  // Descriptor 40 left open across exec by the parent, as a shell's `40<file` would (a high one:
  // Node marks the lowest ones close-on-exec itself at start).
  const fd = openSync(join(home, 'outside.txt'), 'r')
  t.teardown(() => closeSync(fd))
  const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'pipe', 'pipe']
  while (stdio.length < 40) stdio.push('ignore')
  stdio.push(fd)
  const child = spawn(process.execPath, [CLI, 'run', '--ca-from', join(home, 'ca-src'), '--admin', '127.0.0.1:1', '--', process.execPath, '-e', agent], {
    cwd: project,
    env: { ...process.env, HTTP_PROXY: '', HTTPS_PROXY: '', NODE_OPTIONS: '' },
    stdio,
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  t.equal(code, 0, stderr)
  const r = JSON.parse(stdout.trim().split('\n').at(-1)!) as { key: string; open: string[] }
  t.notOk(r.key.includes('PRIVATE KEY'), `the imported CA's key cannot be read (${r.key.slice(0, 20)})`)
  t.equal(await readFile(join(project, 'certs', 'ca-key.pem'), 'utf8'), caKey, 'it is the key sidekey uses')
  t.same(r.open, [], 'no descriptor of the agent\'s leads to the file the parent held open')
  t.match(stderr, /the agent does not get the file descriptors? (\d+, )*40 this process inherited open/)
})
