import { once } from 'node:events';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { connect, createServer as createNetServer } from 'node:net';
import t from 'tap';
import { ProxyAgent, request, WebSocket as UndiciWebSocket } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import { pollFor } from '../helpers/poll.js';
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js';
import { acceptFor, closeOf, decodeFrames, frame } from '../helpers/ws-frames.js';
// Issue #20, items 8 and 9 for WebSockets: frames the agent sends are checked for the secrets
// sidekey manages (across frames, fragments and TCP reads, nothing of a secret forwarded; the
// connection closed with 1008 and the workload quarantined, as for a request), and frames from the
// upstream have echoed secrets masked. Compression is never negotiated (it would hide payloads).
// Clients: `ws` and undici's WebSocket (real libraries), and a hostile client on a raw socket;
// upstreams: a `ws` server, and a hostile server on a raw socket.
const SECRET = SECRETS.OPENAI;
/** A `ws` server that echoes, and on command sends back the Authorization it was opened with. */
async function wsUpstream() {
    const server = createHttpServer();
    // Compression on: the proof that sidekey's upgrade request offered none.
    const wss = new WebSocketServer({ server, perMessageDeflate: true });
    const upgrades = [];
    const received = [];
    wss.on('connection', (socket, req) => {
        upgrades.push(req);
        const auth = String(req.headers.authorization);
        socket.on('message', (data, binary) => {
            const text = Buffer.isBuffer(data) ? data.toString('latin1') : String(data);
            received.push(text);
            if (text === 'echo-auth')
                socket.send(`{"you":"${auth}"}`);
            else if (text === 'echo-auth-fragments') {
                socket.send(`first ${auth.slice(0, 14)}`, { fin: false });
                socket.send(`${auth.slice(14)} last`, { fin: true });
            }
            else if (text === 'echo-auth-b64')
                socket.send(Buffer.from(auth.replace('Bearer ', '')).toString('base64'));
            else if (text === 'close-with-auth')
                socket.close(4001, auth);
            else
                socket.send(binary ? data : `echo:${text}`, { binary });
        });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    return {
        port: server.address().port,
        upgrades,
        received,
        close: () => new Promise((r) => {
            for (const c of wss.clients)
                c.terminate();
            wss.close();
            server.closeAllConnections();
            server.close(() => r());
        }),
    };
}
/**
 * A hostile upstream on a raw socket: it switches protocols by hand and records every byte it
 * gets, and on some paths sends what a server must not (an extension nobody offered, compressed
 * or masked frames).
 */
async function rawUpstream() {
    const sessions = [];
    const sockets = new Set();
    const server = createNetServer((socket) => {
        sockets.add(socket);
        let head = Buffer.alloc(0);
        let session = null;
        socket.on('error', () => undefined);
        socket.on('close', () => {
            sockets.delete(socket);
            if (session)
                session.closed = true;
        });
        socket.on('data', (chunk) => {
            if (session) {
                session.after = Buffer.concat([session.after, chunk]);
                return;
            }
            head = Buffer.concat([head, chunk]);
            const end = head.indexOf('\r\n\r\n');
            if (end < 0)
                return;
            const [requestLine, ...lines] = head.subarray(0, end).toString('latin1').split('\r\n');
            const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
            session = { path: requestLine.split(' ')[1], headers, after: head.subarray(end + 4), closed: false };
            sessions.push(session);
            const extension = session.path === '/deflate' ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : '';
            const echo = session.path === '/echo-101' ? `X-Echo: ${headers.authorization}\r\n` : '';
            socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(headers['sec-websocket-key'] ?? '')}\r\n${extension}${echo}\r\n`);
            if (session.path === '/rsv1')
                socket.write(frame({ opcode: 1, payload: 'squeezed', rsv: 0x40, mask: false }));
            if (session.path === '/masked')
                socket.write(frame({ opcode: 1, payload: 'hidden' }));
        });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    return {
        port: server.address().port,
        sessions,
        close: () => new Promise((r) => {
            for (const s of sockets)
                s.destroy();
            server.close(() => r());
        }),
    };
}
/** A hostile client: an absolute-form upgrade on a raw socket, then whatever frames the test writes. */
async function rawClient(sk, url, workload) {
    const proxy = new URL(sk.proxyUrlFor(workload));
    const auth = Buffer.from(`${proxy.username}:${proxy.password}`).toString('base64');
    const socket = connect(sk.proxyPort, '127.0.0.1');
    socket.on('error', () => undefined);
    let received = Buffer.alloc(0);
    socket.on('data', (c) => (received = Buffer.concat([received, c])));
    const closed = once(socket, 'close').then(() => undefined);
    socket.write(`GET ${url} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
    const end = await pollFor(() => received.indexOf('\r\n\r\n'), (i) => i >= 0);
    return {
        socket,
        closed,
        head: received.subarray(0, Math.max(0, end)).toString('latin1'),
        frames: () => decodeFrames(received.subarray(end + 4)).frames,
    };
}
/** A CONNECT tunnel through sidekey, for a `ws` client to speak through (cleartext inside). */
function tunnel(sk, authority, workload) {
    const proxy = new URL(sk.proxyUrlFor(workload));
    const auth = Buffer.from(`${proxy.username}:${proxy.password}`).toString('base64');
    return new Promise((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port: sk.proxyPort, method: 'CONNECT', path: authority, headers: { 'proxy-authorization': `Basic ${auth}` } });
        req.on('connect', (res, socket) => (res.statusCode === 200 ? resolve(socket) : reject(new Error(`CONNECT answered ${res.statusCode}`))));
        req.on('error', reject);
        req.end();
    });
}
/** The payload bytes the hostile upstream got in its session, frames and a partial one joined. */
function payloadSeen(session) {
    const { frames, partialPayload } = decodeFrames(session.after);
    return Buffer.concat([...frames.map((f) => f.payload), partialPayload]).toString('latin1');
}
t.test('WebSocket frames are guarded both ways', async (t) => {
    const echo = await wsUpstream();
    const raw = await rawUpstream();
    t.teardown(() => Promise.all([echo.close(), raw.close()]));
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: echo, host: ws.test, addresses: [127.0.0.1], credential: key, upgrades: [websocket] }
  - { name: raw, host: raw.test, addresses: [127.0.0.1], credential: key, upgrades: [websocket] }
`, { connectTo: { 'ws.test:80': { host: '127.0.0.1', port: echo.port }, 'raw.test:80': { host: '127.0.0.1', port: raw.port } } });
    const wsClient = async (workload, path = '/chat') => {
        const socket = await tunnel(sk, 'ws.test:80', workload);
        const client = new WebSocket(`ws://ws.test${path}`, { createConnection: () => socket });
        await once(client, 'open');
        return client;
    };
    const quarantined = async (workload) => {
        const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor(workload), proxyTunnel: false });
        try {
            const res = await request('http://ws.test/after', { dispatcher });
            await res.body.dump();
            return res.headers['x-sidekey-error'];
        }
        finally {
            await dispatcher.close();
        }
    };
    t.test('ws client: messages and pings round-trip; compression offered by the client is not negotiated', async (t) => {
        const client = await wsClient('chatty');
        t.equal(client.extensions, '', 'no extension was agreed');
        t.equal(echo.upgrades.at(-1).headers['sec-websocket-extensions'], undefined, 'sidekey offered none upstream');
        t.equal(echo.upgrades.at(-1).headers.authorization, `Bearer ${SECRET}`);
        client.send('hello');
        t.equal(String((await once(client, 'message'))[0]), 'echo:hello');
        const big = Buffer.alloc(70_000, 0x42);
        client.send(big);
        const [back] = (await once(client, 'message'));
        t.same(back, big, 'a message with a 64-bit length arrives whole, both ways');
        client.ping('are you there');
        t.equal(String((await once(client, 'pong'))[0]), 'are you there', 'control frames pass both ways');
        client.close(1000);
        t.equal((await once(client, 'close'))[0], 1000);
        const line = await sk.sink.waitForAudit((a) => a.event === 'upgrade' && a.workload === 'chatty');
        t.match(line, { route: 'echo', status: 101, error: null, scheme: 'ws' });
        t.equal(sk.sink.audits.filter((a) => a.id === line.id).length, 1, 'one audit line for the connection');
    });
    t.test('ws client: a managed secret in a message closes with 1008, never reaches the upstream, quarantines', async (t) => {
        const client = await wsClient('leaker-ws');
        client.send('harmless first');
        await once(client, 'message');
        client.send(`the key is ${SECRET}, bye`);
        const [code, reason] = (await once(client, 'close'));
        t.equal(code, 1008);
        t.match(String(reason), /^SIDEKEY_ERR_SECRET_DETECTED: /);
        t.notOk(echo.received.some((m) => m.includes(SECRET.slice(0, 6))), 'the upstream received nothing of it');
        t.match(await sk.sink.waitForAudit((a) => a.event === 'upgrade' && a.workload === 'leaker-ws'), { status: 101, error: 'SIDEKEY_ERR_SECRET_DETECTED' });
        t.ok(await pollFor(() => sk.sink.lines.find((l) => l.event === 'security_event' && l.workload === 'leaker-ws'), (l) => l !== undefined), 'a security event was raised');
        t.equal(await pollFor(() => quarantined('leaker-ws'), (c) => c !== undefined), 'SIDEKEY_ERR_QUARANTINED', 'the workload is quarantined');
    });
    t.test('undici WebSocket: the secret base64-encoded in a binary message is caught too', async (t) => {
        const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('leaker-undici') });
        t.teardown(() => dispatcher.close());
        const client = new UndiciWebSocket('ws://ws.test/chat', { dispatcher });
        await once(client, 'open');
        const closed = new Promise((r) => client.addEventListener('close', (e) => r({ code: e.code, reason: e.reason })));
        client.send(new TextEncoder().encode(`x${Buffer.from(SECRET).toString('base64')}`));
        const { code, reason } = await closed;
        t.equal(code, 1008);
        t.match(reason, /SIDEKEY_ERR_SECRET_DETECTED/);
        t.match(await sk.sink.waitForAudit((a) => a.event === 'upgrade' && a.workload === 'leaker-undici'), { error: 'SIDEKEY_ERR_SECRET_DETECTED' });
    });
    t.test('hostile client: a secret split across fragments sent apart is held back, then refused', async (t) => {
        const c = await rawClient(sk, 'http://raw.test/record', 'leaker-fragments');
        t.match(c.head, /^HTTP\/1\.1 101 /);
        const session = raw.sessions.at(-1);
        t.equal(session.headers['sec-websocket-extensions'], undefined, 'the offer of compression was not passed on');
        c.socket.write(frame({ opcode: 1, payload: `key=${SECRET.slice(0, 12)}`, fin: false }));
        await pollFor(() => session.after.length, (n) => n >= 6);
        t.equal(payloadSeen(session), '', 'only the header went on: the start of the secret is held');
        c.socket.write(frame({ opcode: 0, payload: `${SECRET.slice(12)}&more` }));
        await c.closed;
        const close = c.frames().at(-1);
        t.equal(close.opcode, 8);
        t.match(closeOf(close.payload), { code: 1008, reason: /^SIDEKEY_ERR_SECRET_DETECTED/ });
        await pollFor(() => session.closed, (x) => x);
        t.notOk(payloadSeen(session).includes(SECRET.slice(0, 4)), 'the upstream got no byte of the secret');
        t.match(await sk.sink.waitForAudit((a) => a.event === 'upgrade' && a.workload === 'leaker-fragments'), { status: 101, error: 'SIDEKEY_ERR_SECRET_DETECTED' });
    });
    t.test('hostile client: a secret at the end of a 64-bit frame, its bytes split across TCP writes', async (t) => {
        const c = await rawClient(sk, 'http://raw.test/record', 'leaker-split');
        const session = raw.sessions.at(-1);
        const whole = frame({ opcode: 2, payload: Buffer.concat([Buffer.alloc(70_000, 0x61), Buffer.from(SECRET)]) });
        c.socket.write(whole.subarray(0, 14 + 70_000 + 9));
        await pollFor(() => payloadSeen(session).length, (n) => n > 60_000);
        c.socket.write(whole.subarray(14 + 70_000 + 9));
        await c.closed;
        t.match(closeOf(c.frames().at(-1).payload), { code: 1008 });
        await pollFor(() => session.closed, (x) => x);
        const seen = payloadSeen(session);
        t.ok(seen.length < 70_000, 'the bytes before the secret may go on, the held tail did not');
        t.notOk(seen.includes(SECRET.slice(0, 4)));
    });
    t.test('hostile client: a secret in a ping', async (t) => {
        const c = await rawClient(sk, 'http://raw.test/record', 'leaker-ping');
        c.socket.write(frame({ opcode: 9, payload: SECRET }));
        await c.closed;
        t.match(closeOf(c.frames().at(-1).payload), { code: 1008 });
        t.notOk(payloadSeen(raw.sessions.at(-1)).includes(SECRET.slice(0, 4)));
    });
    t.test('hostile client: unmasked and compressed frames are refused with 1002, and recorded', async (t) => {
        for (const [workload, bad, why] of [
            ['unmasked', frame({ opcode: 1, payload: 'plain', mask: false }), /must be masked/],
            ['compressed', frame({ opcode: 1, payload: 'squeezed', rsv: 0x40 }), /RSV1/],
            ['reserved-opcode', frame({ opcode: 5, payload: 'what' }), /opcode 0x5/],
        ]) {
            const c = await rawClient(sk, 'http://raw.test/record', workload);
            c.socket.write(bad);
            await c.closed;
            t.match(closeOf(c.frames().at(-1).payload), { code: 1002, reason: /^SIDEKEY_ERR_WEBSOCKET_FRAME/ }, workload);
            t.match(closeOf(c.frames().at(-1).payload).reason, why);
            t.equal(payloadSeen(raw.sessions.at(-1)), '', `${workload}: nothing of it went upstream`);
            t.match(await sk.sink.waitForAudit((a) => a.event === 'upgrade' && a.workload === workload), { status: 101, error: 'SIDEKEY_ERR_WEBSOCKET_FRAME' });
        }
    });
    t.test('hostile client: a ping between two fragments of a message, all passed on in order', async (t) => {
        const c = await rawClient(sk, 'http://ws.test/chat', 'fragmenter');
        c.socket.write(Buffer.concat([frame({ opcode: 1, payload: 'frag', fin: false }), frame({ opcode: 9, payload: 'mid' }), frame({ opcode: 0, payload: 'mented' })]));
        const frames = await pollFor(() => c.frames(), (f) => f.length >= 2);
        t.same(frames.map((f) => [f.opcode, f.payload.toString()]), [
            [10, 'mid'],
            [1, 'echo:fragmented'],
        ]);
        c.socket.destroy();
    });
    t.test('upstream echoes of the credential are masked in messages, fragments, base64 and close reasons', async (t) => {
        const client = await wsClient('listener');
        const next = async (send) => {
            client.send(send);
            return String((await once(client, 'message'))[0]);
        };
        const json = await next('echo-auth');
        t.match(json, /^\{"you":"Bearer \[redacted\]\**"\}$/);
        t.equal(json.length, `{"you":"Bearer ${SECRET}"}`.length, 'same length');
        const fragments = await next('echo-auth-fragments');
        // Split after 7 bytes of the secret, short of two thirds: those went out with the first
        // fragment (nothing is held back for what it could become), the rest is masked.
        t.equal(fragments, `first Bearer ${SECRET.slice(0, 7)}${'[redacted]'.padEnd(SECRET.length - 7, '*')} last`);
        const b64 = await next('echo-auth-b64');
        t.notOk(b64.includes(Buffer.from(SECRET).toString('base64')));
        t.match(b64, /^\[redacted\]/);
        client.send('close-with-auth');
        const [code, reason] = (await once(client, 'close'));
        t.equal(code, 4001);
        t.match(String(reason), /^Bearer \[redacted\]/);
        const line = await sk.sink.waitForAudit((a) => a.event === 'upgrade' && a.workload === 'listener');
        t.ok((line.scrubbed ?? 0) >= 4, 'the masks are counted on the audit line');
    });
    t.test("hostile upstream: the credential echoed in the 101's own headers is masked", async (t) => {
        const c = await rawClient(sk, 'http://raw.test/echo-101', 'agent-101');
        t.match(c.head, /^HTTP\/1\.1 101 /);
        t.notOk(c.head.includes(SECRET));
        t.match(c.head, /x-echo: Bearer \[redacted\]/i);
        c.socket.destroy();
    });
    t.test('hostile upstream: an extension nobody offered is refused before the 101 reaches the agent', async (t) => {
        const c = await rawClient(sk, 'http://raw.test/deflate', 'agent-deflate');
        t.match(c.head, /^HTTP\/1\.1 502 /);
        t.match(c.head, /x-sidekey-error: SIDEKEY_ERR_UPGRADE_FAILED/);
        await c.closed;
        t.match(await sk.sink.waitForAudit((a) => a.event === 'upgrade' && a.workload === 'agent-deflate'), { status: 502, error: 'SIDEKEY_ERR_UPGRADE_FAILED' });
    });
    t.test('hostile upstream: compressed and masked frames close the agent with 1002', async (t) => {
        for (const path of ['/rsv1', '/masked']) {
            const c = await rawClient(sk, `http://raw.test${path}`, `agent-${path.slice(1)}`);
            t.match(c.head, /^HTTP\/1\.1 101 /);
            await c.closed;
            const frames = c.frames();
            t.equal(frames.length, 1, `${path}: only the close frame reached the agent`);
            t.match(closeOf(frames[0].payload), { code: 1002, reason: /SIDEKEY_ERR_WEBSOCKET_FRAME: a WebSocket frame from the upstream/ });
        }
    });
    noSecretsLogged(t, sk);
});
t.test('a WebSocket on a route with a time window is closed when the window ends', async (t) => {
    // Found by a red-team run: conditions were checked once, at the upgrade, so a WebSocket opened
    // at 17:59 relayed every message sent after hours.
    const echo = await wsUpstream();
    t.teardown(() => echo.close());
    let clock = Date.parse('2026-11-23T16:59:00Z'); // Monday 17:59 Berlin
    const sk = await startTestSidekey(t, `
version: v1
routes:
  - name: office
    host: ws.test
    addresses: [127.0.0.1]
    upgrades: [websocket]
    conditions:
      time: { days: [mon-fri], from: "09:00", to: "18:00", zone: Europe/Berlin }
`, { now: () => clock, connectTo: { 'ws.test:80': { host: '127.0.0.1', port: echo.port } } });
    const socket = await tunnel(sk, 'ws.test:80', 'late');
    const client = new WebSocket('ws://ws.test/chat', { createConnection: () => socket });
    await once(client, 'open');
    client.send('before six');
    t.equal(String((await once(client, 'message'))[0]), 'echo:before six', 'inside the window: relayed');
    const closed = once(client, 'close');
    clock = Date.parse('2026-11-23T22:00:00Z'); // 23:00 Berlin
    await closed;
    t.pass('closed once the window ended');
    const line = await sk.sink.waitForAudit((a) => a.event === 'upgrade' && a.workload === 'late');
    t.equal(line.closed, 'outside-time-window', 'the audit line says why');
    t.notOk(echo.received.includes('after hours'), 'nothing was relayed after the window');
});
//# sourceMappingURL=websocket-guard.test.js.map