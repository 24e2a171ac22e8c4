import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SECRETS } from '../helpers/sidekey.js';
import { requireTools } from '../helpers/tools.js';
import { startUpstream, upstreamTrust } from '../helpers/upstream.js';
requireTools('bwrap');
// `sidekey run` and Node agents of both generations. Node 24 and later honour the proxy variables
// themselves (NODE_USE_ENV_PROXY=1), which carries http.request and https.get through sidekey; on
// every version the preload makes fetch honour them and say why sidekey refused a tunnel (Node's own
// support drops the reason). Each agent calls a local stand-in for api.openai.com through sidekey,
// which injects the key.
const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const AGENT = join(process.cwd(), 'test/fixtures/agents/node-proxy-agent.mjs');
/** A Node older than 24: the machine's own (v20 on a fresh machine of this kind), or SIDEKEY_OLD_NODE. */
function olderNode() {
    const candidates = [process.env.SIDEKEY_OLD_NODE, '/usr/bin/node', '/usr/local/bin/node'].filter((p) => p !== undefined && existsSync(p));
    for (const path of candidates) {
        const version = execFileSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
        if (Number(version.split('.')[0]) < 24)
            return path;
    }
    throw new Error('this test needs a Node older than 24 as a second agent (a fresh machine has v20 at /usr/bin/node): apt-get install nodejs, or set SIDEKEY_OLD_NODE to its path');
}
t.test('Node agents through `sidekey run`: built-in proxy support on Node 24, the preload before', async (t) => {
    const old = olderNode();
    const trust = await upstreamTrust();
    const api = await startUpstream((req, res) => {
        res.writeHead(req.headers.authorization === `Bearer ${SECRETS.OPENAI}` ? 200 : 401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [] }));
    }, { trust, host: 'api.openai.com' });
    t.teardown(() => api.close());
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-node-agents-'));
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'openai.yaml'), `version: v1
credentials:
  openai-key: { type: static, env: OPENAI_API_KEY }
routes:
  - name: openai
    host: api.openai.com
    ports: [443]
    workloads: [node-agent]
    credential: openai-key
    addresses: [127.0.0.1]
`);
    const run = (node) => new Promise((resolve) => {
        const args = [CLI, 'run', '--workload', 'node-agent', '--policies', join(dir, 'policies'), '--certs', join(dir, 'certs'), '--admin', '127.0.0.1:1',
            '--upstream-ca', trust.caFile, '--connect-to', `api.openai.com:443:127.0.0.1:${api.port}`, '--', node, AGENT];
        const env = { ...process.env, OPENAI_API_KEY: SECRETS.OPENAI, HTTP_PROXY: '', HTTPS_PROXY: '', NODE_OPTIONS: '', NODE_USE_ENV_PROXY: '' };
        execFile(process.execPath, args, { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
            const last = stdout.trim().split('\n').at(-1) ?? '';
            resolve({ code: err === null ? 0 : Number(err.code ?? 1), out: last.startsWith('{') ? JSON.parse(last) : null, stderr });
        });
    });
    await t.test('Node 24: fetch through the preload, https.get through Node\'s own proxy support', async (t) => {
        const r = await run(process.execPath);
        t.equal(r.code, 0, 'the agent exited 0', { stderr: r.stderr });
        t.match(r.out?.node, /^2[4-9]\.|^[3-9]\d\./);
        t.equal(r.out?.fetch.status, 200, 'fetch reached the API with the key injected');
        t.equal(r.out?.httpsGet?.status, 200, 'so did https.get (Node\'s own proxy support; the preload does not cover it)');
        t.equal(r.out?.undiciPreloaded, true, 'fetch used the preload\'s dispatcher, which says why a tunnel was refused');
    });
    await t.test('an older Node: the preload makes fetch go through sidekey', async (t) => {
        const r = await run(old);
        t.equal(r.code, 0, 'the agent exited 0', { stderr: r.stderr });
        t.match(r.out?.node, /^(1\d|2[0-3])\./, `the agent ran on Node ${r.out?.node}`);
        t.equal(r.out?.fetch.status, 200, 'fetch reached the API with the key injected');
        t.equal(r.out?.undiciPreloaded, true, 'through the preload\'s EnvHttpProxyAgent');
    });
    t.equal(api.seen.filter((s) => s.headers.authorization === `Bearer ${SECRETS.OPENAI}`).length, 3, 'three calls arrived, each with the key');
});
//# sourceMappingURL=node-agents.test.js.map