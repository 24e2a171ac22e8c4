import { execFile, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
/** Run `command args` and wait for the port it prints first. */
export async function startServerProcess(t, command, args, options = {}) {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d.toString()));
    t.teardown(() => {
        child.kill();
    });
    const output = createInterface({ input: child.stdout });
    const lines = [];
    const port = await new Promise((resolve, reject) => {
        output.once('line', (line) => {
            resolve(Number(line.trim()));
            output.on('line', (more) => lines.push(more));
        });
        child.once('exit', (code) => reject(new Error(`${command} exited (${code}) before listening: ${stderr}`)));
    });
    if (!Number.isInteger(port) || port <= 0)
        throw new Error(`${command} printed no port: ${stderr}`);
    return { port, child, lines };
}
/** Write a Go program to a temporary directory, build it with the installed toolchain, start it. */
export async function startGoServer(t, source) {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-go-'));
    await writeFile(join(dir, 'main.go'), source);
    await promisify(execFile)('go', ['build', '-o', join(dir, 'server'), 'main.go'], { cwd: dir, env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '' }, timeout: 120_000 });
    return startServerProcess(t, join(dir, 'server'), []);
}
/** Write a Python 3 program (standard library only) to a temporary file and start it. */
export async function startPythonServer(t, source) {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-py-'));
    await writeFile(join(dir, 'server.py'), source);
    return startServerProcess(t, 'python3', ['-u', join(dir, 'server.py')]);
}
//# sourceMappingURL=servers.js.map