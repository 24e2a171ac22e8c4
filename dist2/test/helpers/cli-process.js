import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './poll.js';
import { freePort } from './redis.js';
const CLI = join(process.cwd(), 'dist/src/cli/main.js');
/**
 * Start `sidekey start` on free loopback ports with one route allowing 127.0.0.1:`upstreamPort`
 * (workload `agent`), plus `args`; resolves once it logs that it started.
 */
export async function startCliProcess(t, upstreamPort, options = {}) {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-cli-'));
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'p.yaml'), `version: v1\nroutes:\n  - { name: up, host: 127.0.0.1, ports: [${upstreamPort}] }\n`);
    const proxyPort = await freePort();
    const adminPort = await freePort();
    const child = spawn(process.execPath, [CLI, 'start', '--listen', `127.0.0.1:${proxyPort}`, '--admin', `127.0.0.1:${adminPort}`, '--policies', join(dir, 'policies'), '--certs', join(dir, 'certs'), '--workload', 'agent', ...(options.args ?? [])], {
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    child.stderr.resume();
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    t.teardown(() => void child.kill('SIGKILL'));
    const lines = () => out.split('\n').filter((l) => l !== '');
    await waitFor('sidekey started', () => lines().some((l) => l.includes('"event":"started"')), 30_000);
    return { child, lines, exited, proxyPort, adminPort };
}
//# sourceMappingURL=cli-process.js.map