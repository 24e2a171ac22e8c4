import { createServer as createTlsServer } from 'node:tls';
import t, {} from 'tap';
import { h2ThroughProxy, startH2Sidekey } from '../helpers/h2.js';
import { dataFrame, headersFrame, rawH2Upstream } from '../helpers/raw-h2-upstream.js';
import { noSecretsLogged } from '../helpers/sidekey.js';
import { basicAuth, openTunnel } from '../helpers/tunnels.js';
import { upstreamTrust } from '../helpers/upstream.js';
// Upstreams whose response body does not fit its Content-Length, written byte by byte, to an HTTP/1.1
// agent and an HTTP/2 agent in intercepted tunnels. What must hold: nothing but the declared bytes
// ever reaches the agent (bytes past them could pose as a second response to an HTTP/1.1 agent);
// when nothing had reached it yet, the agent gets a 502 with x-sidekey-error and a reason; once the
// head had gone, the answer is cut, never completed; no hang; one audit line, with the error.
// Before, a failure between the head and the first body byte closed an HTTP/1.1 agent's connection
// with no status at all (the head was written, not yet sent), and its audit line said 200.
// An HTTP/1.1 upstream's extra bytes belong to no request (the answer before them was whole, as
// framed): a warning names the upstream whose connection undici dropped for them.
/** What an upstream's extra bytes would look like to an HTTP/1.1 client reading on. */
const EXTRA = 'HTTP/1.1 204 Smuggled\r\nx-smuggled: 1\r\n\r\n';
/** An HTTP/1.1-only TLS server for `host` that answers each request head with `answer`, byte by byte. */
async function rawH1Upstream(trust, host, answer) {
    const server = createTlsServer({ ...(await trust.cert(host)), ALPNProtocols: ['http/1.1'] });
    const sockets = new Set();
    server.on('secureConnection', (socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        let head = '';
        socket.on('data', (chunk) => {
            head += chunk.toString('latin1');
            if (!head.includes('\r\n\r\n'))
                return;
            head = '';
            answer(socket);
        });
    });
    await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
    return {
        port: server.address().port,
        close: async () => {
            for (const s of sockets)
                s.destroy();
            await new Promise((closed) => server.close(closed));
        },
    };
}
const later = (fn) => void setTimeout(fn, 50);
/** HTTP/1.1 upstreams: each declares `Content-Length: 5`. */
const H1 = {
    // Five bytes and more, in the head's write.
    'h1-one-write.api.test': (s) => s.write(`HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello${EXTRA}`),
    // The head, then the body and more in a second write.
    'h1-second-write.api.test': (s) => {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n');
        later(() => s.write(`hello${EXTRA}`));
    },
    // The head, then the connection closed before any body byte.
    'h1-head-only.api.test': (s) => {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n');
        later(() => s.destroy());
    },
};
/** HTTP/2 upstreams: each declares `content-length: 5`. */
const H2 = {
    // One DATA frame over the length, with the head.
    'h2-one-write.api.test': (c, id) => c.send(headersFrame(id, [[':status', '200'], ['content-length', '5']]), dataFrame(id, `hello${EXTRA}`, true)),
    // The head, then one DATA frame over the length.
    'h2-second-write.api.test': (c, id) => {
        c.send(headersFrame(id, [[':status', '200'], ['content-length', '5']]));
        later(() => c.send(dataFrame(id, `hello${EXTRA}`, true)));
    },
    // The five bytes, then more in a second DATA frame.
    'h2-extra-later.api.test': (c, id) => {
        c.send(headersFrame(id, [[':status', '200'], ['content-length', '5']]), dataFrame(id, 'hello'));
        later(() => c.send(dataFrame(id, EXTRA, true)));
    },
};
t.test('upstream bodies that do not fit their content-length', async (t) => {
    const trust = await upstreamTrust();
    const ports = {};
    for (const [host, answer] of Object.entries(H1)) {
        const upstream = await rawH1Upstream(trust, host, answer);
        t.teardown(() => upstream.close());
        ports[host] = upstream.port;
    }
    for (const [host, answer] of Object.entries(H2)) {
        const upstream = await rawH2Upstream(trust, host, answer);
        t.teardown(() => upstream.close());
        ports[host] = upstream.port;
    }
    const routes = Object.keys(ports)
        .map((host) => `  - { name: ${host.split('.')[0]}, host: ${host}, credential: openai, addresses: [127.0.0.1] }\n`)
        .join('');
    const sk = await startH2Sidekey(t, trust, routes, ports);
    const proxyPort = Number(new URL(sk.proxyUrl).port);
    const auth = () => basicAuth('agent', sk.runTokens.mint('agent').token);
    /** A GET from an HTTP/1.1 agent in a tunnel: every byte that arrived before it closed (or `waitMs` passed). */
    const h1Get = async (host, path, waitMs = 2000) => {
        const tunnel = await openTunnel(proxyPort, `${host}:443`, { auth: auth(), tls: { ca: sk.ca.certPem } });
        const chunks = [];
        tunnel.stream.on('data', (c) => chunks.push(c));
        tunnel.stream.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        await Promise.race([tunnel.closed, new Promise((r) => setTimeout(r, waitMs))]);
        const result = { text: Buffer.concat(chunks).toString('latin1'), closed: tunnel.isClosed() };
        tunnel.socket.destroy();
        return result;
    };
    /** A GET from an HTTP/2 agent: the head, the body and the stream's reset code (0: ended cleanly). */
    const h2Get = async (host, path) => {
        const session = await h2ThroughProxy(proxyPort, `${host}:443`, { auth: auth(), ca: sk.ca.certPem });
        try {
            return await new Promise((resolve) => {
                const stream = session.request({ ':method': 'GET', ':path': path });
                let head = {};
                const chunks = [];
                stream.on('response', (h) => (head = h));
                stream.on('data', (c) => chunks.push(c));
                stream.on('error', () => undefined);
                stream.on('close', () => resolve({ status: Number(head[':status']), error: head['x-sidekey-error'], body: Buffer.concat(chunks).toString('latin1'), rstCode: stream.rstCode ?? -1 }));
            });
        }
        finally {
            session.destroy();
        }
    };
    /** The one audit line of `path` on `host`. */
    const onlyLine = async (t, host, path) => {
        const line = await sk.sink.waitForAudit((a) => a.host === host && a.path === path);
        await new Promise((r) => setTimeout(r, 100));
        t.equal(sk.sink.audits.filter((a) => a.host === host && a.path === path).length, 1, `${host}${path}: one audit line`);
        return line;
    };
    t.test('HTTP/1.1 upstreams: the response Content-Length frames reaches the agent, never a byte more', async (t) => {
        for (const host of ['h1-one-write.api.test', 'h1-second-write.api.test']) {
            const h1 = await h1Get(host, '/h1');
            t.match(h1.text, /^HTTP\/1\.1 200 [^]*\r\ncontent-length: 5\r\n[^]*\r\n\r\nhello$/i, `${host}, HTTP/1.1 agent: the five bytes, nothing after them`);
            t.notMatch(h1.text, /Smuggled/, `${host}, HTTP/1.1 agent: no second response`);
            const h2 = await h2Get(host, '/h2');
            t.same([h2.status, h2.body, h2.rstCode], [200, 'hello', 0], `${host}, HTTP/2 agent: the five bytes`);
            // The upstream connection the extra bytes came on is never used again (undici drops it).
            const again = await h2Get(host, '/again');
            t.same([again.status, again.body], [200, 'hello'], `${host}: the next request gets its own answer, not the extra bytes`);
            for (const path of ['/h1', '/h2'])
                t.match(await onlyLine(t, host, path), { status: 200 }, `${host}${path}: audit line`);
            // The extra bytes belong to no request's answer: a warning of its own names the upstream.
            const broken = sk.sink.lines.filter((l) => l.event === 'upstream_broken_connection' && l.host === host);
            t.ok(broken.length >= 2, `${host}: a warning for each connection dropped for its extra bytes (${broken.length})`);
            t.match(broken[0], { level: 'warn', address: '127.0.0.1', port: ports[host], why: 'bad response' }, `${host}: the warning says where and why`);
        }
        t.same(sk.sink.lines.filter((l) => l.event === 'upstream_broken_connection' && !String(l.host).startsWith('h1-')), [], 'only the upstreams that sent extra bytes are named');
    });
    t.test('a failure before the first body byte gets every agent a 502, not a bare close', async (t) => {
        for (const host of ['h1-head-only.api.test', 'h2-one-write.api.test', 'h2-second-write.api.test']) {
            // A refusal keeps the agent's connection: half a second is long enough to see what it was sent.
            const h1 = await h1Get(host, '/h1', 500);
            t.match(h1.text, /^HTTP\/1\.1 502 [^]*x-sidekey-error: SIDEKEY_ERR_UPSTREAM_RESET/i, `${host}, HTTP/1.1 agent: a 502 with x-sidekey-error`);
            t.match(h1.text, host.startsWith('h2') ? /"message":"[^"]*breaks HTTP\/2 \(such as DATA beyond its content-length\)/ : /"message":"[^"]*closed the connection before a complete answer/, `${host}, HTTP/1.1 agent: the reason`);
            t.notMatch(h1.text, /hello|Smuggled/, `${host}, HTTP/1.1 agent: no byte of the body`);
            const h2 = await h2Get(host, '/h2');
            t.match(h2, { status: 502, error: 'SIDEKEY_ERR_UPSTREAM_RESET' }, `${host}, HTTP/2 agent: a 502 with x-sidekey-error`);
            t.notMatch(h2.body, /hello|Smuggled/, `${host}, HTTP/2 agent: no byte of the body`);
            for (const path of ['/h1', '/h2'])
                t.match(await onlyLine(t, host, path), { status: 502, error: 'SIDEKEY_ERR_UPSTREAM_RESET' }, `${host}${path}: audit line`);
        }
    });
    t.test('DATA past content-length after the declared bytes: those bytes, then the answer is cut', async (t) => {
        const host = 'h2-extra-later.api.test';
        const h1 = await h1Get(host, '/h1');
        t.match(h1.text, /^HTTP\/1\.1 200 [^]*\r\n\r\nhello$/, 'HTTP/1.1 agent: the head and the five bytes, nothing more');
        t.ok(h1.closed, 'HTTP/1.1 agent: then the connection was closed');
        const h2 = await h2Get(host, '/h2');
        t.same([h2.status, h2.body], [200, 'hello'], 'HTTP/2 agent: the head and the five bytes');
        t.not(h2.rstCode, 0, `HTTP/2 agent: then the stream was reset with an error (${h2.rstCode}), not ended`);
        for (const path of ['/h1', '/h2'])
            t.match(await onlyLine(t, host, path), { status: 200, error: 'SIDEKEY_ERR_UPSTREAM_RESET' }, `${path}: audit line`);
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=upstream-overlong-body.test.js.map