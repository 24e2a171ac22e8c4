import { spawn } from 'node:child_process'
import { constants } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { pino } from 'pino'
import { request } from 'undici'
import { CA_FILES } from '../ca/authority.js'
import { configFrom, type Config } from '../config.js'
import { SidekeyError } from '../errors.js'
import { workloadNameProblem } from '../identity/workload-name.js'
import { createLogger } from '../observe/logger.js'
import { startSidekey, type RunningSidekey } from '../sidekey.js'
import { parse } from './args.js'
import { adminCall, adminUrl } from './admin-client.js'
import { trustEnv } from './ca.js'
import { START_FLAGS } from './start.js'

/** The value an agent sees in place of each secret variable sidekey holds. */
export const PLACEHOLDER = 'sidekey-placeholder'

/** Where the agent's proxy and trust settings point. */
export interface AgentSettings {
  proxyUrl: string
  certPath: string
  bundlePath: string
  secretEnvNames: readonly string[]
}

/**
 * The agent's environment: proxy variables carrying the run token, CA trust for curl, Node,
 * Python and git, the Node preload that makes fetch use the proxy, and placeholders in place of
 * every secret variable a policy names, so the real value never reaches the agent.
 */
export function agentEnv(base: NodeJS.ProcessEnv, s: AgentSettings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base }
  for (const name of s.secretEnvNames) env[name] = PLACEHOLDER
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) env[name] = s.proxyUrl
  Object.assign(env, trustEnv(s.certPath, s.bundlePath))
  // Node 24+ honours the proxy variables natively with this; on Node 20 and 22 the preload does it.
  env.NODE_USE_ENV_PROXY = '1'
  const preload = pathToFileURL(join(fileURLToPath(new URL('.', import.meta.url)), 'preload.js')).href
  env.NODE_OPTIONS = `${base.NODE_OPTIONS ?? ''} --import=${preload}`.trim()
  return env
}

/**
 * `sidekey run --workload NAME -- CMD ...`: mint a per-run token on the running sidekey (or start
 * one inside this process when none answers), run CMD through it, revoke the token when CMD exits.
 */
export async function run(argv: string[]): Promise<number> {
  const split = argv.indexOf('--')
  if (split < 0 || split === argv.length - 1) {
    console.error(split < 0 ? 'sidekey run: put -- before the agent\'s command, so its flags are not taken for sidekey\'s' : 'sidekey run: no command after --')
    console.error('usage: sidekey run [--workload NAME] [start flags] -- COMMAND [ARGS...]')
    return 2
  }
  const { flags } = parse(argv.slice(0, split), START_FLAGS, ['report-only'])
  const command = argv.slice(split + 1)
  const workload = (flags.workload as string | undefined) ?? process.env.SIDEKEY_WORKLOAD ?? 'agent'
  // Refused before anything starts: no run token is minted for a name that cannot identify a caller.
  const problem = workloadNameProblem(workload)
  if (problem !== null) {
    console.error(`sidekey run: --workload ${problem}`)
    return 2
  }
  const config = configFrom({ ...flags, workload: undefined })

  const session = (await attach(config, workload)) ?? (await embed(config, workload))
  const env = agentEnv(process.env, {
    proxyUrl: `http://${encodeURIComponent(workload)}:${session.token}@${session.proxy}`,
    // Absolute: an agent that changes directory must still find the CA it trusts.
    certPath: resolve(config.certsDir, CA_FILES.cert),
    bundlePath: resolve(config.certsDir, CA_FILES.bundle),
    secretEnvNames: session.secretEnvNames,
  })
  const child = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env })
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal)
  process.on('SIGINT', forward)
  process.on('SIGTERM', forward)
  const code = await new Promise<number>((resolve) => {
    child.once('error', (err) => {
      console.error(`sidekey run: cannot start ${command[0]}: ${err.message}`)
      resolve(127)
    })
    // A child killed by a signal exits as shells report it: 128 + the signal's number.
    child.once('exit', (status, signal) => resolve(status ?? (signal ? 128 + (constants.signals[signal] ?? 15) : 1)))
  })
  process.off('SIGINT', forward)
  process.off('SIGTERM', forward)
  await session.end()
  return code
}

interface Session {
  proxy: string
  token: string
  secretEnvNames: readonly string[]
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
  const minted = await adminCall(config, 'POST', '/v1/run-tokens', { workload })
  if (minted.status !== 201) {
    throw new SidekeyError('SIDEKEY_ERR_ADMIN_UNAUTHORIZED', `sidekey refused the run token: ${(minted.body.error as { message?: string } | undefined)?.message ?? minted.status}`)
  }
  const { id, token } = minted.body as { id: string; token: string }
  const routes = await adminCall(config, 'GET', '/v1/routes')
  return {
    proxy: ready.proxy!,
    token,
    secretEnvNames: (routes.body.secret_env as string[] | undefined) ?? [],
    async end() {
      await adminCall(config, 'DELETE', `/v1/run-tokens/${id}`).catch(() => undefined)
    },
  }
}

/** No sidekey answers: run one in this process on free loopback ports, logging to stderr. */
async function embed(config: Config, workload: string): Promise<Session> {
  const sidekey: RunningSidekey = await startSidekey(
    { ...config, listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } },
    { logger: createLogger({ destination: pino.destination(2) }) },
  )
  const { token, info } = sidekey.runTokens.mint(workload)
  return {
    proxy: sidekey.proxyUrl.replace('http://', ''),
    token,
    secretEnvNames: sidekey.policy.current.secretEnvNames,
    async end() {
      sidekey.runTokens.revoke(info.id)
      await sidekey.close()
    },
  }
}
