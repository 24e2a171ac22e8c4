import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { within } from './mounts.js';
/**
 * bubblewrap's isolation flags for the agent. Its own user namespace (so no privilege is needed,
 * and none is kept: `--cap-drop ALL` even when sidekey runs as root, so the agent cannot unmount
 * what hides sidekey's files) with no further user namespaces inside; its own PID namespace
 * (sidekey's `/proc/PID/environ` does not exist for it), IPC and UTS namespaces; a network
 * namespace with only loopback; a new session (no TIOCSTI into the terminal); killed with its parent.
 */
export const ISOLATION_ARGS = [
    '--unshare-user',
    '--disable-userns',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-net',
    '--unshare-cgroup-try',
    '--cap-drop', 'ALL',
    '--new-session',
    '--die-with-parent',
];
/** The file descriptor bwrap reports the sandbox's first process on (`--info-fd`). */
const INFO_FD = 3;
/**
 * The bwrap program to run, found on PATH as a shell would, except in directories the agent can
 * write to: its working directory `agentDir` and what lies in it (an activated virtualenv's
 * `bin`, a project's `node_modules/.bin`), and relative entries (which name a directory under
 * it). A bwrap there would be the agent's to replace, and sidekey runs it outside any sandbox.
 */
export function locateBwrap(env, agentDir) {
    const writable = realOrSelf(agentDir);
    const passedOver = [];
    for (const dir of (env.PATH ?? '').split(':')) {
        const candidate = join(dir, 'bwrap');
        if (!isExecutableFile(candidate))
            continue;
        if (!isAbsolute(dir) || within(realOrSelf(candidate), writable) || within(realOrSelf(dir), writable)) {
            passedOver.push(candidate);
            continue;
        }
        return { path: candidate };
    }
    if (passedOver.length > 0) {
        return { missing: `the only bwrap on PATH (${passedOver.join(', ')}) lies in the agent's working directory ${writable}, where the agent could replace it, and sidekey runs bwrap outside the sandbox; install bubblewrap system-wide (Debian, Ubuntu: apt-get install bubblewrap) or take that directory off PATH` };
    }
    return { missing: 'bwrap (bubblewrap 0.8 or later) is not installed or not on PATH; install it (Debian, Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)' };
}
function isExecutableFile(path) {
    try {
        accessSync(path, constants.X_OK);
        return statSync(path).isFile();
    }
    catch {
        return false;
    }
}
function realOrSelf(path) {
    try {
        return realpathSync(path);
    }
    catch {
        return path;
    }
}
/**
 * Try to start an empty sandbox with the same isolation as the agent's (`bwrap ... true`): null when
 * it works, else what is missing, in words a person can act on. Tried, not guessed: user namespaces
 * can be off by sysctl, by a container's seccomp profile or by AppArmor, which no file shows.
 */
export async function probeSandbox(platform = process.platform, env = process.env, agentDir = process.cwd()) {
    if (platform !== 'linux')
        return `the sandbox is built on Linux namespaces (bubblewrap) and this system is ${platform}`;
    const bwrap = locateBwrap(env, agentDir);
    if ('missing' in bwrap)
        return bwrap.missing;
    const args = [...ISOLATION_ARGS, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--', 'true'];
    return new Promise((resolve) => {
        const child = spawn(bwrap.path, args, { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
        child.once('error', (err) => resolve(`${bwrap.path} cannot be started (${err.code ?? err.message})`));
        child.once('close', (code, signal) => {
            if (code === 0)
                return resolve(null);
            const said = stderr.trim().split('\n')[0] ?? '';
            resolve(`bwrap cannot create the sandbox here${said === '' ? ` (exit ${code ?? signal})` : `: ${said}`}; it needs unprivileged user namespaces (kernel.unprivileged_userns_clone, user.max_user_namespaces; containers often block them) and bubblewrap 0.8 or later`);
        });
    });
}
/**
 * Start `command` (the launcher and its arguments) in a sandbox with `mounts`, with the bwrap at
 * `bwrapPath` (locateBwrap). bwrap's own init is
 * the namespace's PID 1 and reaps what the agent orphans; the launcher is its child. Signals go to
 * the launcher by its host PID (bwrap reports its init's, whose child it is): bwrap itself would
 * just die, taking the agent with it before it could clean up.
 */
export function startSandbox(bwrapPath, mounts, command, env) {
    const args = [...ISOLATION_ARGS, '--info-fd', String(INFO_FD), ...mounts, '--', ...command];
    // A process group of its own: a terminal's Ctrl-C would kill bwrap (and with it, at once, the
    // agent); `sidekey run` gets it instead and passes it on. --die-with-parent still ties them.
    const bwrap = spawn(bwrapPath, args, { env, stdio: ['inherit', 'inherit', 'inherit', 'pipe'], detached: true });
    let initPid = null;
    const info = bwrap.stdio[INFO_FD];
    let text = '';
    info?.setEncoding('utf8');
    info?.on('data', (d) => {
        text += d;
        const m = /"child-pid"\s*:\s*(\d+)/.exec(text);
        if (m !== null)
            initPid = Number(m[1]);
    });
    info?.on('error', () => undefined);
    return {
        bwrap,
        signal(signal) {
            const launcher = initPid === null ? null : firstChild(initPid);
            try {
                if (launcher !== null)
                    process.kill(launcher, signal);
                else
                    bwrap.kill(signal);
            }
            catch {
                // Already gone.
            }
        },
    };
}
/** The first child of `pid` (Linux `/proc/PID/task/PID/children`), or null. */
function firstChild(pid) {
    try {
        const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0];
        return first === undefined || first === '' ? null : Number(first);
    }
    catch {
        return null;
    }
}
//# sourceMappingURL=bwrap.js.map