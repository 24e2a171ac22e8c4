import { spawn, type ChildProcess } from 'node:child_process'
import { realpathSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { constants } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { request } from 'undici'
import { CA_FILES, PUBLIC_CA_FILES } from '../ca/files.js'
import { configFrom, type Config } from '../config.js'
import { SidekeyError } from '../errors.js'
import { workloadNameProblem } from '../identity/workload-name.js'
import { formatAuthority, parseAuthority, type Authority } from '../policy/host.js'
import { locateBwrap, probeSandbox, startSandbox } from '../sandbox/bwrap.js'
import { SandboxError } from '../sandbox/errors.js'
import { closeInheritedDescriptors } from '../sandbox/inherited-fds.js'
import { launchCommand } from '../sandbox/launch-command.js'
import { mountArgs, within } from '../sandbox/mounts.js'
import type { PrivatePaths } from '../sandbox/private-paths.js'
import { openProxySocket } from '../sandbox/proxy-socket.js'
import { splice } from '../sandbox/splice.js'
import { parse } from './args.js'
import { adminCall, adminUrl, readAdminToken } from './admin-client.js'
import { trustEnv } from './ca.js'
import { followRejectedCertificates, rejectedCertificateHint } from './run-hints.js'
import { startEmbedded } from './embed.js'
import { runWorkload } from './run-workload.js'
import { EMBED_FLAGS } from './start.js'

/** The value an agent sees in place of each secret variable sidekey holds. */
export const PLACEHOLDER = 'sidekey-placeholder'

/** Where the agent's proxy and trust settings point. */
export interface AgentSettings {
  proxyUrl: string
  /** The directory with the public trust files (CA_FILES): the certs directory, absolute. */
  trustDir: string
  secretEnvNames: readonly string[]
  /** What `--no-proxy` passed, or null: the agent then gets no NO_PROXY at all. */
  noProxy: string | null
}

/** The variables through which a client skips the proxy for the hosts they list. */
const NO_PROXY_NAMES = ['NO_PROXY', 'no_proxy'] as const

/**
 * The agent's environment: proxy variables carrying the run token, CA trust for every common
 * client (kube/sidecar.ts CA_TRUST_ENV; docs/clients.md), the Node preload that makes fetch use
 * the proxy, and placeholders in place of every secret variable a policy names, so the real value
 * never reaches the agent. NO_PROXY is only what `--no-proxy` says: one inherited from the user's
 * shell would send the agent's calls to the hosts it lists around sidekey.
 */
export function agentEnv(base: NodeJS.ProcessEnv, s: AgentSettings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base }
  for (const name of s.secretEnvNames) env[name] = PLACEHOLDER
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) env[name] = s.proxyUrl
  for (const name of NO_PROXY_NAMES) {
    if (s.noProxy === null) delete env[name]
    else env[name] = s.noProxy
  }
  const trust = trustEnv(s.trustDir)
  // Options the user gave the JVM stay; the trust store options follow them.
  if (base.JAVA_TOOL_OPTIONS) trust.JAVA_TOOL_OPTIONS = `${base.JAVA_TOOL_OPTIONS} ${trust.JAVA_TOOL_OPTIONS}`
  Object.assign(env, trust)
  // Node 24+ honours the proxy variables natively with this (http.request, https.get); the preload
  // makes fetch honour them on every version, and say why sidekey refused a tunnel.
  env.NODE_USE_ENV_PROXY = '1'
  const preload = pathToFileURL(join(fileURLToPath(new URL('.', import.meta.url)), 'preload.js')).href
  env.NODE_OPTIONS = `${base.NODE_OPTIONS ?? ''} --import=${preload}`.trim()
  return env
}

/**
 * The line `sidekey run` prints when it clears a NO_PROXY the agent would have inherited, or null
 * when there is none (or `--no-proxy` says what the agent gets).
 */
