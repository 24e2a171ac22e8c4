import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, {} from 'tap';
import { DEFAULTS } from '../../src/config.js';
import { startSidekey } from '../../src/sidekey.js';
import { LogSink } from '../helpers/log-sink.js';
import { pollFor } from '../helpers/poll.js';
import { freePort, startRedis, writeStateFile } from '../helpers/redis.js';
// A start that fails half way (a port taken) closes what it had opened: the ports it had bound are
// free again, no Redis connection is left, and `sidekey start` exits with a message naming the port
// instead of hanging on what it left open.
const CLI = join(process.cwd(), 'dist/src/cli/main.js');
/** Hold a loopback port the way another program would. */
async function occupy(t) {
    const server = createServer();
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise((resolve) => server.close(() => resolve())));
    return server.address().port;
}
/** Bind `port` and let it go: resolves true when it was free. */
function canBind(port) {
    return new Promise((resolve) => {
        const server = createServer();
        server.once('error', () => resolve(false));
        server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
}
/** A work directory with a one-route policy. */
async function workDir() {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-unwind-'));
    const policies = join(dir, 'policies');
    await mkdir(policies);
    await writeFile(join(policies, 'p.yaml'), 'version: v1\nroutes:\n  - { name: api, host: api.test }\n');
    return { dir, policies, certs: join(dir, 'certs') };
}
function configFor(w, overrides) {
    return { ...DEFAULTS, listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, policyPath: w.policies, certsDir: w.certs, watchPolicy: true, ...overrides };
}
t.test('a taken port: the start is refused naming it, and the ports already bound are free again', async (t) => {
    const cases = [
        { taken: 'admin', purpose: 'the admin API', bound: ['proxy'] },
        { taken: 'transparent HTTPS', purpose: 'transparent HTTPS (port 443)', bound: ['proxy', 'admin', 'transparent HTTP'] },
    ];
    for (const c of cases) {
        t.test(`${c.taken} port taken`, async (t) => {
            const taken = await occupy(t);
            const ports = { proxy: await freePort(), admin: await freePort(), 'transparent HTTP': await freePort(), 'transparent HTTPS': await freePort(), [c.taken]: taken };
            const w = await workDir();
            const config = configFor(w, {
                listen: { host: '127.0.0.1', port: ports.proxy },
                admin: { host: '127.0.0.1', port: ports.admin },
                ...(c.taken === 'transparent HTTPS' ? { transparentHttp: [{ from: 80, listen: { host: '127.0.0.1', port: ports['transparent HTTP'] } }], transparentHttps: [{ from: 443, listen: { host: '127.0.0.1', port: taken } }] } : {}),
            });
            await t.rejects(startSidekey(config, { logger: new LogSink().logger() }), {
                code: 'SIDEKEY_ERR_CONFIG',
                message: `cannot listen on 127.0.0.1:${taken} for ${c.purpose}: address in use (EADDRINUSE)`,
            });
            for (const name of c.bound)
                t.ok(await canBind(ports[name]), `the ${name} port ${ports[name]} is free again`);
        });
    }
});
t.test('with shared state in Redis: no connection from sidekey is left after a refused start', async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const w = await workDir();
    const taken = await occupy(t);
    const proxyPort = await freePort();
    const sink = new LogSink();
    const config = configFor(w, { listen: { host: '127.0.0.1', port: proxyPort }, admin: { host: '127.0.0.1', port: taken }, statePath: await writeStateFile(w.dir, redis.url) });
    await t.rejects(startSidekey(config, { logger: sink.logger() }), { code: 'SIDEKEY_ERR_CONFIG', message: new RegExp(`127\\.0\\.0\\.1:${taken} for the admin API`) });
    t.ok(sink.lines.some((l) => l.event === 'state_connected'), 'sidekey had connected to Redis before the admin port was refused');
    // Every client but the redis-cli asking.
    const others = (list) => list.split('\n').filter((line) => line.startsWith('id=') && !/ cmd=client\|list /.test(line));
    const left = await pollFor(async () => others(await redis.cli('CLIENT', 'LIST')), (clients) => clients.length === 0, 5_000);
    t.same(left, [], 'no Redis connection left');
    t.ok(await canBind(proxyPort), 'the proxy port is free again');
});
t.test('sidekey start with the admin port taken exits non-zero, naming the port, instead of hanging', async (t) => {
    const w = await workDir();
    const taken = await occupy(t);
    const child = spawn(process.execPath, [CLI, 'start', '--listen', '127.0.0.1:0', '--admin', `127.0.0.1:${taken}`, '--policies', w.policies, '--certs', w.certs], { stdio: ['ignore', 'ignore', 'pipe'] });
    t.teardown(() => {
        if (child.exitCode === null && child.signalCode === null)
            child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d.toString()));
    // Its exit code once it has exited and its stderr is read to the end.
    let ended = null;
    child.once('close', (code, signal) => (ended = code ?? signal));
    // Starting a process takes seconds on a loaded machine; a start that hangs never ends.
    const code = await pollFor(() => ended, (c) => c !== null, 30_000);
    t.equal(code, 1, 'exits with 1');
    t.match(stderr, `sidekey: SIDEKEY_ERR_CONFIG: cannot listen on 127.0.0.1:${taken} for the admin API: address in use`);
    t.notMatch(stderr, /at .*\.js:\d+/, 'no stack trace');
});
//# sourceMappingURL=start-unwind.test.js.map