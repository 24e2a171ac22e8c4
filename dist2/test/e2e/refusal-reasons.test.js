import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { curl } from '../helpers/clients.js';
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js';
import { pythonWith, requireTools } from '../helpers/tools.js';
import { startUpstream, upstreamTrust } from '../helpers/upstream.js';
requireTools('curl', 'go', 'npm');
// Issue #19: a refusal says why, in every client. Most clients show a refused CONNECT by its
// status line alone, so the reason phrase carries the message and the code; undici (Node's fetch)
// keeps neither, so `sidekey run`'s preload turns the refusal into the error fetch reports. Each
// client here is the real program, asked to reach a destination no route allows.
const run = promisify(execFile);
const PRELOAD = join(process.cwd(), 'dist/src/cli/preload.js');
const GO_CLIENT = join(process.cwd(), 'test/fixtures/clients/get.go');
/** Run a client; resolve with everything it printed (a failing client is expected here). */
async function client(cmd, args, env) {
    try {
        const r = await run(cmd, args, { env, encoding: 'utf8', timeout: 60_000 });
        return r.stdout + r.stderr;
    }
    catch (err) {
        const e = err;
        return `${e.stdout ?? ''}${e.stderr ?? ''}${e.stdout === undefined ? e.message : ''}`;
    }
}
t.test('refusals say why in every client', async (t) => {
    const trust = await upstreamTrust();
    const api = await startUpstream(undefined, { trust, host: 'api.test' });
    t.teardown(() => api.close());
    const sk = await startTestSidekey(t, `version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
  unset: { type: static, env: SIDEKEY_TEST_NEVER_SET }
routes:
  - name: api
    host: api.test
    credential: key
    addresses: [127.0.0.1]
  - name: no-key
    host: nokey.test
    credential: unset
    addresses: [127.0.0.1]
  - name: local
    host: local.test
  - name: others
    host: others.test
    workloads: [someone-else]
`, {
        workload: 'agent',
        upstreamCaFile: trust.caFile,
        connectTo: {
            'api.test:443': { host: '127.0.0.1', port: api.port },
            'nokey.test:80': { host: '127.0.0.1', port: api.port },
            'local.test:443': { host: '127.0.0.1', port: api.port },
            'local.test:80': { host: '127.0.0.1', port: api.port },
        },
    });
    delete process.env.SIDEKEY_TEST_NEVER_SET;
    const proxy = sk.proxyUrl;
    // The clients' trust for sidekey's own CA, where a test needs the tunnel to get through.
    const bundle = sk.ca.bundlePath;
    const env = { ...process.env, HTTPS_PROXY: proxy, https_proxy: proxy, HTTP_PROXY: proxy, http_proxy: proxy, NO_PROXY: '', no_proxy: '', NODE_OPTIONS: '', SSL_CERT_FILE: bundle, REQUESTS_CA_BUNDLE: bundle, CURL_CA_BUNDLE: bundle };
    const python = pythonWith('requests', 'httpx');
    const goDir = await mkdtemp(join(tmpdir(), 'sidekey-go-client-'));
    const goClient = join(goDir, 'get');
    await run('go', ['build', '-o', goClient, GO_CLIENT], { env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '', GOCACHE: join(tmpdir(), 'sidekey-go-cache') }, timeout: 120_000 });
    const noRoute = /sidekey: no route allows example\.com:443 for workload "agent" \(default deny\); to allow it, add a route for host example\.com port 443 with workload "agent" to sidekey's policy \(SIDEKEY_ERR_NO_ROUTE\)/;
    const clients = [
        // curl prints the status line with -v ("CONNECT tunnel failed, response 403" without).
        ['curl -v', 'curl', ['-sS', '-v', '--max-time', '20', 'https://example.com/']],
        ['Python urllib', python, ['-c', "import urllib.request; urllib.request.urlopen('https://example.com/', timeout=20)"]],
        ['Python requests', python, ['-c', "import requests; requests.get('https://example.com/', timeout=20)"]],
        ['Python httpx', python, ['-c', "import httpx; httpx.get('https://example.com/', timeout=20)"]],
        ['Go net/http', goClient, ['https://example.com/']],
        // What `sidekey run` gives a Node agent: the preload's dispatcher; fetch reports the refusal as its cause.
        ['Node fetch', process.execPath, ['--import', PRELOAD, '-e', "fetch('https://example.com/').catch((e) => { console.error(String(e.cause?.message ?? e)); process.exit(1) })"]],
        [
            'undici ProxyAgent',
            process.execPath,
            ['--import', PRELOAD, '--input-type=module', '-e', "import { request } from 'undici'; await request('https://example.com/').catch((e) => { console.error(e.message); process.exit(1) })"],
        ],
    ];
    for (const [name, cmd, args] of clients) {
        t.test(`${name} shows why a CONNECT was refused`, async (t) => {
            const out = await client(cmd, args, env);
            t.match(out, noRoute, out);
        });
    }
    t.test('the body: `error` is one readable string, its parts beside it, the reason in the phrase and a header', async (t) => {
        const r = await curl(['-x', proxy, 'http://example.com/x']);
        t.equal(r.status, 403);
        const body = JSON.parse(r.body);
        t.equal(typeof body.error, 'string');
        t.equal(body.error, `sidekey: ${body.message} (SIDEKEY_ERR_NO_ROUTE)`);
        t.match(body, { code: 'SIDEKEY_ERR_NO_ROUTE', reason: 'no-route', request_id: /.+/, message: /^no route allows example\.com:80/ });
        t.match(r.headers, /^HTTP\/1\.1 403 sidekey: no route allows example\.com:80 .*\(SIDEKEY_ERR_NO_ROUTE\)\r\n/);
        t.match(r.headers, /\r\nx-sidekey-message: no route allows example\.com:80 /i);
    });
    t.test('npm prints the refusal as a sentence, not [object Object]', async (t) => {
        const cache = await mkdtemp(join(tmpdir(), 'sidekey-npm-cache-'));
        const out = await client('npm', ['view', 'left-pad', '--registry', 'http://registry.example/', '--fetch-retries', '0', '--cache', cache], { ...env, npm_config_update_notifier: 'false' });
        t.notMatch(out, /\[object Object\]/);
        t.match(out, /sidekey: no route allows registry\.example:80 .*\(SIDEKEY_ERR_NO_ROUTE\)/, out);
    });
    t.test('a workload a route does not list is told to be added to it', async (t) => {
        const out = await client(python, ['-c', "import requests; requests.get('https://others.test/', timeout=20)"], env);
        t.match(out, /403 sidekey: a route matches others\.test:443 but not workload "agent"; to allow it, add "agent" to that route's workloads \(SIDEKEY_ERR_WORKLOAD_NOT_ALLOWED\)/, out);
    });
    t.test('a blocked address is named, with the setting that would allow it', async (t) => {
        // An intercepted tunnel: the refusal is the answer to the request inside it, phrase and body.
        const tunnel = await client(python, ['-c', "import requests; r = requests.get('https://local.test/', timeout=20); print(r.status_code, r.reason)"], env);
        t.match(tunnel, /^403 sidekey: blocked address 127\.0\.0\.1: local\.test resolves to a loopback address, which sidekey refuses unless a route names it; name 127\.0\.0\.1 in the route's `addresses` if this is intended \(SIDEKEY_ERR_DESTINATION_BLOCKED\)/, tunnel);
        const r = await curl(['-x', proxy, 'http://local.test/']);
        t.equal(r.status, 403);
        t.match(JSON.parse(r.body), { code: 'SIDEKEY_ERR_DESTINATION_BLOCKED', message: /^blocked address 127\.0\.0\.1: .*name 127\.0\.0\.1 in the route's `addresses`/ });
    });
    t.test("a credential whose variable is unset says it is sidekey's environment that lacks it", async (t) => {
        const r = await curl(['-x', proxy, 'http://nokey.test/v1/x']);
        t.equal(r.status, 502);
        t.match(JSON.parse(r.body), {
            code: 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE',
            error: /^sidekey: credential "unset": environment variable SIDEKEY_TEST_NEVER_SET is not set in sidekey's environment; set it where sidekey starts/,
        });
        t.equal(api.seen.filter((s) => s.url === '/v1/x').length, 0, 'nothing went upstream');
    });
    t.test('a client that rejects sidekey\'s certificate is audited as such, whichever alert it sends', async (t) => {
        // Neither trusts sidekey's CA: OpenSSL clients send unknown_ca, Go sends bad_certificate.
        const untrusting = { ...env, SSL_CERT_FILE: '', CURL_CA_BUNDLE: '', REQUESTS_CA_BUNDLE: '' };
        for (const [cmd, args] of [
            ['curl', ['-sS', '--max-time', '20', 'https://api.test/v1/curl']],
            [goClient, ['https://api.test/v1/go']],
        ]) {
            const earlier = new Set(sk.sink.audits.map((a) => a.id));
            const out = await client(cmd, [...args], untrusting);
            t.match(out, /certificate|x509/, `${cmd} failed on the certificate`);
            const line = await sk.sink.waitForAudit((a) => a.event === 'tunnel' && a.host === 'api.test' && !earlier.has(a.id));
            t.match(line, { reason: 'client-rejected-certificate', error: 'SIDEKEY_ERR_TLS_HANDSHAKE' }, cmd);
        }
    });
    t.test('a client that ends the tunnel after the handshake without a request is audited as rejecting the certificate', async (t) => {
        // What a client that pins certificates or checks the name itself does: handshake, then leave.
        const script = `
import socket, ssl
s = socket.create_connection(('127.0.0.1', ${sk.proxyPort}))
s.sendall(b'CONNECT api.test:443 HTTP/1.1\\r\\nHost: api.test:443\\r\\n\\r\\n')
assert s.recv(4096).startswith(b'HTTP/1.1 200')
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname='api.test')
t.unwrap()
t.close()
print('left')
`;
        const earlier = new Set(sk.sink.audits.map((a) => a.id));
        t.match(await client(python, ['-c', script], env), /left/);
        const line = await sk.sink.waitForAudit((a) => a.event === 'tunnel' && a.host === 'api.test' && !earlier.has(a.id));
        t.match(line, { reason: 'client-rejected-certificate', error: 'SIDEKEY_ERR_TLS_HANDSHAKE' });
    });
    t.test('a tunnel that carried a request and ended is not', async (t) => {
        const earlier = new Set(sk.sink.audits.map((a) => a.id));
        t.match(await client('curl', ['-sS', '--max-time', '20', 'https://api.test/v1/trusted'], env), /"ok":true/);
        const line = await sk.sink.waitForAudit((a) => a.event === 'tunnel' && a.host === 'api.test' && !earlier.has(a.id));
        t.equal(line.error, null);
        t.not(line.reason, 'client-rejected-certificate');
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=refusal-reasons.test.js.map