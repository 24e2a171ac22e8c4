#!/usr/bin/env node
// First: see warm-up.ts.
import '../warm-up.js'
import { formatProblem, isSidekeyError, PolicyInvalidError } from '../errors.js'
import { SETTINGS } from '../config.js'
import { approvals } from './approvals.js'
import { ca } from './ca.js'
import { demo } from './demo.js'
import { explain } from './explain.js'
import { health } from './health.js'
import { iptables } from './iptables.js'
import { policy } from './policy.js'
import { run } from './run.js'
import { start } from './start.js'
import { workloads } from './workloads.js'
import { injectWebhook } from './inject-webhook.js'

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = { start, run, ca, policy, explain, workloads, approvals, health, iptables, 'inject-webhook': injectWebhook, demo: () => demo() }

const USAGE = `sidekey: an egress proxy that keeps secrets away from AI agents

usage:
  sidekey start [flags]                      run the proxy (creates a CA on first start)
  sidekey run [--workload NAME] [--no-sandbox] -- CMD...  run an agent in a sandbox through sidekey
  sidekey ca init [--force] | ca show        create the CA / print how clients trust it
  sidekey policy check [DIR]                 validate policy files offline
  sidekey explain METHOD URL [--workload W]  what would happen to this request, and why
  sidekey workloads list|quarantine N|release N  see and change workload state (quarantine)
  sidekey approvals list|approve ID [--for 10m]|deny ID|console  decide held requests
  sidekey health [--ready] [--wait S]        exit 0 when the running sidekey is healthy (ready); --wait: keep asking for S seconds
  sidekey iptables [--apply] ...             transparent mode's iptables rules (print or apply)
  sidekey inject-webhook [flags]             admission webhook that adds the sidecar to pods
  sidekey demo                               see it work on loopback, no accounts needed

start flags (each also an environment variable):
${SETTINGS.map((s) => `  ${s.flag.padEnd(20)} ${s.env.padEnd(28)} ${s.help}`).join('\n')}
`

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    console.log(USAGE)
    return name === undefined ? 2 : 0
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    console.error(`sidekey: unknown command "${name}"\n\n${USAGE}`)
    return 2
  }
  // `sidekey start --help`: help for a command, never an "unknown option" (what follows `--` is the agent's).
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest
  if (own.includes('--help') || own.includes('-h')) {
    console.log(USAGE)
    return 0
  }
  return command(rest).catch((err: unknown) => {
    const code = (err as { code?: string }).code
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const option = /'([^']+)'/.exec((err as Error).message)?.[1] ?? 'an option'
      console.error(`sidekey ${name}: unknown option ${option} (see sidekey --help)`)
      return 2
    }
    if (code?.startsWith('ERR_PARSE_ARGS') === true) {
      console.error(`sidekey ${name}: ${(err as Error).message} (see sidekey --help)`)
      return 2
    }
    throw err
  })
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    if (err instanceof PolicyInvalidError) {
      for (const p of err.problems) console.error(formatProblem(p))
      console.error('sidekey: policy refused')
    } else if (isSidekeyError(err)) {
      console.error(`sidekey: ${err.code}: ${err.message}`)
    } else {
      console.error(err)
    }
    process.exitCode = 1
  },
)