function clearedNoProxyNote(base: NodeJS.ProcessEnv, noProxy: string | null): string | null {
  if (noProxy !== null) return null
  const inherited = NO_PROXY_NAMES.filter((name) => (base[name] ?? '') !== '')
  if (inherited.length === 0) return null
  return `sidekey run: cleared ${inherited.map((name) => `${name}=${base[name]}`).join(' ')} for the agent: it would send calls to those hosts around sidekey; pass --no-proxy LIST to keep hosts off the proxy on purpose`
}

/** The one line `--no-sandbox` prints: what the agent can now reach. */
export const NO_SANDBOX_WARNING = "sidekey run: WARNING: --no-sandbox: the agent runs as your user with no boundary; it can read sidekey's secrets (the certs directory with the CA key and admin token, secret files, sidekey's environment through /proc), change its policy, and connect around the proxy"

/** sidekey's own files the sandbox shows the agent read-only: Node, the launcher, the preload. */
const SIDEKEY_ROOT = fileURLToPath(new URL('../../..', import.meta.url))

/**
 * What sidekey runs from, which the agent must not change when it lies in its working directory
 * (the Quickstart runs the agent from the checkout): the compiled code, package.json, every
 * `node_modules` Node looks up sidekey's modules in (its own, then each directory's above it,
 * which is where an installed sidekey's dependencies are hoisted to), and the Node binary.
 */
function sidekeyCode(): string[] {
  const paths = [join(SIDEKEY_ROOT, 'dist'), join(SIDEKEY_ROOT, 'package.json'), process.execPath]
  for (let dir = SIDEKEY_ROOT; ; dir = dirname(dir)) {
    paths.push(join(dir, 'node_modules'))
    if (dirname(dir) === dir) return paths
  }
}

/**
 * `sidekey run --workload NAME -- CMD ...`: mint a per-run token on the running sidekey (or start
 * one inside this process when none answers, unless `--no-embed`), run CMD through it in a sandbox
 * (Linux, bubblewrap; `--no-sandbox` runs it as before, with a warning), revoke the token when CMD
 * exits.
 */
export async function run(argv: string[]): Promise<number> {
  const split = argv.indexOf('--')
  if (split < 0 || split === argv.length - 1) {
    console.error(split < 0 ? 'sidekey run: put -- before the agent\'s command, so its flags are not taken for sidekey\'s' : 'sidekey run: no command after --')
    console.error('usage: sidekey run [--workload NAME] [--no-sandbox] [--no-embed] [--no-proxy LIST] [start flags] -- COMMAND [ARGS...]')
    return 2
  }
  const { flags } = parse(argv.slice(0, split), [...EMBED_FLAGS, 'no-proxy'], ['report-only', 'no-sandbox', 'no-embed'])
  const command = argv.slice(split + 1)
  const workload = runWorkload(flags.workload)
  // Refused before anything starts: no run token is minted for a name that cannot identify a caller.
  const problem = workloadNameProblem(workload)
  if (problem !== null) {
    console.error(`sidekey run: --workload ${problem}`)
    return 2
  }
  const config = configFrom({ ...flags, 'no-sandbox': undefined, 'no-embed': undefined, 'no-proxy': undefined, workload: undefined })
  const noProxy = (flags['no-proxy'] as string | undefined) ?? null
  const sandboxed = flags['no-sandbox'] !== true
  if (sandboxed) {
    // Before anything starts: a refusal leaves nothing running and no token minted.
    const missing = await probeSandbox()
    if (missing !== null) return refuse(missing)
  } else console.error(NO_SANDBOX_WARNING)

  const attached = await attach(config, workload)
  if (attached === null && flags['no-embed'] === true) {
    console.error(`sidekey run: no sidekey answers at ${adminUrl(config)}, and --no-embed forbids starting one here: start it first (sidekey start), or point --admin / SIDEKEY_ADMIN at the one running`)
    return 1
  }
  const session = attached ?? (await embed(config, workload))
  // Absolute: an agent that changes directory must still find the CA it trusts.
  const trustDir = resolve(config.certsDir)
  const stopHints = followRejectedCertificates(session.admin.url, session.admin.token, workload, (host) => console.error(rejectedCertificateHint(host, join(trustDir, CA_FILES.bundle))))
  const noProxyNote = clearedNoProxyNote(process.env, noProxy)
  if (noProxyNote !== null) console.error(noProxyNote)
  try {
    /** The agent's settings with the proxy at `address` (host:port). */
    const settingsAt = (address: string): AgentSettings => ({
      proxyUrl: `http://${encodeURIComponent(workload)}:${session.token}@${address}`,
      trustDir,
      secretEnvNames: session.secretEnvNames,
      noProxy,
    })
    return sandboxed ? await runSandboxed(command, settingsAt, session) : await runPlain(command, agentEnv(process.env, settingsAt(formatAuthority(session.proxy))))
  } catch (err) {
    if (!(err instanceof SandboxError)) throw err
    return refuse(err.message)
  } finally {
    stopHints()
    await session.end()
  }
}

