import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import t from 'tap';
import { ProxyAgent, WebSocket } from 'undici';
import { WebSocketServer } from 'ws';
import { rawExchange } from '../helpers/clients.js';
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js';
import { upstreamTrust } from '../helpers/upstream.js';
// WebSocket upgrades go through the same decision and injection as plain requests: ws:// and
// wss:// through CONNECT (undici's WebSocket with a ProxyAgent, a real client), and an
// absolute-form upgrade on the proxy port. The upstream is a real `ws` server that echoes.
async function echoServer(tls) {
    const server = tls ? createHttpsServer(tls) : createHttpServer();
    const wss = new WebSocketServer({ server });
    const upgrades = [];
    wss.on('connection', (socket, req) => {
        upgrades.push(req);
        socket.on('message', (data) => socket.send(`echo:${String(data)}`));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    return {
        port: server.address().port,
        upgrades,
        close: () => new Promise((r) => {
            for (const c of wss.clients)
                c.terminate();
            wss.close();
            server.closeAllConnections();
            server.close(() => r());
        }),
    };
}
function roundTrip(ws, message) {
    return new Promise((resolve, reject) => {
        ws.addEventListener('open', () => ws.send(message));
        ws.addEventListener('message', (e) => resolve(String(e.data)));
        ws.addEventListener('error', (e) => reject(new Error(`websocket error: ${e.type}`)));
    });
}
t.test('WebSocket upgrades', async (t) => {
    const trust = await upstreamTrust();
    const plain = await echoServer();
    const secure = await echoServer(await trust.cert('ws.test'));
    t.teardown(() => Promise.all([plain.close(), secure.close()]));
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  key:
    type: static
    env: TEST_OPENAI_KEY
routes:
  - name: realtime
    host: ws.test
    ports: [80, 443]
    paths: ["/realtime"]
    credential: key
    upgrades: [websocket]
    addresses: [127.0.0.1]
`, {
        upstreamCaFile: trust.caFile,
        connectTo: {
            'ws.test:80': { host: '127.0.0.1', port: plain.port },
            'ws.test:443': { host: '127.0.0.1', port: secure.port },
        },
    });
    const proxy = sk.proxyUrlFor('agent');
    const dispatcher = new ProxyAgent({ uri: proxy, requestTls: { ca: sk.ca.certPem } });
    t.teardown(() => dispatcher.close());
    t.test('wss:// inside an intercepted tunnel: injected, then relayed both ways', async (t) => {
        const ws = new WebSocket('wss://ws.test/realtime', { dispatcher });
        t.equal(await roundTrip(ws, 'hello'), 'echo:hello');
        ws.close();
        t.equal(secure.upgrades.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
        const line = await sk.sink.waitForAudit((a) => a.event === 'upgrade' && a.scheme === 'wss');
        t.match(line, { route: 'realtime', decision: 'allow', status: 101, credential: 'key' });
    });
    t.test('ws:// through CONNECT (cleartext in the tunnel)', async (t) => {
        const ws = new WebSocket('ws://ws.test/realtime', { dispatcher });
        t.equal(await roundTrip(ws, 'plain'), 'echo:plain');
        ws.close();
        t.equal(plain.upgrades.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
    });
    t.test('a path no route allows is refused before any upgrade', async (t) => {
        const before = secure.upgrades.length;
        const ws = new WebSocket('wss://ws.test/other', { dispatcher });
        await t.rejects(roundTrip(ws, 'x'));
        t.equal(secure.upgrades.length, before, 'the upstream never saw it');
        const line = await sk.sink.waitForAudit((a) => a.event === 'upgrade' && a.path === '/other');
        t.match(line, { decision: 'deny', reason: 'no-route', status: 403 });
    });
    t.test('absolute-form upgrade on the proxy port', async (t) => {
        const auth = Buffer.from(`${new URL(proxy).username}:${new URL(proxy).password}`).toString('base64');
        const raw = await rawExchange(sk.proxyPort, 'GET http://ws.test/realtime HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade, authorization\r\n' +
            `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer agent-placeholder\r\nProxy-Authorization: Basic ${auth}\r\n\r\n`);
        t.match(raw, /^HTTP\/1\.1 101 /);
        const req = plain.upgrades.at(-1);
        t.equal(req.headers.authorization, `Bearer ${SECRETS.OPENAI}`, 'injected despite Connection naming authorization');
        t.equal(req.headers['proxy-authorization'], undefined);
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=websocket.test.js.map