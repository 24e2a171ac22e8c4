import { chmod, copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { parseClientHello } from '../../src/accept/client-hello.js';
import { curl } from '../helpers/clients.js';
import { podNamespace, sidekeyFiles, startSidekeyIn } from '../helpers/netns.js';
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js';
import { requireTools } from '../helpers/tools.js';
import { startUpstream, upstreamTrust } from '../helpers/upstream.js';
requireTools('ip', 'iptables', 'curl');
// Transparent mode: connections redirected to sidekey without the client knowing of a proxy. First
// on loopback (curl --connect-to stands in for the redirect), then for real: a network namespace
// with a veth pair and iptables REDIRECT of the agent user's outbound 80 and 443, sidekey running
// in the namespace as another user (excluded from the redirect), and plain curl as the agent.
/** The first bytes a real TLS client (Node's) sends, for `servername`. */
async function realClientHello(servername, host = '127.0.0.1') {
    return new Promise((resolve) => {
        const server = createNetServer((s) => {
            s.once('data', (d) => {
                resolve(d);
                s.destroy();
                server.close();
            });
        }).listen(0, '127.0.0.1', () => {
            const port = server.address().port;
            const c = tlsConnect({ host, port, ...(servername !== undefined ? { servername } : {}), rejectUnauthorized: false });
            c.on('error', () => undefined);
        });
    });
}
t.test('ClientHello parsing', async (t) => {
    const hello = await realClientHello('api.openai.test');
    t.same(parseClientHello(hello), { state: 'done', serverName: 'api.openai.test' }, 'a real ClientHello from Node');
    t.same(parseClientHello(hello.subarray(0, 40)), { state: 'incomplete' }, 'cut short: wait for more');
    t.same(parseClientHello(await realClientHello(undefined)), { state: 'done', serverName: null }, 'to an IP address: no SNI');
    t.same(parseClientHello(Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')), { state: 'not-tls' });
    t.same(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])), { state: 'not-tls' }, 'an empty record');
    // The same hello split over two TLS records (record boundaries inside the handshake message).
    const body = hello.subarray(5, 5 + hello.readUInt16BE(3));
    const record = (b) => Buffer.concat([Buffer.from([0x16, 0x03, 0x01, b.length >> 8, b.length & 0xff]), b]);
    const split = Buffer.concat([record(body.subarray(0, 60)), record(body.subarray(60))]);
    t.same(parseClientHello(split), { state: 'done', serverName: 'api.openai.test' }, 'fragmented over two records');
    t.same(parseClientHello(split.subarray(0, 70)), { state: 'incomplete' });
    // A hello claiming a 16 MiB handshake is refused, not buffered.
    const huge = Buffer.from(hello);
    huge.writeUIntBE(0xffffff, 6, 3);
    t.same(parseClientHello(huge), { state: 'not-tls' });
    // A length field pointing past the end: malformed, not a crash.
    const lying = Buffer.from(hello);
    lying.writeUInt16BE(0xffff, 5 + 4 + 2 + 32 + 1 + lying[5 + 4 + 2 + 32]);
    t.ok(['not-tls', 'done'].includes(parseClientHello(lying).state), 'a lying length field is survived');
    for (let i = 0; i < 300; i++) {
        const fuzz = Buffer.from(hello);
        fuzz[5 + Math.floor(Math.random() * (fuzz.length - 5))] = Math.floor(Math.random() * 256);
        parseClientHello(fuzz);
    }
    t.pass('300 randomly corrupted hellos parsed without throwing');
});
t.test('transparent listeners on loopback', async (t) => {
    const trust = await upstreamTrust();
    const api = await startUpstream(undefined, { trust, host: 'api.openai.test' });
    t.teardown(() => api.close());
    const plain = await startUpstream();
    t.teardown(() => plain.close());
    const blind = await startUpstream((_req, res) => res.end('blind'), { trust, host: 'tunnel.test' });
    t.teardown(() => blind.close());
    const certsDir = await mkdtemp(join(tmpdir(), 'sidekey-transparent-'));
    await writeFile(join(certsDir, 'up.pem'), trust.caPem);
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  openai: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: openai, host: api.openai.test, credential: openai, addresses: [127.0.0.1] }
  - { name: plain, host: plain.test, credential: openai, addresses: [127.0.0.1] }
  - { name: tunnel, host: tunnel.test, action: tunnel, addresses: [127.0.0.1] }
`, {
        transparent: true,
        workload: 'agent',
        upstreamCaFile: join(certsDir, 'up.pem'),
        connectTo: { 'api.openai.test:443': { host: '127.0.0.1', port: api.port }, 'plain.test:80': { host: '127.0.0.1', port: plain.port }, 'tunnel.test:443': { host: '127.0.0.1', port: blind.port } },
    });
    const tls = sk.transparentHttpsPort;
    const http = sk.transparentHttpPort;
    const caFile = sk.ca.certPath;
    t.test('HTTPS with no proxy configured: the SNI decides, the credential is injected', async (t) => {
        const r = await curl(['--connect-to', `api.openai.test:443:127.0.0.1:${tls}`, '--cacert', caFile, 'https://api.openai.test/v1/models']);
        t.equal(r.status, 200, r.stderr);
        t.equal(api.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
        const audit = await sk.sink.waitForAudit((a) => a.event === 'request' && a.host === 'api.openai.test');
        t.match(audit, { workload: 'agent', route: 'openai', scheme: 'https', status: 200 });
    });
    t.test('HTTP: the Host header decides', async (t) => {
        const r = await curl(['--connect-to', `plain.test:80:127.0.0.1:${http}`, 'http://plain.test/v1/x']);
        t.equal(r.status, 200, r.stderr);
        t.equal(plain.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
    });
    t.test('a denied name is refused with a readable 403 inside TLS', async (t) => {
        const r = await curl(['--connect-to', `evil.test:443:127.0.0.1:${tls}`, '--cacert', caFile, 'https://evil.test/steal']);
        t.equal(r.status, 403);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_NO_ROUTE/i);
        const h = await curl(['--connect-to', `evil.test:80:127.0.0.1:${http}`, 'http://evil.test/steal']);
        t.equal(h.status, 403);
    });
    t.test('a tunnel route relays TLS blind (the upstream certificate reaches the client)', async (t) => {
        const r = await curl(['--connect-to', `tunnel.test:443:127.0.0.1:${tls}`, '--cacert', trust.caFile, 'https://tunnel.test/']);
        t.equal(r.status, 200, r.stderr);
        t.equal(r.body, 'blind');
    });
    t.test('no SNI (a bare IP): the connection is closed and the audit line says why', async (t) => {
        const r = await curl(['--cacert', caFile, `https://127.0.0.1:${tls}/`]);
        t.not(r.code, 0);
        const audit = await sk.sink.waitForAudit((a) => a.method === 'TLS' && a.error === 'SIDEKEY_ERR_BAD_REQUEST');
        t.equal(audit.host, null);
    });
    t.test('a lying Host header cannot switch destination inside a connection', async (t) => {
        const r = await curl(['--connect-to', `plain.test:80:127.0.0.1:${http}`, '-H', 'Host: plain.test:8080', 'http://plain.test/x']);
        t.equal(r.status, 421);
        const none = await new Promise((resolve) => {
            const s = netConnect(http, '127.0.0.1', () => s.write('GET / HTTP/1.0\r\n\r\n'));
            let out = '';
            s.on('data', (d) => (out += d.toString()));
            s.on('close', () => resolve(out));
        });
        t.match(none, /^HTTP\/1\.[01] 400/, 'no Host at all: 400');
        t.match(none, /x-sidekey-error: SIDEKEY_ERR_BAD_REQUEST/i);
    });
    t.test('garbage on the TLS port is closed, not crashed on', async (t) => {
        const out = await new Promise((resolve) => {
            const s = netConnect(tls, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: api.openai.test\r\n\r\n'));
            let data = '';
            s.on('data', (d) => (data += d.toString()));
            s.on('close', () => resolve(data));
            s.on('error', () => resolve(data));
        });
        t.equal(out, '');
        t.equal((await curl(['--connect-to', `api.openai.test:443:127.0.0.1:${tls}`, '--cacert', caFile, 'https://api.openai.test/v1/models'])).status, 200, 'and sidekey still serves');
    });
    noSecretsLogged(t, sk);
});
t.test('for real: network namespace, veth pair, iptables REDIRECT, agent as another user', async (t) => {
    const hostIp = '10.213.0.1';
    const nsIp = '10.213.0.2';
    const pod = await podNamespace(t, `sk${process.pid}`, { host: [`${hostIp}/30`], pod: [`${nsIp}/30`] });
    const inNs = pod.exec;
    // The upstream lives outside the namespace, on the host end of the veth pair.
    const trust = await upstreamTrust();
    const { createServer } = await import('node:https');
    const outside = createServer(await trust.cert('api.openai.test'), (req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        // Not echoed back: sidekey would mask an echoed secret in the response (secret-echo scrubbing).
        res.end(JSON.stringify({ injected: req.headers.authorization === `Bearer ${SECRETS.OPENAI}` }));
    });
    await new Promise((r) => outside.listen(0, hostIp, r));
    t.teardown(() => new Promise((r) => outside.close(() => r())));
    const upstreamPort = outside.address().port;
    // sidekey in the namespace (as root, uid 0), listening for redirected connections.
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-netns-'));
    await sidekeyFiles(dir, `{ name: openai, host: api.openai.test, credential: openai, addresses: [${hostIp}] }`, trust.caPem);
    const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
    const sidekey = await startSidekeyIn(t, pod, [], ['--listen', '127.0.0.1:3128', '--admin', '127.0.0.1:3129', '--transparent-http', '127.0.0.1:15080', '--transparent-https', '127.0.0.1:15443', '--workload', 'agent', '--policies', join(dir, 'policies'), '--certs', join(dir, 'certs'), '--upstream-ca', join(dir, 'up.pem'), '--connect-to', `api.openai.test:443:${hostIp}:${upstreamPort}`]);
    t.match(sidekey.logs(), /"event":"started"/, 'sidekey started in the namespace');
    // The rules the chart's init container applies (`sidekey iptables --apply`): the agent's outbound
    // 80 and 443 go to sidekey, anything else of the agent's is rejected; sidekey's own user and
    // group (root here) are excluded, so its upstream connections are not looped back to itself.
    // transparent-escape.test.ts runs the chart's exact commands, with IPv6, DNS and more ports.
    const applied = await inNs([process.execPath, cli, 'iptables', '--apply', '--uid', '0', '--redirect', '443:15443,80:15080', '--block-other-egress']);
    t.match(applied.stdout, /outbound TCP 443 -> 15443, 80 -> 15080 for every user but 0:0; IPv6 to those ports refused; other egress refused/);
    // The agent: plain curl as nobody, no proxy settings, trusting sidekey's CA (as the chart's
    // CA-trust variables make every client do).
    await copyFile(join(dir, 'certs', 'ca.pem'), join(dir, 'agent-ca.pem'));
    await chmod(dir, 0o755);
    await chmod(join(dir, 'agent-ca.pem'), 0o644);
    await writeFile(join(dir, 'agent-up.pem'), trust.caPem, { mode: 0o644 });
    const agentCurl = async (args) => {
        try {
            const { stdout } = await inNs(['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', 'curl', '-sS', '--max-time', '10', '--noproxy', '*', '-o', '-', '-w', '\n%{http_code}', ...args]);
            const lines = stdout.trimEnd().split('\n');
            return { status: Number(lines.pop()), body: lines.join('\n') };
        }
        catch (err) {
            return { status: 0, body: err.message };
        }
    };
    const ok = await agentCurl(['--resolve', `api.openai.test:443:${hostIp}`, '--cacert', join(dir, 'agent-ca.pem'), 'https://api.openai.test/v1/models']);
    t.equal(ok.status, 200, ok.body);
    t.same(JSON.parse(ok.body), { injected: true }, 'the credential was injected; the agent never had it');
    const denied = await agentCurl(['--resolve', `evil.test:443:${hostIp}`, '--cacert', join(dir, 'agent-ca.pem'), 'https://evil.test/']);
    t.equal(denied.status, 403, 'a denied host is refused');
    const direct = await agentCurl(['--resolve', `api.openai.test:${upstreamPort}:${hostIp}`, '--cacert', join(dir, 'agent-up.pem'), `https://api.openai.test:${upstreamPort}/`]);
    t.equal(direct.status, 0, 'going around sidekey on another port is rejected (--block-other-egress)');
    t.match(direct.body, /Connection refused|Failed to connect/);
    const plainHttp = await agentCurl(['--resolve', `api.openai.test:80:${hostIp}`, 'http://api.openai.test/v1/models']);
    t.equal(plainHttp.status, 502, 'port 80 is redirected too: sidekey answers (no upstream on 80 here), the agent never reaches the host itself');
    t.notMatch(sidekey.logs(), new RegExp(SECRETS.OPENAI), 'no secret in sidekey\'s log');
});
//# sourceMappingURL=transparent.test.js.map