/** Say why the agent cannot run in its sandbox, and how to run it without one; exit code 1. */
function refuse(reason: string): number {
  console.error(`sidekey run: cannot start the agent in its sandbox: ${reason}.`)
  console.error("sidekey run: to run it without one, pass --no-sandbox (the agent can then read sidekey's secrets and change its policy)")
  return 1
}

/** Without a sandbox: the agent as a child process of this one, as the user runs it. */
async function runPlain(command: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env })
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal)
  return waitForExit(child, forward, `cannot start ${command[0]}`)
}

/**
 * In the sandbox: sidekey's proxy on a Unix socket bound into it (the network namespace has no
 * other way out), the launcher listening on the proxy's own 127.0.0.1 port inside, so the agent's
 * proxy URL reads as it would outside, and every private path of the sidekey it talks to hidden.
 */
async function runSandboxed(command: string[], settingsAt: (address: string) => AgentSettings, session: Session): Promise<number> {
  const proxyPort = session.proxy.port
  const settings = settingsAt(`127.0.0.1:${proxyPort}`)
  const paths = await session.privatePaths()
  const socket = await openProxySocket(session.serve)
  try {
    const bwrap = locateBwrap(process.env, process.cwd())
    if ('missing' in bwrap) throw new SandboxError(bwrap.missing)
    const mounts = mountArgs({
      paths: { ...paths, show: [...paths.show, ...PUBLIC_CA_FILES.map((name) => join(settings.trustDir, name))] },
      cwd: process.cwd(),
      socketDir: socket.dir,
      needed: [process.execPath, SIDEKEY_ROOT],
      protect: sidekeyCode(),
      readOnlyRoots: [SIDEKEY_ROOT],
    })
    if (within(realpathSync(process.cwd()), realpathSync(SIDEKEY_ROOT))) {
      console.error(`sidekey run: the agent's working directory is in sidekey's own directory (${SIDEKEY_ROOT}), which the sandbox shares read-only: the agent could otherwise change what the next \`npm start\` builds and runs. Run the agent from a directory of its own to let it write there`)
    }
    const launch = launchCommand(proxyPort, command, agentEnv(process.env, settings))
    const closed = closeInheritedDescriptors()
    if (closed.length > 0) console.error(`sidekey run: the agent does not get the file descriptor${closed.length > 1 ? 's' : ''} ${closed.join(', ')} this process inherited open; its sandbox passes on standard input, output and error only`)
    const sandbox = startSandbox(bwrap.path, mounts, launch.argv, launch.env)
    // The agent is in a session of its own: what the terminal sends to `sidekey run`'s group
    // (Ctrl-C, Ctrl-backslash, hang-up, window size) reaches it only this way.
    return await waitForExit(sandbox.bwrap, (signal) => sandbox.signal(signal), 'cannot start bwrap', ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGWINCH'])
  } finally {
    await socket.close()
  }
}

/** Pass `signals` on while `child` runs; resolve with its exit code as shells report it. */
async function waitForExit(child: ChildProcess, forward: (signal: NodeJS.Signals) => void, startFailure: string, signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Promise<number> {
  for (const signal of signals) process.on(signal, forward)
  try {
    return await new Promise<number>((resolve) => {
      child.once('error', (err) => {
        console.error(`sidekey run: ${startFailure}: ${err.message}`)
        resolve(127)
      })
      // A child killed by a signal exits as shells report it: 128 + the signal's number.
      child.once('exit', (status, signal) => resolve(status ?? (signal ? 128 + (constants.signals[signal] ?? 15) : 1)))
    })
  } finally {
    for (const signal of signals) process.off(signal, forward)
  }
}

interface Session {
  /** Where the proxy listens. */
  proxy: Authority
  /** Its admin listener and token (the run follows its events for hints). */
  admin: { url: string; token: string }
  token: string
  secretEnvNames: readonly string[]
  /** What the sandbox must hide, as the sidekey in use knows it. */
  privatePaths(): Promise<PrivatePaths>
  /** Serve a connection from the sandbox's proxy socket. */
  serve(socket: Socket): void
  end(): Promise<void>
}

/** Register a run token with a sidekey already running at the configured admin address. */
async function attach(config: Config, workload: string): Promise<Session | null> {
  let ready: { proxy?: string }
  try {
    const res = await request(`${adminUrl(config)}/readyz`, { headersTimeout: 1000, bodyTimeout: 1000 })
    ready = (await res.body.json()) as { proxy?: string }
    if (res.statusCode !== 200 || typeof ready.proxy !== 'string') return null
  } catch {
    return null
  }
  const proxy = parseAuthority(ready.proxy)
  if (proxy === null) throw new SidekeyError('SIDEKEY_ERR_CONFIG', `the sidekey at ${adminUrl(config)} reports a proxy address that is not host:port: ${ready.proxy}`)
  const minted = await adminCall(config, 'POST', '/v1/run-tokens', { workload })
  if (minted.status !== 201) {
    throw new SidekeyError('SIDEKEY_ERR_ADMIN_UNAUTHORIZED', `sidekey refused the run token: ${(minted.body.error as { message?: string } | undefined)?.message ?? minted.status}`)
  }
  const { id, token } = minted.body as { id: string; token: string }
  const routes = await adminCall(config, 'GET', '/v1/routes')
  return {
    proxy,
    admin: { url: adminUrl(config), token: await readAdminToken(config) },
    token,
    secretEnvNames: (routes.body.secret_env as string[] | undefined) ?? [],
    async privatePaths() {
      const answer = await adminCall(config, 'GET', '/v1/sandbox')
      const { hide, show, protect } = answer.body as { hide?: unknown; show?: unknown; protect?: unknown }
      const paths = (v: unknown): v is string[] => Array.isArray(v) && v.every((p) => typeof p === 'string' && p.startsWith('/'))
      if (answer.status !== 200 || !paths(hide) || !paths(show) || !paths(protect)) throw new SandboxError(`the sidekey at ${adminUrl(config)} does not say which of its files to hide (GET /v1/sandbox: ${answer.status}); run a sidekey of this version`)
      return { hide, show, protect }
    },
    // A byte pipe to the running sidekey's proxy port: it identifies the caller by its run token.
    serve(socket) {
      splice(socket, connect({ host: proxy.host, port: proxy.port, allowHalfOpen: true }))
    },
    async end() {
      await adminCall(config, 'DELETE', `/v1/run-tokens/${id}`).catch(() => undefined)
    },
  }
}

/** No sidekey answers: run one in this process (see embed.ts), serving the sandbox's socket itself. */
async function embed(config: Config, workload: string): Promise<Session> {
  const embedded = await startEmbedded(config, workload, adminUrl(config))
  return {
    proxy: { host: '127.0.0.1', port: embedded.proxyPort },
    admin: { url: embedded.sidekey.adminUrl, token: embedded.sidekey.adminToken },
    token: embedded.token,
    secretEnvNames: embedded.secretEnvNames,
    privatePaths: async () => embedded.sidekey.privatePaths(),
    serve: (socket) => embedded.sidekey.acceptProxyConnection(socket),
    end: () => embedded.end(),
  }
}
