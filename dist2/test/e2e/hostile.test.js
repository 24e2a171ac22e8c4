import { connect as netConnect } from 'node:net';
import t from 'tap';
import { curl, rawExchange } from '../helpers/clients.js';
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream } from '../helpers/upstream.js';
// Hostile and malformed input, as an attacker or a broken client sends it. Each gets a specific
// refusal with x-sidekey-error (or, inside TLS, a failed handshake and an audit line), nothing is
// forwarded without policy, and sidekey keeps serving everyone else.
t.test('hostile input', async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const port = upstream.port;
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  key:
    type: static
    env: TEST_OPENAI_KEY
routes:
  - name: api
    host: api.test
    ports: [${port}]
    paths: ["/v1/**"]
    credential: key
    workloads: [anonymous, agent]
    addresses: [127.0.0.1]
`, { connectTo: { [`api.test:${port}`]: { host: '127.0.0.1', port } } });
    const target = `http://api.test:${port}`;
    const cases = [
        ['CONNECT without a port', 'CONNECT api.test HTTP/1.1\r\nHost: api.test\r\n\r\n', /^HTTP\/1\.1 400 /, /SIDEKEY_ERR_BAD_REQUEST/],
        ['CONNECT to garbage', 'CONNECT ::::: HTTP/1.1\r\nHost: x\r\n\r\n', /^HTTP\/1\.1 400 /, /SIDEKEY_ERR_BAD_REQUEST/],
        ['CONNECT to port 0', 'CONNECT api.test:0 HTTP/1.1\r\nHost: api.test\r\n\r\n', /^HTTP\/1\.1 400 /, /SIDEKEY_ERR_BAD_REQUEST/],
        ['credentials in the URL', `GET http://user:pw@api.test:${port}/v1/x HTTP/1.1\r\nHost: api.test\r\n\r\n`, /^HTTP\/1\.1 400 /, /SIDEKEY_ERR_BAD_REQUEST/],
        ['ftp scheme', 'GET ftp://api.test/file HTTP/1.1\r\nHost: api.test\r\n\r\n', /^HTTP\/1\.1 400 /, /SIDEKEY_ERR_UNSUPPORTED_SCHEME/],
        ['obs-fold header', `GET ${target}/v1/x HTTP/1.1\r\nHost: api.test\r\nX-A: one\r\n  folded\r\n\r\n`, /^HTTP\/1\.1 400 /, /x-sidekey-error: SIDEKEY_ERR_/],
        ['invalid header name', `GET ${target}/v1/x HTTP/1.1\r\nHost: api.test\r\nBad Header: 1\r\n\r\n`, /^HTTP\/1\.1 400 /, /x-sidekey-error: SIDEKEY_ERR_(INVALID_HEADER|BAD_REQUEST)/],
        ['NUL in a header value', `GET ${target}/v1/x HTTP/1.1\r\nHost: api.test\r\nX-A: a\0b\r\n\r\n`, /^HTTP\/1\.1 400 /, /x-sidekey-error: SIDEKEY_ERR_/],
        ['two Content-Length values', `POST ${target}/v1/x HTTP/1.1\r\nHost: api.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`, /^HTTP\/1\.1 400 /, /x-sidekey-error: SIDEKEY_ERR_/],
        ['not HTTP at all', 'SSH-2.0-OpenSSH_9.0\r\n\r\n', /^HTTP\/1\.1 400 /, /x-sidekey-error: SIDEKEY_ERR_BAD_REQUEST/],
        // http-proxy (used only to relay upgraded connections) mishandles Content-Length; Node's
        // strict parser refuses the ambiguous upgrade request before http-proxy ever sees it.
        ['upgrade with Content-Length and Transfer-Encoding', `GET ${target}/v1/ws HTTP/1.1\r\nHost: api.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n`, /^HTTP\/1\.1 400 /, /SIDEKEY_ERR_BAD_REQUEST/],
        ['huge URL', `GET ${target}/v1/${'a'.repeat(40000)} HTTP/1.1\r\nHost: api.test\r\n\r\n`, /^HTTP\/1\.1 431 /, /SIDEKEY_ERR_HEADERS_TOO_LARGE/],
    ];
    for (const [name, request, status, code] of cases) {
        t.test(name, async (t) => {
            const before = upstream.seen.length;
            const answer = await rawExchange(sk.proxyPort, request);
            t.match(answer, status);
            t.match(answer, code);
            t.equal(upstream.seen.length, before, 'nothing reached the upstream');
        });
    }
    t.test('dot segments are resolved before the decision, so they cannot escape a path glob', async (t) => {
        const proxy = sk.proxyUrlFor('agent');
        const r = await curl(['-x', proxy, '--path-as-is', `${target}/v1/../admin/secrets`]);
        t.equal(r.status, 403);
        t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_NO_ROUTE/i);
        // Issue #20 item 2: an encoded dot is refused as ambiguous (400) where routes match paths.
        const encoded = await curl(['-x', proxy, '--path-as-is', `${target}/v1/%2e%2e/admin/secrets`]);
        t.equal(encoded.status, 400);
        t.match(encoded.headers, /x-sidekey-error: SIDEKEY_ERR_AMBIGUOUS_PATH/i);
        t.notOk(upstream.seen.some((s) => s.url.includes('admin')));
    });
    t.test('garbage after CONNECT that is neither TLS nor HTTP gets a 400 inside the tunnel', async (t) => {
        const socket = netConnect(sk.proxyPort, '127.0.0.1');
        await new Promise((r) => socket.once('connect', r));
        socket.write(`CONNECT api.test:${port} HTTP/1.1\r\nHost: api.test\r\n\r\n`);
        await new Promise((r) => socket.once('data', r));
        const answer = await new Promise((resolve) => {
            let text = '';
            socket.on('data', (d) => (text += d.toString('latin1')));
            socket.on('close', () => resolve(text));
            socket.write('\x01\x02garbage\r\n\r\n');
        });
        t.match(answer, /^HTTP\/1\.1 400 /);
    });
    t.test('a TLS record of garbage after CONNECT fails the handshake, logged', async (t) => {
        const socket = netConnect(sk.proxyPort, '127.0.0.1');
        await new Promise((r) => socket.once('connect', r));
        socket.write(`CONNECT api.test:${port} HTTP/1.1\r\nHost: api.test\r\n\r\n`);
        await new Promise((r) => socket.once('data', r));
        socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]));
        await new Promise((r) => socket.once('close', r));
        const line = await sk.sink.waitForAudit((a) => a.event === 'tunnel' && a.reason === 'tls-handshake-failed');
        t.equal(line.error, 'SIDEKEY_ERR_TLS_HANDSHAKE');
    });
    t.test('a client that vanishes mid-request does not disturb others', async (t) => {
        const vanished = [];
        for (let i = 0; i < 20; i++) {
            const s = netConnect(sk.proxyPort, '127.0.0.1');
            s.on('error', () => undefined);
            s.write(`POST ${target}/v1/x HTTP/1.1\r\nHost: api.test\r\nContent-Length: 100000\r\n\r\npartial`);
            setTimeout(() => s.destroy(), 20);
            vanished.push(new Promise((r) => s.once('close', r)));
        }
        await Promise.all(vanished);
        const r = await curl(['-x', sk.proxyUrl, `${target}/v1/still-fine`]);
        t.equal(r.status, 200);
        t.equal(upstream.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
    });
    t.test('one hundred concurrent requests are all answered', async (t) => {
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => curl(['-x', sk.proxyUrl, `${target}/v1/n/${i}`])));
        t.same(results.map((r) => r.status).filter((s) => s !== 200), []);
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=hostile.test.js.map