/**
 * The first process inside `sidekey run`'s sandbox (PID 1 of its PID namespace). The sandbox's
 * network namespace has only loopback, so the one way out is sidekey's proxy socket, bound in from
 * outside: this listens on 127.0.0.1:PORT (where the agent's proxy variables point) and pipes each
 * connection to that socket, then starts the agent, passes it the signals `sidekey run` receives,
 * and exits with its status. When this exits, the kernel ends every process left in the namespace.
 *
 * usage: node launcher.js PORT SOCKET -- COMMAND [ARGS...]
 */
import { spawn } from 'node:child_process'
import { connect, createServer } from 'node:net'
import { constants } from 'node:os'
import { AGENT_NODE_OPTIONS } from './launch-command.js'
import { splice } from './splice.js'

/** Signals passed on to the agent (PID 1 gets only signals it handles; the rest never arrive). */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR2']

function main(argv: string[]): void {
  const [port, socketPath, separator, ...command] = argv
  if (port === undefined || socketPath === undefined || separator !== '--' || command.length === 0) {
    console.error('sidekey sandbox launcher: usage: launcher.js PORT SOCKET -- COMMAND [ARGS...]')
    process.exit(2)
  }
  const forwarder = createServer({ allowHalfOpen: true }, (agentSide) => {
    const proxySide = connect({ path: socketPath, allowHalfOpen: true })
    splice(agentSide, proxySide)
  })
  forwarder.once('error', (err: NodeJS.ErrnoException) => {
    console.error(`sidekey run: the sandbox cannot listen on 127.0.0.1:${port} for the proxy (${err.code ?? err.message})`)
    process.exit(125)
  })
  forwarder.listen(Number(port), '127.0.0.1', () => startAgent(command))
}

function startAgent(command: string[]): void {
  const env = { ...process.env }
  if (env[AGENT_NODE_OPTIONS] === undefined) delete env.NODE_OPTIONS
  else env.NODE_OPTIONS = env[AGENT_NODE_OPTIONS]
  delete env[AGENT_NODE_OPTIONS]
  const agent = spawn(command[0]!, command.slice(1), { stdio: 'inherit', env })
  for (const signal of FORWARDED) process.on(signal, () => void agent.kill(signal))
  agent.once('error', (err) => {
    console.error(`sidekey run: cannot start ${command[0]}: ${err.message}`)
    process.exit(127)
  })
  // PID 1 cannot end itself with the agent's signal, so it reports it the way shells do: 128 + N.
  agent.once('exit', (status, signal) => process.exit(status ?? (signal ? 128 + (constants.signals[signal] ?? 15) : 1)))
}

main(process.argv.slice(2))
