import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, {} from 'tap';
import { ProxyAgent, request } from 'undici';
import { waitFor } from '../helpers/poll.js';
import { freePort } from '../helpers/redis.js';
import { startUpstream } from '../helpers/upstream.js';
// A feature a policy does not use costs nothing: `sidekey start` loads the AWS signer, CEL, Redis,
// JOSE, the WebSocket relay and the other CLI commands only when the policy, the state file or a
// request needs them. The started process records every module it loads (ES modules and require
// alike, test/fixtures/record-modules.mjs); the test reads that list.
const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const RECORD = join(process.cwd(), 'test/fixtures/record-modules.mjs');
/** Packages loaded only for a feature that needs them. */
const OPTIONAL = ['@smithy/signature-v4', '@marcbachmann/cel-js', 'ioredis', 'jose', 'http-proxy'];
/** sidekey's own modules for other commands or unused features. */
const OPTIONAL_OWN = ['cli/demo.js', 'cli/run.js', 'cli/inject-webhook.js', 'state/redis-store.js'];
/** Start sidekey with `policy`, send one request through it, stop it, and return what it loaded and the headers the upstream saw. */
async function modulesLoaded(t, policy) {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-lazy-'));
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'p.yaml'), policy.replaceAll('UPSTREAM_PORT', String(upstream.port)));
    const record = join(dir, 'modules.txt');
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', RECORD, CLI, 'start', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${await freePort()}`, '--policies', join(dir, 'policies'), '--certs', join(dir, 'certs'), '--workload', 'agent'], {
        env: { ...process.env, SIDEKEY_TEST_MODULES_FILE: record, LAZY_TEST_KEY: 'lazy-test-key-1' },
        stdio: ['ignore', 'pipe', 'inherit'],
    });
    t.teardown(() => void child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    await waitFor('sidekey started', () => out.includes('"event":"started"'), 30_000);
    const dispatcher = new ProxyAgent({ uri: `http://127.0.0.1:${port}` });
    const res = await request(`http://127.0.0.1:${upstream.port}/v1/items`, { dispatcher, headers: { 'x-kind': 'test' } });
    await res.body.text();
    t.equal(res.statusCode, 200, 'the request went through');
    const headers = { ...upstream.seen.at(-1)?.headers };
    await dispatcher.close();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    return { modules: (await readFile(record, 'utf8')).split('\n').filter((l) => l !== ''), headers };
}
/** One route injecting a static key: the smallest useful policy. */
const STATIC_ROUTE = `version: v1
credentials:
  key: { type: static, env: LAZY_TEST_KEY }
routes:
  - name: api
    host: 127.0.0.1
    ports: [UPSTREAM_PORT]
    credential: key
    inject: { header: authorization, value: "Bearer {secret}" }
`;
const loads = (modules, name) => modules.some((url) => url.includes(`/node_modules/${name}/`) || url.endsWith(`/dist/src/${name}`));
t.test('the recording sees the undici bundled in Node when an ES module imports node:http (what src/http/node-http.ts avoids)', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-lazy-'));
    const record = join(dir, 'modules.txt');
    const child = spawn(process.execPath, ['--import', RECORD, '--input-type=module', '-e', "import 'node:http'"], { env: { ...process.env, SIDEKEY_TEST_MODULES_FILE: record }, stdio: 'inherit' });
    await new Promise((resolve) => child.once('exit', resolve));
    t.ok((await readFile(record, 'utf8')).split('\n').includes('node-internal:internal/deps/undici/undici'));
});
t.test('a one-route static-key policy loads none of the optional features', async (t) => {
    const { modules, headers } = await modulesLoaded(t, STATIC_ROUTE);
    t.equal(headers.authorization, 'Bearer lazy-test-key-1', 'the credential was injected');
    t.ok(loads(modules, 'undici'), 'the recording sees packages loaded with require (undici)');
    t.ok(loads(modules, 'cli/start.js'), 'and sidekey\'s own modules');
    for (const name of [...OPTIONAL, ...OPTIONAL_OWN])
        t.notOk(loads(modules, name), `${name} is not loaded`);
    t.notOk(modules.some((url) => url.endsWith('/node_modules/undici/index.js')), 'undici\'s index (fetch, mocks, caches) is not loaded, only the parts src/http/undici.ts names');
    t.notOk(modules.includes('node-internal:internal/deps/undici/undici'), 'nor the undici bundled in Node (fetch, WebSocket: src/http/node-http.ts)');
});
t.test('a policy with a CEL condition loads CEL, and still nothing else', async (t) => {
    const { modules } = await modulesLoaded(t, `${STATIC_ROUTE}    conditions:
      cel: ['request.headers["x-kind"] == "test"']
`);
    t.ok(loads(modules, '@marcbachmann/cel-js'), 'CEL is loaded for the condition');
    for (const name of OPTIONAL.filter((n) => n !== '@marcbachmann/cel-js'))
        t.notOk(loads(modules, name), `${name} is not loaded`);
});
t.test('a route minting a JWT loads JOSE when it first signs', async (t) => {
    const { modules, headers } = await modulesLoaded(t, `version: v1
credentials:
  key: { type: jwt, audience: https://api.test }
routes:
  - name: api
    host: 127.0.0.1
    ports: [UPSTREAM_PORT]
    credential: key
    inject: { header: x-minted, value: "{secret}" }
`);
    t.match(headers['x-minted'], /^eyJ/, 'a JWT was minted and injected');
    t.ok(loads(modules, 'jose'), 'JOSE is loaded');
    t.notOk(loads(modules, '@smithy/signature-v4'), 'the AWS signer is not');
});
//# sourceMappingURL=lazy-modules.test.js.map