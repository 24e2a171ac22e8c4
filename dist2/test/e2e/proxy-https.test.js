import { readFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { curl } from '../helpers/clients.js';
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream, upstreamTrust } from '../helpers/upstream.js';
// HTTPS through CONNECT: sidekey terminates the agent's TLS with a leaf from its own CA, decides
// each request inside, injects, and re-originates TLS to the upstream, which it verifies against
// the upstream stand-in's CA (made here). Real clients: curl and undici.
t.test('intercepted HTTPS', async (t) => {
    const trust = await upstreamTrust();
    const sseGapMs = 200;
    const api = await startUpstream((req, res) => {
        if (req.url === '/v1/stream') {
            res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
            let n = 0;
            const tick = setInterval(() => {
                res.write(`data: {"n":${n}}\n\n`);
                if (++n === 4) {
                    clearInterval(tick);
                    res.end('data: [DONE]\n\n');
                }
            }, sseGapMs);
            return;
        }
        if (req.url === '/v1/hang')
            return; // never answers
        if (req.url === '/v1/reset') {
            res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
            res.write('partial');
            setTimeout(() => req.socket.destroy(), 50);
            return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
    }, { trust, host: 'api.openai.test' });
    t.teardown(() => api.close());
    // Same server, but reached under a name its certificate does not carry.
    const wrongName = await startUpstream(undefined, { trust, host: 'someone-else.test' });
    t.teardown(() => wrongName.close());
    const blind = await startUpstream((_req, res) => res.end('blind'), { trust, host: 'tunnel.test' });
    t.teardown(() => blind.close());
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  openai:
    type: static
    env: TEST_OPENAI_KEY
routes:
  - name: openai
    host: api.openai.test
    ports: [443, 80]
    credential: openai
    addresses: [127.0.0.1]
  - name: mismatched-cert
    host: wrong-cert.test
    credential: openai
    addresses: [127.0.0.1]
  - name: blind
    host: tunnel.test
    action: tunnel
    addresses: [127.0.0.1]
`, {
        upstreamCaFile: trust.caFile,
        headersTimeoutMs: 3000,
        connectTo: {
            'api.openai.test:443': { host: '127.0.0.1', port: api.port },
            'wrong-cert.test:443': { host: '127.0.0.1', port: wrongName.port },
            'tunnel.test:443': { host: '127.0.0.1', port: blind.port },
        },
    });
    const proxy = sk.proxyUrlFor('agent');
    const caFile = sk.ca.certPath;
    t.test('curl trusting the CA: injected over TLS both ways', async (t) => {
        const r = await curl(['-x', proxy, '--cacert', caFile, 'https://api.openai.test/v1/models', '-H', 'Authorization: Bearer sk-placeholder']);
        t.equal(r.status, 200, r.stderr);
        t.equal(api.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
        const line = await sk.sink.waitForAudit((a) => a.event === 'request' && a.path === '/v1/models');
        t.match(line, { scheme: 'https', host: 'api.openai.test', port: 443, route: 'openai', decision: 'allow', status: 200 });
        t.type(line.tunnel, 'string', 'request names its tunnel');
    });
    t.test('curl without trusting the CA refuses the leaf (sidekey cannot be bypassed silently)', async (t) => {
        const r = await curl(['-x', proxy, 'https://api.openai.test/v1/models']);
        t.not(r.code, 0);
        t.equal(r.status, 0);
    });
    t.test('undici fetch-style client with keep-alive, SSE arrives chunk by chunk', async (t) => {
        const dispatcher = new ProxyAgent({ uri: proxy, requestTls: { ca: sk.ca.certPem } });
        t.teardown(() => dispatcher.close());
        for (let i = 0; i < 3; i++) {
            const res = await request('https://api.openai.test/v1/keepalive', { dispatcher });
            t.equal(res.statusCode, 200);
            await res.body.dump();
        }
        const perTunnel = new Map();
        for (const a of sk.sink.audits.filter((a) => a.path === '/v1/keepalive'))
            perTunnel.set(a.tunnel, (perTunnel.get(a.tunnel) ?? 0) + 1);
        // undici may open a second connection while the first is being released; reuse is what counts.
        t.ok(Math.max(...perTunnel.values()) >= 2, 'a kept-alive tunnel carried more than one request');
        const res = await request('https://api.openai.test/v1/stream', { dispatcher });
        t.equal(res.statusCode, 200);
        const arrivals = [];
        let text = '';
        for await (const chunk of res.body) {
            arrivals.push(performance.now());
            text += String(chunk);
        }
        t.match(text, /data: \[DONE\]/);
        // A stalled event loop may merge two events into one read; more than two reads still shows streaming.
        t.ok(arrivals.length >= 3, `events arrived in ${arrivals.length} chunks`);
        t.ok(arrivals.at(-1) - arrivals[0] >= 2 * sseGapMs, 'chunks were not buffered until the end');
    });
    t.test('cleartext HTTP inside CONNECT (undici ProxyAgent for http://) takes the same path', async (t) => {
        const dispatcher = new ProxyAgent({ uri: proxy });
        t.teardown(() => dispatcher.close());
        // Port 80 of api.openai.test has no connect-to mapping: the SSRF guard sees the real DNS
        // answer (none here), so the request must fail at DNS, not be forwarded anywhere else.
        const res = await request('http://api.openai.test/v1/plain', { dispatcher });
        t.equal(res.statusCode, 502);
        t.equal(res.headers['x-sidekey-error'], 'SIDEKEY_ERR_DNS');
        await res.body.dump();
        const line = await sk.sink.waitForAudit((a) => a.path === '/v1/plain');
        t.match(line, { scheme: 'http', route: 'openai', decision: 'allow', error: 'SIDEKEY_ERR_DNS' });
    });
    t.test('a Host header naming another host inside the tunnel is refused', async (t) => {
        const r = await curl(['-x', proxy, '--cacert', caFile, '-H', 'Host: evil.test', 'https://api.openai.test/v1/models']);
        t.equal(r.status, 421);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_HOST_MISMATCH/i);
        const port = await curl(['-x', proxy, '--cacert', caFile, '-H', 'Host: api.openai.test:8443', 'https://api.openai.test/v1/models']);
        t.equal(port.status, 421, 'another port is another destination');
    });
    t.test('an SNI naming another host inside the tunnel fails the handshake', async (t) => {
        const socket = netConnect(sk.proxyPort, '127.0.0.1');
        await new Promise((r) => socket.once('connect', r));
        const auth = Buffer.from(new URL(proxy).username + ':' + new URL(proxy).password).toString('base64');
        socket.write(`CONNECT api.openai.test:443 HTTP/1.1\r\nHost: api.openai.test:443\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
        const head = await new Promise((r) => socket.once('data', (d) => r(d.toString())));
        t.match(head, /^HTTP\/1\.1 200/);
        const outcome = await new Promise((resolve) => {
            const tls = tlsConnect({ socket, servername: 'evil.test', ca: sk.ca.certPem });
            tls.once('secureConnect', () => resolve('connected'));
            tls.once('error', (e) => resolve(`error: ${e.message}`));
        });
        t.match(outcome, /^error/);
        const line = await sk.sink.waitForAudit((a) => a.event === 'tunnel' && a.reason === 'sni-mismatch');
        t.equal(line.error, 'SIDEKEY_ERR_HOST_MISMATCH');
    });
    t.test('an SNI naming the CONNECT host with its own port is the same destination (Go clients such as hey); another port is not', async (t) => {
        const handshake = async (servername) => {
            const socket = netConnect(sk.proxyPort, '127.0.0.1');
            await new Promise((r) => socket.once('connect', r));
            const auth = Buffer.from(new URL(proxy).username + ':' + new URL(proxy).password).toString('base64');
            socket.write(`CONNECT api.openai.test:443 HTTP/1.1\r\nHost: api.openai.test:443\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
            await new Promise((r) => socket.once('data', (d) => r(d.toString())));
            return new Promise((resolve) => {
                // Like hey, which sends `host:port` as the server name: the certificate is checked for the host.
                const tls = tlsConnect({ socket, servername, ca: sk.ca.certPem, checkServerIdentity: (_name, cert) => checkServerIdentity('api.openai.test', cert) });
                tls.once('secureConnect', () => {
                    tls.write('GET /v1/models HTTP/1.1\r\nHost: api.openai.test\r\nConnection: close\r\n\r\n');
                    let answer = '';
                    tls.on('data', (d) => (answer += d.toString()));
                    tls.once('end', () => resolve(answer.split('\r\n')[0]));
                });
                tls.once('error', (e) => resolve(`error: ${e.message}`));
            });
        };
        t.match(await handshake('api.openai.test:443'), /^HTTP\/1\.1 200/);
        t.match(await handshake('API.openai.test:443'), /^HTTP\/1\.1 200/, 'the name compares case-insensitively, as a host does');
        t.match(await handshake('api.openai.test:8443'), /^error/, 'the host with another port names another destination');
        t.match(await handshake('api.openai.test.evil:443'), /^error/);
    });
    t.test('an upstream certificate for another name is refused with 502, nothing sent', async (t) => {
        const before = wrongName.seen.length;
        const r = await curl(['-x', proxy, '--cacert', caFile, 'https://wrong-cert.test/x']);
        t.equal(r.status, 502);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_UPSTREAM_CONNECT/i);
        t.equal(wrongName.seen.length, before);
    });
    t.test('an upstream that never answers gets 504 after the timeout', async (t) => {
        const r = await curl(['-x', proxy, '--cacert', caFile, 'https://api.openai.test/v1/hang']);
        t.equal(r.status, 504);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_UPSTREAM_TIMEOUT/i);
    });
    t.test('an upstream reset mid-body cuts the response and sidekey keeps serving', async (t) => {
        const r = await curl(['-x', proxy, '--cacert', caFile, 'https://api.openai.test/v1/reset']);
        t.not(r.code, 0, 'curl saw a truncated body');
        const line = await sk.sink.waitForAudit((a) => a.path === '/v1/reset');
        t.equal(line.error, 'SIDEKEY_ERR_UPSTREAM_RESET');
        t.equal(line.status, 200, 'the status the agent saw');
        const after = await curl(['-x', proxy, '--cacert', caFile, 'https://api.openai.test/v1/models']);
        t.equal(after.status, 200);
    });
    t.test('a tunnel route is relayed blind: the agent sees the upstream certificate', async (t) => {
        const r = await curl(['-x', proxy, '--cacert', trust.caFile, 'https://tunnel.test/']);
        t.equal(r.status, 200, r.stderr);
        t.equal(r.body, 'blind');
        const line = await sk.sink.waitForAudit((a) => a.event === 'tunnel' && a.host === 'tunnel.test');
        t.match(line, { decision: 'tunnel', reason: 'route-tunnels', route: 'blind' });
        t.ok(line.bytes_down > 0);
    });
    t.test('CONNECT to a host no route names is refused before any TLS', async (t) => {
        const r = await curl(['-x', proxy, '--cacert', caFile, 'https://nowhere.test/']);
        t.not(r.code, 0);
        const line = await sk.sink.waitForAudit((a) => a.event === 'tunnel' && a.host === 'nowhere.test');
        t.match(line, { decision: 'deny', reason: 'no-route', status: 403, error: 'SIDEKEY_ERR_NO_ROUTE' });
    });
    t.test('the CA certificate, never the key, is what clients get', async (t) => {
        const pem = await readFile(caFile, 'utf8');
        t.match(pem, /BEGIN CERTIFICATE/);
        t.notMatch(pem, /PRIVATE KEY/);
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=proxy-https.test.js.map