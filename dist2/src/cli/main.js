#!/usr/bin/env node
// First: see warm-up.ts.
import '../warm-up.js';
import { formatProblem, isSidekeyError, PolicyInvalidError } from '../errors.js';
import { SETTINGS } from '../config.js';
/** Each command's module, loaded when that command runs: `sidekey start` never loads the demo, the webhook or the CLI clients. */
const COMMANDS = {
    start: async () => (await import('./start.js')).start,
    run: async () => (await import('./run.js')).run,
    ca: async () => (await import('./ca.js')).ca,
    policy: async () => (await import('./policy.js')).policy,
    explain: async () => (await import('./explain.js')).explain,
    audit: async () => (await import('./audit.js')).audit,
    workloads: async () => (await import('./workloads.js')).workloads,
    approvals: async () => (await import('./approvals.js')).approvals,
    oauth: async () => (await import('./oauth.js')).oauth,
    health: async () => (await import('./health.js')).health,
    iptables: async () => (await import('./iptables.js')).iptables,
    'inject-webhook': async () => (await import('./inject-webhook.js')).injectWebhook,
    demo: async () => {
        const { demo } = await import('./demo.js');
        return () => demo();
    },
};
const USAGE = `sidekey: an egress proxy that keeps secrets away from AI agents

usage:
  sidekey start [flags]                      run the proxy (creates a CA on first start)
  sidekey run [--workload NAME] [--no-sandbox] [--no-embed] -- CMD...  run an agent in a sandbox through sidekey
  sidekey ca init [--force] | ca show        create the CA / print how clients trust it
  sidekey policy check [DIR]                 validate policy files offline
  sidekey explain METHOD URL [--workload W] [--brief]  what would happen to this request now, and why
  sidekey audit [--follow] [FILE|-] [--workload W] [--route R] [--decision D] [--status 4xx]  readable audit lines
  sidekey workloads list|quarantine N|release N  see and change workload state (quarantine)
  sidekey approvals list|approve ID [--for 10m]|deny ID|console  decide held requests
  sidekey oauth list|connect NAME|revoke NAME  delegated accounts: connect one (prints a link, waits), list, revoke
  sidekey health [--ready] [--wait S]        exit 0 when the running sidekey is healthy (ready); --wait: keep asking for S seconds
  sidekey iptables [--apply] ...             transparent mode's iptables rules (print or apply)
  sidekey inject-webhook [flags]             admission webhook that adds the sidecar to pods
  sidekey demo                               see it work on loopback, no accounts needed

Every command finds its files in SIDEKEY_HOME (policies/, certs/; default: the current directory)
and the running sidekey at SIDEKEY_ADMIN (default 127.0.0.1:3129).

start flags (each also an environment variable):
${SETTINGS.map((s) => `  ${s.flag.padEnd(20)} ${s.env.padEnd(28)} ${s.help}`).join('\n')}
`;
async function main(argv) {
    const [name, ...rest] = argv;
    if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
        console.log(USAGE);
        return name === undefined ? 2 : 0;
    }
    const load = COMMANDS[name];
    if (load === undefined) {
        console.error(`sidekey: unknown command "${name}"\n\n${USAGE}`);
        return 2;
    }
    // `sidekey start --help`: help for a command, never an "unknown option" (what follows `--` is the agent's).
    const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
    if (own.includes('--help') || own.includes('-h')) {
        console.log(USAGE);
        return 0;
    }
    const command = await load();
    return command(rest).catch((err) => {
        const code = err.code;
        if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
            const option = /'([^']+)'/.exec(err.message)?.[1] ?? 'an option';
            console.error(`sidekey ${name}: unknown option ${option} (see sidekey --help)`);
            return 2;
        }
        if (code?.startsWith('ERR_PARSE_ARGS') === true) {
            console.error(`sidekey ${name}: ${err.message} (see sidekey --help)`);
            return 2;
        }
        throw err;
    });
}
main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
}, (err) => {
    if (err instanceof PolicyInvalidError) {
        for (const p of err.problems)
            console.error(formatProblem(p));
        console.error('sidekey: policy refused');
    }
    else if (isSidekeyError(err)) {
        console.error(`sidekey: ${err.code}: ${err.message}`);
    }
    else {
        console.error(err);
    }
    process.exitCode = 1;
});
//# sourceMappingURL=main.js.map