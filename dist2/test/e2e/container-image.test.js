import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { pollFor } from '../helpers/poll.js';
import { freePort } from '../helpers/redis.js';
// The Dockerfile, without a Docker engine (none runs here): what it copies exists, the runtime
// stage's production dependencies cover every import of the compiled code, the user matches the
// chart's, and the entry command, with the image's environment, starts sidekey and passes the
// image's HEALTHCHECK.
const root = new URL('../../..', import.meta.url).pathname;
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
async function dockerfile() {
    const text = (await readFile(join(root, 'Dockerfile'), 'utf8')).replace(/\\\n/g, ' ');
    return text
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'))
        .map((l) => {
        const [op, ...rest] = l.split(/\s+/);
        return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}
t.test('the Dockerfile', async (t) => {
    const steps = await dockerfile();
    const stages = steps.filter((s) => s.op === 'FROM');
    t.ok(stages.length >= 3, 'multi-stage: build, production dependencies, runtime');
    t.ok(stages.every((s) => /^node:24-/.test(s.args)), 'every stage on Node 24, as tested');
    t.test('every file it copies from the context exists, and .dockerignore keeps local state out', async (t) => {
        for (const s of steps.filter((x) => x.op === 'COPY' && !x.args.startsWith('--from'))) {
            const parts = s.args.split(/\s+/);
            for (const src of parts.slice(0, -1))
                t.ok(existsSync(join(root, src)), `${src} exists`);
        }
        const ignore = (await readFile(join(root, '.dockerignore'), 'utf8')).split('\n');
        for (const p of ['node_modules', 'dist', 'certs'])
            t.ok(ignore.includes(p), `${p} is not sent to the build`);
    });
    t.test('the runtime has production dependencies only, and they cover every import', async (t) => {
        const runtime = steps.slice(steps.lastIndexOf(stages.at(-1)));
        t.ok(steps.some((s) => s.op === 'RUN' && /npm ci --omit=dev/.test(s.args)), 'npm ci --omit=dev');
        t.ok(runtime.some((s) => s.op === 'COPY' && s.args === '--from=build /src/dist/src ./dist/src'), 'compiled sources only (no tests, no bench)');
        const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
        const imports = new Set();
        const walk = async (dir) => {
            for (const e of await readdir(dir, { withFileTypes: true })) {
                if (e.isDirectory())
                    await walk(join(dir, e.name));
                else if (e.name.endsWith('.js')) {
                    const text = await readFile(join(dir, e.name), 'utf8');
                    for (const m of text.matchAll(/(?:^|\n)import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/g))
                        imports.add(m[1]);
                    for (const m of text.matchAll(/import\(['"]([^'"]+)['"]\)/g))
                        imports.add(m[1]);
                }
            }
        };
        await walk(join(root, 'dist', 'src'));
        const external = [...imports].filter((i) => !i.startsWith('.') && !i.startsWith('node:') && !builtinModules.includes(i));
        const packages = new Set(external.map((i) => (i.startsWith('@') ? i.split('/').slice(0, 2).join('/') : i.split('/')[0])));
        t.ok(packages.size >= 5, `found the runtime imports (${[...packages].join(', ')})`);
        for (const p of packages)
            t.ok(p in pkg.dependencies, `${p} is a production dependency`);
    });
    t.test('non-root, with the chart\'s user id, and the entry command the chart relies on', async (t) => {
        t.ok(steps.some((s) => s.op === 'USER' && s.args === '10001:10001'), 'USER 10001');
        const values = parse(await readFile(join(root, 'helm', 'sidekey', 'values.yaml'), 'utf8'));
        t.equal(values.sidecar.uid, 10001, 'the chart runs sidekey as the image\'s user');
        t.same(steps.find((s) => s.op === 'ENTRYPOINT')?.args, '["node", "--max-semi-space-size=4", "/app/dist/src/cli/main.js"]', 'node with the heap flag the benchmarks measured (bench/peer-sidekey.sh)');
        t.same(steps.find((s) => s.op === 'CMD')?.args, '["start"]');
        t.match(steps.find((s) => s.op === 'HEALTHCHECK')?.args, /CMD \["node", "\/app\/dist\/src\/cli\/main.js", "health"\]/);
    });
    t.test('the entry command with the image\'s environment starts sidekey; the healthcheck passes, and fails once it stops', async (t) => {
        const env = {};
        for (const s of steps.filter((x) => x.op === 'ENV'))
            for (const m of s.args.matchAll(/([A-Z_]+)=(\S+)/g))
                env[m[1]] = m[2];
        t.same(Object.keys(env).sort(), ['NODE_ENV', 'SIDEKEY_CERTS', 'SIDEKEY_POLICIES']);
        // The image's paths, moved under a temporary directory (standing in for the pod's mounts).
        const dir = await mkdtemp(join(tmpdir(), 'sidekey-image-'));
        await mkdir(join(dir, 'etc/sidekey/policies'), { recursive: true });
        await writeFile(join(dir, 'etc/sidekey/policies/p.yaml'), 'version: v1\nroutes: []\n');
        const proxy = await freePort();
        const admin = await freePort();
        const childEnv = { ...process.env, NODE_ENV: env.NODE_ENV, SIDEKEY_CERTS: join(dir, env.SIDEKEY_CERTS), SIDEKEY_POLICIES: join(dir, env.SIDEKEY_POLICIES), SIDEKEY_LISTEN: `127.0.0.1:${proxy}`, SIDEKEY_ADMIN: `127.0.0.1:${admin}`, SIDEKEY_PUBLISH_CA: join(dir, 'etc/sidekey/ca') };
        // The entry command as the image has it: node, its flags, the CLI.
        const entry = JSON.parse(steps.find((s) => s.op === 'ENTRYPOINT').args);
        const child = spawn(process.execPath, [...entry.slice(1, -1), cli, 'start'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
        t.teardown(() => void child.kill('SIGKILL'));
        let logs = '';
        child.stdout.on('data', (d) => (logs += d.toString()));
        child.stderr.on('data', (d) => (logs += d.toString()));
        const health = () => new Promise((resolve) => spawn(process.execPath, [cli, 'health'], { env: { ...childEnv }, stdio: 'ignore' }).once('exit', resolve));
        const code = await pollFor(health, (exit) => exit === 0, 30_000, 100);
        t.equal(code, 0, 'HEALTHCHECK passes');
        t.match(logs, /"event":"started"/);
        t.ok(existsSync(join(dir, 'etc/sidekey/ca/ca.pem')) && existsSync(join(dir, 'etc/sidekey/ca/bundle.pem')), 'the CA is published for the agent');
        t.notOk(existsSync(join(dir, 'etc/sidekey/ca/ca-key.pem')), 'but never its key');
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
        t.equal(await health(), 1, 'and fails when sidekey is gone');
    });
});
//# sourceMappingURL=container-image.test.js.map