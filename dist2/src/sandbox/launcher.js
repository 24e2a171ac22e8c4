/**
 * The process bwrap starts inside `sidekey run`'s sandbox (under bwrap's init, PID 1). The
 * sandbox's network namespace has only loopback, so the one way out is sidekey's proxy socket,
 * bound in from outside: this listens on 127.0.0.1:PORT (where the agent's proxy variables point)
 * and pipes each connection to that socket, then starts the agent, passes it the signals
 * `sidekey run` receives, and when it exits, ends whatever it left running and exits with its status.
 *
 * usage: node launcher.js PORT SOCKET -- COMMAND [ARGS...]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { constants } from 'node:os';
import { AGENT_NODE_OPTIONS } from './launch-command.js';
import { splice } from './splice.js';
/** Signals passed on to the agent. */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGWINCH', 'SIGUSR2'];
function main(argv) {
    const [port, socketPath, separator, ...command] = argv;
    if (port === undefined || socketPath === undefined || separator !== '--' || command.length === 0) {
        console.error('sidekey sandbox launcher: usage: launcher.js PORT SOCKET -- COMMAND [ARGS...]');
        process.exit(2);
    }
    const forwarder = createServer({ allowHalfOpen: true }, (agentSide) => {
        const proxySide = connect({ path: socketPath, allowHalfOpen: true });
        splice(agentSide, proxySide);
    });
    forwarder.once('error', (err) => {
        console.error(`sidekey run: the sandbox cannot listen on 127.0.0.1:${port} for the proxy (${err.code ?? err.message})`);
        process.exit(125);
    });
    forwarder.listen(Number(port), '127.0.0.1', () => startAgent(command));
}
function startAgent(command) {
    const env = { ...process.env };
    if (env[AGENT_NODE_OPTIONS] === undefined)
        delete env.NODE_OPTIONS;
    else
        env.NODE_OPTIONS = env[AGENT_NODE_OPTIONS];
    delete env[AGENT_NODE_OPTIONS];
    const agent = spawn(command[0], command.slice(1), { stdio: 'inherit', env });
    for (const signal of FORWARDED)
        process.on(signal, () => void agent.kill(signal));
    agent.once('error', (err) => {
        console.error(`sidekey run: cannot start ${command[0]}: ${err.message}`);
        process.exit(127);
    });
    agent.once('exit', (status, signal) => {
        // What the agent left in the background would keep the sandbox (and `sidekey run`) alive:
        // kill(-1) reaches every process of the namespace but this one and init. Only in bwrap's PID
        // namespace: run by hand on the host, kill(-1) would reach every process of the user.
        if (insideSandbox()) {
            try {
                process.kill(-1, 'SIGKILL');
            }
            catch {
                // Nothing left.
            }
        }
        // Reported the way shells do: 128 + the signal's number.
        process.exit(status ?? (signal ? 128 + (constants.signals[signal] ?? 15) : 1));
    });
}
/** This process is the child of bwrap's init, PID 1 of a PID namespace of its own. */
function insideSandbox() {
    try {
        return process.ppid === 1 && readFileSync('/proc/1/cmdline', 'latin1').startsWith('bwrap\0');
    }
    catch {
        return false;
    }
}
main(process.argv.slice(2));
//# sourceMappingURL=launcher.js.map