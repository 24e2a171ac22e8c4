import t from 'tap';
import { FLAG, FRAME, frame } from '../helpers/h2-frames.js';
import { dataFrame, headersFrame, rawH2Upstream, rstStreamFrame } from '../helpers/raw-h2-upstream.js';
import { h2ThroughProxy, startH2Sidekey } from '../helpers/h2.js';
import { noSecretsLogged } from '../helpers/sidekey.js';
import { basicAuth, openTunnel } from '../helpers/tunnels.js';
import { upstreamTrust } from '../helpers/upstream.js';
// Hostile and broken HTTP/2 upstreams against sidekey's own HTTP/2 client (src/forward/h2-sessions.ts),
// each written frame by frame over TLS, where Node's http2 server would not misbehave enough. What
// must hold: sidekey never crashes, a refusal before the response has a status and x-sidekey-error,
// and a response the upstream cut is cut for the agent too (HTTP/1.1: the connection closes before
// the body's end; HTTP/2: the stream is reset with an error code), never passed on as complete,
// with the error in the audit line.
const NO_ERROR = 0;
const REFUSED_STREAM = 7;
const CANCEL = 8;
const goaway = (lastStreamId, code) => {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(lastStreamId);
    payload.writeUInt32BE(code, 4);
    return frame(FRAME.GOAWAY, 0, 0, payload);
};
/** Requests each stand-in has seen, by host, and the connections they came on. */
const seen = new Map();
const note = (host, conn) => {
    const entry = seen.get(host) ?? { requests: 0, connections: new Set() };
    seen.set(host, entry);
    entry.connections.add(conn.socket);
    return ++entry.requests;
};
const answer = (conn, id, text) => conn.send(headersFrame(id, [[':status', '200'], ['content-length', String(text.length)]]), frame(FRAME.DATA, FLAG.END_STREAM, id, Buffer.from(text)));
/** How each stand-in answers every request. */
const UPSTREAMS = {
    // A status HTTP does not define: Node's HTTP/2 server refuses to send it (it threw, uncaught).
    'status600.api.test': (conn, id) => conn.send(headersFrame(id, [[':status', '600']], true)),
    // Part of a body, then the stream reset without an error code before END_STREAM.
    'rst-no-error.api.test': (conn, id) => conn.send(headersFrame(id, [[':status', '200']]), dataFrame(id, 'the first half'), rstStreamFrame(id, NO_ERROR)),
    'rst-cancel.api.test': (conn, id) => conn.send(headersFrame(id, [[':status', '200']]), dataFrame(id, 'the first half'), rstStreamFrame(id, CANCEL)),
    // Part of a sized body, then the TCP connection closed.
    'tcp-closed.api.test': (conn, id) => {
        conn.send(headersFrame(id, [[':status', '200'], ['content-length', '100']]), dataFrame(id, 'the first half'));
        setTimeout(() => conn.socket.destroy(), 50);
    },
    // 150 small header fields (1.6 KB): under the head limit, over Node's default of 128 fields.
    'many-fields.api.test': (conn, id) => conn.send(headersFrame(id, [[':status', '200'], ['content-length', '2'], ...Array.from({ length: 150 }, (_, i) => [`x-field-${i}`, 'v'])]), frame(FRAME.DATA, FLAG.END_STREAM, id, Buffer.from('ok'))),
    // Every other request refused unprocessed (REFUSED_STREAM), the next one answered.
    'refused-once.api.test': (conn, id) => (note('refused-once.api.test', conn) % 2 === 1 ? conn.send(rstStreamFrame(id, REFUSED_STREAM)) : answer(conn, id, 'second try')),
    // Every request refused unprocessed.
    'refused-always.api.test': (conn, id) => {
        note('refused-always.api.test', conn);
        conn.send(rstStreamFrame(id, REFUSED_STREAM));
    },
    // A graceful shutdown: GOAWAY naming no stream processed, then the connection closed; a new
    // connection's requests are answered.
    'goaway.api.test': (conn, id) => {
        const entry = seen.get('goaway.api.test');
        const fresh = entry === undefined || !entry.connections.has(conn.socket);
        const n = note('goaway.api.test', conn);
        if (fresh && n % 2 === 1) {
            conn.send(goaway(0, NO_ERROR));
            setTimeout(() => conn.socket.end(), 20);
        }
        else
            answer(conn, id, 'after goaway');
    },
    // A complete answer, and a reset after it (RFC 9113 section 8.1 allows NO_ERROR then): whole.
    'rst-after-end.api.test': (conn, id) => conn.send(headersFrame(id, [[':status', '200'], ['content-length', '5']]), frame(FRAME.DATA, FLAG.END_STREAM, id, Buffer.from('whole')), rstStreamFrame(id, NO_ERROR)),
};
t.test('hostile HTTP/2 upstreams', async (t) => {
    const trust = await upstreamTrust();
    const ports = {};
    for (const [host, answer] of Object.entries(UPSTREAMS)) {
        const upstream = await rawH2Upstream(trust, host, answer);
        t.teardown(() => upstream.close());
        ports[host] = upstream.port;
    }
    const routes = Object.keys(UPSTREAMS)
        .map((host) => `  - { name: ${host.split('.')[0]}, host: ${host}, credential: openai, addresses: [127.0.0.1] }\n`)
        .join('');
    const sk = await startH2Sidekey(t, trust, routes, ports);
    const proxyPort = Number(new URL(sk.proxyUrl).port);
    const auth = () => basicAuth('agent', sk.runTokens.mint('agent').token);
    const h2Agent = (host) => h2ThroughProxy(proxyPort, `${host}:443`, { auth: auth(), ca: sk.ca.certPem });
    /** One GET from an HTTP/2 agent: the head, the body and the stream's reset code (0: ended cleanly). */
    const h2Get = async (host, path) => {
        const session = await h2Agent(host);
        try {
            return await new Promise((resolve) => {
                const stream = session.request({ ':method': 'GET', ':path': path });
                let head = {};
                const chunks = [];
                stream.on('response', (h) => (head = h));
                stream.on('data', (c) => chunks.push(c));
                stream.on('error', () => undefined);
                stream.on('close', () => resolve({ status: Number(head[':status']), error: head['x-sidekey-error'], body: Buffer.concat(chunks).toString(), rstCode: stream.rstCode ?? -1 }));
            });
        }
        finally {
            session.destroy();
        }
    };
    /** One GET from an HTTP/1.1 agent in a CONNECT tunnel: what arrived before the connection closed (or 2 s passed). */
    const h1Get = async (host, path) => {
        const tunnel = await openTunnel(proxyPort, `${host}:443`, { auth: auth(), tls: { ca: sk.ca.certPem } });
        const chunks = [];
        tunnel.stream.on('data', (c) => chunks.push(c));
        tunnel.stream.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        await Promise.race([tunnel.closed, new Promise((r) => setTimeout(r, 2000))]);
        const result = { text: Buffer.concat(chunks).toString('latin1'), closed: tunnel.isClosed() };
        tunnel.socket.destroy();
        return result;
    };
    t.test('a status over 599 is refused for every agent (502, saying why), sidekey goes on', async (t) => {
        const r = await h2Get('status600.api.test', '/odd-status');
        t.equal(r.status, 502);
        t.equal(r.error, 'SIDEKEY_ERR_UPSTREAM_RESET');
        const line = await sk.sink.waitForAudit((a) => a.path === '/odd-status');
        t.equal(line.error, 'SIDEKEY_ERR_UPSTREAM_RESET', 'the audit line has the error');
        t.match(r.body, /answered with status 600, which HTTP does not define/, 'the refusal says why');
        const h1 = await h1Get('status600.api.test', '/odd-status-h1');
        t.match(h1.text, /^HTTP\/1\.1 502 [^]*x-sidekey-error: SIDEKEY_ERR_UPSTREAM_RESET/i, 'an HTTP/1.1 agent gets the same refusal, not the 600');
        t.equal((await h2Get('rst-after-end.api.test', '/after-odd-status')).status, 200, 'sidekey still serves');
    });
    for (const [host, how] of [
        ['rst-no-error.api.test', 'RST_STREAM NO_ERROR'],
        ['rst-cancel.api.test', 'RST_STREAM CANCEL'],
        ['tcp-closed.api.test', 'the TCP connection closed'],
    ]) {
        t.test(`a response cut by ${how} before END_STREAM reaches the agent cut`, async (t) => {
            const h2 = await h2Get(host, '/cut-h2');
            t.equal(h2.status, 200, 'HTTP/2 agent: the status had gone out');
            t.not(h2.rstCode, 0, `HTTP/2 agent: the stream was reset with an error code (${h2.rstCode}), not ended`);
            const h2Line = await sk.sink.waitForAudit((a) => a.host === host && a.path === '/cut-h2');
            t.equal(h2Line.error, 'SIDEKEY_ERR_UPSTREAM_RESET', 'its audit line has the error');
            const h1 = await h1Get(host, '/cut-h1');
            t.match(h1.text, /^HTTP\/1\.1 200 /, 'HTTP/1.1 agent: the status had gone out');
            t.ok(h1.closed, 'HTTP/1.1 agent: the connection was closed');
            t.notMatch(h1.text, /\r\n0\r\n\r\n$/, 'no last chunk: the body does not read as complete');
            const h1Line = await sk.sink.waitForAudit((a) => a.host === host && a.path === '/cut-h1');
            t.equal(h1Line.error, 'SIDEKEY_ERR_UPSTREAM_RESET', 'its audit line has the error');
        });
    }
    t.test('a reset after a complete response (END_STREAM, then RST_STREAM NO_ERROR) leaves it whole', async (t) => {
        const h2 = await h2Get('rst-after-end.api.test', '/whole-h2');
        t.same([h2.status, h2.body, h2.rstCode], [200, 'whole', 0]);
        const h1 = await h1Get('rst-after-end.api.test', '/whole-h1');
        t.match(h1.text, /^HTTP\/1\.1 200 [^]*\r\n\r\nwhole$/);
        t.notOk(h1.closed, 'the agent\'s connection is kept');
        const line = await sk.sink.waitForAudit((a) => a.path === '/whole-h1');
        t.equal(line.error, null);
    });
    t.test('a response head of 150 small fields is passed on, as on HTTP/1.1', async (t) => {
        const h1 = await h1Get('many-fields.api.test', '/many-fields');
        t.match(h1.text, /^HTTP\/1\.1 200 /);
        t.match(h1.text, /\r\nx-field-149: v\r\n/, 'the last field arrived');
        t.match(h1.text, /\r\n\r\nok$/);
    });
    t.test('a request refused unprocessed (REFUSED_STREAM, or above a GOAWAY\'s last stream) is sent once more (RFC 9113 section 8.7)', async (t) => {
        const h2 = await h2Get('refused-once.api.test', '/refused-h2');
        t.same([h2.status, h2.body, h2.rstCode], [200, 'second try', 0], 'HTTP/2 agent: the second try answers');
        const h1 = await h1Get('refused-once.api.test', '/refused-h1');
        t.match(h1.text, /^HTTP\/1\.1 200 [^]*\r\n\r\nsecond try$/, 'HTTP/1.1 agent: the same');
        t.equal(seen.get('refused-once.api.test')?.requests, 4, 'each sent twice');
        t.equal((await sk.sink.waitForAudit((a) => a.path === '/refused-h1')).error, null);
        const g = await h2Get('goaway.api.test', '/goaway-h2');
        t.same([g.status, g.body], [200, 'after goaway'], 'after a GOAWAY naming it unprocessed, on a new connection');
        t.equal(seen.get('goaway.api.test')?.connections.size, 2, 'the retry went on a new connection');
        const always = await h2Get('refused-always.api.test', '/refused-always');
        t.equal(always.status, 502, 'refused twice: a 502');
        t.equal(always.error, 'SIDEKEY_ERR_UPSTREAM_RESET');
        t.equal(seen.get('refused-always.api.test')?.requests, 2, 'sent twice, never a third time');
    });
    t.test('a streamed request body is not sent again: the refusal reaches the agent', async (t) => {
        const before = seen.get('refused-always.api.test')?.requests ?? 0;
        const tunnel = await openTunnel(proxyPort, 'refused-always.api.test:443', { auth: auth(), tls: { ca: sk.ca.certPem } });
        const chunks = [];
        tunnel.stream.on('data', (c) => chunks.push(c));
        tunnel.stream.write('POST /streamed HTTP/1.1\r\nHost: refused-always.api.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
        setTimeout(() => tunnel.stream.write('0\r\n\r\n'), 100);
        const line = await sk.sink.waitForAudit((a) => a.path === '/streamed');
        await new Promise((r) => setTimeout(r, 100));
        tunnel.socket.destroy();
        t.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 502 [^]*x-sidekey-error: SIDEKEY_ERR_UPSTREAM_RESET/i);
        t.equal(line.error, 'SIDEKEY_ERR_UPSTREAM_RESET');
        t.equal((seen.get('refused-always.api.test')?.requests ?? 0) - before, 1, 'sent once');
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=h2-upstream-hostile.test.js.map