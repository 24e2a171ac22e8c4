import { createServer as createNetServer } from 'node:net';
import { TLSSocket } from 'node:tls';
import t from 'tap';
import { FLAG, FRAME, frame, literal, rawH2, requestBlock } from '../helpers/h2-frames.js';
import { h2ThroughProxy, startH2Sidekey, startH2Upstream } from '../helpers/h2.js';
import { pollFor } from '../helpers/poll.js';
import { noSecretsLogged, SECRETS } from '../helpers/sidekey.js';
import { basicAuth, openTunnel } from '../helpers/tunnels.js';
import { upstreamTrust } from '../helpers/upstream.js';
// A hostile agent speaking HTTP/2 to sidekey inside an intercepted tunnel, using what HTTP/2's
// encoding allows and HTTP/1.1's does not: a `:method` in any case or any token, CONNECT streams,
// pseudo-headers and field names HTTP/1.1 has no place for, fields split over CONTINUATION frames
// in never-indexed literals. Each rule must hold as it does for an HTTP/1.1 agent: a method deny is
// not walked past, a managed secret does not leave, and every refusal is a status with
// x-sidekey-error and an audit line (or, for what nghttp2 itself refuses, a reset stream that never
// reaches the upstream), and a stream reset before its END_STREAM (mid-body, or while the upstream
// connection is dialled) never reaches the upstream as a complete request. The upstreams:
// `h2.api.test` (Node's HTTP/2 server), `loose.api.test`, an HTTP/1.1 server that, like Werkzeug or
// Express, reads a method whatever its letter case, and `slow.api.test`, one slow to handshake.
/**
 * An HTTP/1.1 upstream over TLS that records the request line of each complete request (its head,
 * and its body to the end its content-length or last chunk marks) and answers 200 with a body of
 * `answerBytes`. With `handshakeDelayMs`, each connection waits that long before its TLS handshake
 * (an upstream slow to connect).
 */
async function startLooseH1(trust, host, options = {}) {
    const lines = [];
    const context = await trust.cert(host);
    const sockets = new Set();
    const serve = (socket) => {
        socket.on('error', () => undefined);
        let text = '';
        socket.on('data', (chunk) => {
            text += chunk.toString('latin1');
            const end = text.indexOf('\r\n\r\n');
            if (end < 0)
                return;
            const head = text.slice(0, end).toLowerCase();
            const body = text.slice(end + 4);
            const length = /\r\ncontent-length: *(\d+)/.exec(head);
            const complete = /\r\ntransfer-encoding: *chunked/.test(head) ? /(?:^|\r\n)0\r\n\r\n$/.test(body) : body.length >= Number(length?.[1] ?? 0);
            if (!complete)
                return;
            lines.push(text.slice(0, text.indexOf('\r\n')));
            const answer = 'x'.repeat(options.answerBytes ?? 2);
            socket.end(`HTTP/1.1 200 OK\r\ncontent-length: ${answer.length}\r\nconnection: close\r\n\r\n${answer}`);
        });
    };
    const server = createNetServer((raw) => {
        sockets.add(raw);
        raw.on('close', () => sockets.delete(raw));
        raw.on('error', () => undefined);
        setTimeout(() => {
            if (!raw.destroyed)
                serve(new TLSSocket(raw, { isServer: true, ...context, ALPNProtocols: ['http/1.1'] }));
        }, options.handshakeDelayMs ?? 0);
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    return {
        port: server.address().port,
        lines,
        close: () => new Promise((r) => {
            for (const s of sockets)
                s.destroy();
            server.close(() => r());
        }),
    };
}
/** One stream: its status, x-sidekey-error, or the code it was reset with. */
function send(session, headers) {
    return new Promise((resolve) => {
        const stream = session.request(headers, { endStream: true });
        let head = {};
        stream.on('response', (h) => (head = h));
        stream.resume();
        stream.on('end', () => resolve({ status: Number(head[':status']), error: head['x-sidekey-error'], reset: null }));
        stream.on('error', (e) => resolve({ status: 0, error: undefined, reset: e.message }));
    });
}
/** A never-indexed literal with a new name (RFC 7541 section 6.2.3): what a client marks sensitive. */
function neverIndexed(name, value) {
    const str = (s) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
    return Buffer.concat([Buffer.from([0x10]), str(name), str(value)]);
}
t.test('hostile HTTP/2 agents', async (t) => {
    const trust = await upstreamTrust();
    const h2 = await startH2Upstream(trust, 'h2.api.test');
    const loose = await startLooseH1(trust, 'loose.api.test');
    const slow = await startLooseH1(trust, 'slow.api.test', { handshakeDelayMs: 400, answerBytes: 1 << 20 });
    t.teardown(() => Promise.all([h2.close(), loose.close(), slow.close()]));
    const sk = await startH2Sidekey(t, trust, `  - { name: h2-no-delete, host: h2.api.test, methods: [DELETE], action: deny }
  - { name: h2-no-admin, host: h2.api.test, paths: ['/v1/admin/**'], action: deny }
  - { name: h2-buffered, host: h2.api.test, paths: ['/buffered/**'], credential: openai, addresses: [127.0.0.1], conditions: { max_body_bytes: 1000 } }
  - { name: h2, host: h2.api.test, credential: openai, addresses: [127.0.0.1] }
  - { name: loose-no-delete, host: loose.api.test, methods: [DELETE], action: deny }
  - { name: loose, host: loose.api.test, credential: openai, addresses: [127.0.0.1] }
  - { name: slow, host: slow.api.test, addresses: [127.0.0.1] }
`, { 'h2.api.test': h2.port, 'loose.api.test': loose.port, 'slow.api.test': slow.port });
    const port = Number(new URL(sk.proxyUrl).port);
    const auth = (workload) => basicAuth(workload, sk.runTokens.mint(workload).token);
    const connect = (host, workload = 'agent') => h2ThroughProxy(port, `${host}:443`, { auth: auth(workload), ca: sk.ca.certPem });
    const raw = (workload) => rawH2(port, 'h2.api.test:443', { auth: auth(workload), ca: sk.ca.certPem });
    const upstreamMethods = () => [...h2.seen.map((s) => s.method), ...loose.lines.map((l) => l.split(' ')[0])];
    t.test('a :method HTTP/1.1 could not carry is refused, and never walks past a method deny', async (t) => {
        // HTTP/2 allows any token in `:method`; policy matches methods exactly (they are case-sensitive),
        // so a lowercase `delete` passed a `methods: [DELETE]` deny to the allow after it, and went up as
        // written, where servers that read methods without case ran a DELETE. HTTP/1.1's parser refuses
        // such a request line with 400; so does sidekey's HTTP/2 server now.
        for (const host of ['h2.api.test', 'loose.api.test']) {
            const session = await connect(host);
            t.teardown(() => session.close());
            t.match(await send(session, { ':method': 'DELETE', ':path': '/v1/items/1' }), { status: 403, error: 'SIDEKEY_ERR_ROUTE_DENIED' }, `${host}: DELETE is denied`);
            for (const method of ['delete', 'Delete', 'dELETE', 'DELET', 'X-DELETE']) {
                const before = upstreamMethods().length;
                t.match(await send(session, { ':method': method, ':path': `/v1/items/${method}` }), { status: 400, error: 'SIDEKEY_ERR_BAD_REQUEST' }, `${host}: :method ${method} refused`);
                t.same(upstreamMethods().slice(before), [], `${host}: ${method} never reached the upstream`);
            }
            t.match(await send(session, { ':method': 'PATCH', ':path': '/v1/items/2' }), { status: 200 }, `${host}: a standard method is forwarded`);
        }
        const line = await sk.sink.waitForAudit((a) => a.protocol === 'h2' && a.error === 'SIDEKEY_ERR_BAD_REQUEST' && a.host === 'loose.api.test');
        t.match(line, { status: 400, decision: 'deny', method: null, workload: 'agent', port: 443 }, 'an audit line names the destination and caller, not the method');
        t.notOk(upstreamMethods().some((m) => m.toUpperCase() === 'DELETE'), 'no upstream ever ran a DELETE');
    });
    t.test('a managed secret sent as the :method never leaves', async (t) => {
        // The head scan reads the target and every field, not the method: `:method: sk-...` went up as
        // the request's method, and onto the audit line (the console, alerts) as its method.
        for (const host of ['h2.api.test', 'loose.api.test']) {
            const session = await connect(host, `method-secret-${host}`);
            t.teardown(() => session.close());
            t.match(await send(session, { ':method': SECRETS.OPENAI, ':path': '/v1/method-secret' }), { status: 400, error: 'SIDEKEY_ERR_BAD_REQUEST' }, host);
            const line = await sk.sink.waitForAudit((a) => a.workload === `method-secret-${host}` && a.event === 'request');
            t.equal(line.method, null, 'the audit line does not carry it');
        }
        t.notOk(upstreamMethods().some((m) => m.includes(SECRETS.OPENAI)), 'no upstream received it');
    });
    t.test('a CONNECT stream is refused with a reason and an audit line', async (t) => {
        // Node's compatibility API answers a CONNECT stream 405 itself when no one listens: no
        // x-sidekey-error, no audit line. Extended CONNECT (`:protocol`) is not offered: nghttp2 resets it.
        const session = await connect('h2.api.test', 'connect-stream');
        t.teardown(() => session.close());
        const before = h2.seen.length;
        t.match(await send(session, { ':method': 'CONNECT', ':authority': 'evil.test:443' }), { status: 400, error: 'SIDEKEY_ERR_BAD_REQUEST' });
        const line = await sk.sink.waitForAudit((a) => a.workload === 'connect-stream' && a.event === 'request');
        t.match(line, { method: 'CONNECT', status: 400, error: 'SIDEKEY_ERR_BAD_REQUEST', host: 'h2.api.test', protocol: 'h2' });
        t.match(await send(session, { ':method': 'GET', ':path': '/v1/after-connect' }), { status: 200 }, 'the connection serves on');
        t.equal(h2.seen.length - before, 1, 'only the GET went up');
    });
    t.test('an Expect other than 100-continue is refused with a reason and an audit line, on HTTP/2 and HTTP/1.1', async (t) => {
        // Node answered both 417 itself: no x-sidekey-error, no reason, no audit line.
        const session = await connect('h2.api.test', 'expect-h2');
        t.teardown(() => session.close());
        const before = h2.seen.length;
        t.match(await send(session, { ':method': 'GET', ':path': '/v1/expect-h2', expect: 'something-else' }), { status: 400, error: 'SIDEKEY_ERR_BAD_REQUEST' }, 'HTTP/2');
        t.match(await sk.sink.waitForAudit((a) => a.path === '/v1/expect-h2'), { status: 400, error: 'SIDEKEY_ERR_BAD_REQUEST', protocol: 'h2' });
        t.match(await send(session, { ':method': 'POST', ':path': '/v1/continue', expect: '100-continue' }), { status: 200 }, '100-continue goes on');
        const tunnel = await openTunnel(port, 'h2.api.test:443', { auth: auth('expect-h1'), tls: { ca: sk.ca.certPem } });
        t.teardown(() => tunnel.socket.destroy());
        const answer = await tunnel.get('/v1/expect-h1', { expect: 'something-else' });
        t.match(answer, /^HTTP\/1\.1 400 [^]*x-sidekey-error: SIDEKEY_ERR_BAD_REQUEST/i, 'HTTP/1.1');
        t.match(await sk.sink.waitForAudit((a) => a.path === '/v1/expect-h1'), { status: 400, error: 'SIDEKEY_ERR_BAD_REQUEST' });
        t.same(h2.seen.slice(before).map((s) => s.path), ['/v1/continue'], 'only the 100-continue request went up');
    });
    t.test('raw non-ASCII bytes in the path are refused on HTTP/2 as on HTTP/1.1; percent-encoded ones go up encoded once', async (t) => {
        // Node's HTTP/1.1 parser refuses a byte over 0x7E in the request target (400); nghttp2 passes
        // it in :path, and Node hands it on as latin1 text, so the UTF-8 of "é" (C3 A9) was encoded as
        // two characters, and went up double-encoded as /caf%C3%83%C2%A9.
        const tunnel = await openTunnel(port, 'h2.api.test:443', { auth: auth('raw-path-h1'), tls: { ca: sk.ca.certPem } });
        t.teardown(() => tunnel.socket.destroy());
        const chunks = [];
        tunnel.stream.on('data', (c) => chunks.push(c));
        tunnel.stream.write(Buffer.concat([Buffer.from('GET /v1/caf'), Buffer.from('é'), Buffer.from(' HTTP/1.1\r\nHost: h2.api.test\r\n\r\n')]));
        await pollFor(() => Buffer.concat(chunks).toString('latin1'), (text) => text.includes('}'), 5000);
        const h1 = Buffer.concat(chunks).toString('latin1');
        t.match(h1, /^HTTP\/1\.1 400 [^]*x-sidekey-error: SIDEKEY_ERR_BAD_REQUEST/i, 'HTTP/1.1: 400');
        t.match(h1, /percent-encode the UTF-8 bytes/, 'HTTP/1.1: the reason says what to send instead');
        t.match(await sk.sink.waitForAudit((a) => a.workload === 'raw-path-h1' && a.event === 'request'), { status: 400, error: 'SIDEKEY_ERR_BAD_REQUEST', host: 'h2.api.test' }, 'HTTP/1.1: an audit line');
        const conn = await raw('raw-path-h2');
        t.teardown(() => conn.socket.destroy());
        const before = h2.seen.length;
        // The refusal's JSON body travels in DATA frames as it is.
        let text = '';
        conn.socket.on('data', (c) => (text += c.toString('latin1')));
        conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, requestBlock('h2.api.test', '/v1/café')));
        t.ok(await pollFor(() => conn.answered.has(1), (done) => done, 5000), 'HTTP/2: the stream is answered');
        await pollFor(() => text, (got) => got.includes('percent-encode'), 2000);
        t.match(text, /percent-encode the UTF-8 bytes/, 'HTTP/2: the refusal says what to send instead');
        t.match(await sk.sink.waitForAudit((a) => a.workload === 'raw-path-h2' && a.event === 'request'), { status: 400, error: 'SIDEKEY_ERR_BAD_REQUEST', host: 'h2.api.test', protocol: 'h2', path: null }, 'HTTP/2: an audit line, without the raw path');
        t.equal(h2.seen.length, before, 'HTTP/2: nothing went up');
        const session = await connect('h2.api.test', 'encoded-path');
        t.teardown(() => session.close());
        t.match(await send(session, { ':method': 'GET', ':path': '/v1/caf%C3%A9' }), { status: 200 }, 'a percent-encoded path is forwarded');
        t.equal(h2.seen.at(-1)?.path, '/v1/caf%C3%A9', 'encoded once');
    });
    t.test('what nghttp2 refuses in a head never reaches the upstream, and the connection serves on', async (t) => {
        // Each a malformed request (RFC 9113 section 8.2 and 8.3): the stream is reset, alone.
        const heads = {
            'an uppercase field name': requestBlock('h2.api.test', '/r/upper', [literal('X-Foo', 'a')]),
            'connection': requestBlock('h2.api.test', '/r/connection', [literal('connection', 'close')]),
            'keep-alive': requestBlock('h2.api.test', '/r/keep-alive', [literal('keep-alive', '5')]),
            'proxy-connection': requestBlock('h2.api.test', '/r/proxy-connection', [literal('proxy-connection', 'keep-alive')]),
            'transfer-encoding': requestBlock('h2.api.test', '/r/te-chunked', [literal('transfer-encoding', 'chunked')]),
            'upgrade': requestBlock('h2.api.test', '/r/upgrade', [literal('upgrade', 'websocket')]),
            'te other than trailers': requestBlock('h2.api.test', '/r/te', [literal('te', 'gzip')]),
            'a second :path': requestBlock('h2.api.test', '/r/path-1', [literal(':path', '/v1/admin/x')]),
            'a second :authority': Buffer.concat([literal(':method', 'GET'), literal(':scheme', 'https'), literal(':authority', 'h2.api.test'), literal(':authority', 'evil.test'), literal(':path', '/r/authority-2')]),
            'a pseudo-header after a field': Buffer.concat([literal(':method', 'GET'), literal(':scheme', 'https'), literal(':path', '/r/late'), literal('x-a', 'b'), literal(':authority', 'evil.test')]),
            'an unknown pseudo-header': requestBlock('h2.api.test', '/r/unknown', [literal(':host', 'evil.test')]),
            'extended CONNECT': Buffer.concat([literal(':method', 'CONNECT'), literal(':protocol', 'websocket'), literal(':scheme', 'https'), literal(':authority', 'h2.api.test'), literal(':path', '/r/ws')]),
            'two host fields and no :authority': Buffer.concat([literal(':method', 'GET'), literal(':scheme', 'https'), literal(':path', '/r/two-hosts'), literal('host', 'evil.test'), literal('host', 'h2.api.test')]),
            ':path in absolute form': requestBlock('h2.api.test', 'https://evil.test/r/absolute'),
            ':authority with user info': requestBlock('u:p@h2.api.test', '/r/userinfo'),
        };
        const conn = await raw('malformed');
        t.teardown(() => conn.socket.destroy());
        const before = h2.seen.length;
        let id = 1;
        for (const [what, block] of Object.entries(heads)) {
            conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, block));
            t.ok(await pollFor(() => conn.reset.has(id) || conn.answered.has(id), (done) => done, 5000), `${what}: the stream ended`);
            t.equal(conn.reset.get(id), 1, `${what}: reset with PROTOCOL_ERROR`);
            id += 2;
        }
        conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, requestBlock('h2.api.test', '/r/after')));
        await pollFor(() => h2.seen.length - before, (n) => n > 0, 5000);
        t.same(h2.seen.slice(before).map((s) => s.path), ['/r/after'], 'only the well-formed request went up');
        t.equal(conn.goaway(), null, 'no GOAWAY: each was a stream error');
        // nghttp2 reset them before sidekey read them: the ids skipped between two streams handed over
        // get one audit line (a run of ids, however long, is one line).
        const count = Object.keys(heads).length;
        t.match(await sk.sink.waitForAudit((a) => a.workload === 'malformed' && a.unread_streams !== undefined), { event: 'request', protocol: 'h2', decision: 'deny', reason: 'stream-reset-unread', error: 'SIDEKEY_ERR_BAD_REQUEST', host: 'h2.api.test', port: 443, method: null, path: null, status: null, h2_stream: 1, unread_streams: count }, 'the streams nghttp2 reset have an audit line: the run of ids, in the tunnel\'s name');
        t.equal(sk.sink.audits.filter((a) => a.workload === 'malformed' && a.unread_streams !== undefined).length, 1, 'one line for the run');
        t.match(await sk.sink.waitForAudit((a) => a.workload === 'malformed' && a.path === '/r/after'), { status: 200, protocol: 'h2' }, 'and the stream after it its own');
    });
    t.test('a stream nghttp2 resets after the last one handed over is audited when the connection ends', async (t) => {
        const conn = await raw('malformed-last');
        conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, requestBlock('h2.api.test', '/r/first')));
        t.ok(await pollFor(() => conn.answered.has(1), (done) => done, 5000), 'the first stream is answered');
        conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 3, requestBlock('h2.api.test', '/r/upper', [literal('X-Foo', 'a')])));
        conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 5, requestBlock('h2.api.test', '/r/upper', [literal('X-Foo', 'b')])));
        t.ok(await pollFor(() => conn.reset.has(5), (done) => done, 5000), 'the malformed streams are reset');
        conn.socket.end();
        t.match(await sk.sink.waitForAudit((a) => a.workload === 'malformed-last' && a.unread_streams !== undefined), { protocol: 'h2', error: 'SIDEKEY_ERR_BAD_REQUEST', reason: 'stream-reset-unread', h2_stream: 3, unread_streams: 2 }, 'nghttp2\'s last processed stream names them');
    });
    t.test('a field value holding a byte HTTP forbids is never forwarded, and never carries a secret out', async (t) => {
        // RFC 9113 section 8.2.1 makes NUL, CR and LF in a value malformed; RFC 9110 section 5.5 allows
        // no other control byte (DEL among them) either. An HTTP/1.1 agent's parser refuses all of
        // them with 400. On HTTP/2, nghttp2 (as Node runs it) drops such a field before sidekey sees
        // it, without a word: the request is decided and forwarded without it (docs/http2.md).
        const bytes = { NUL: '\x00', CR: '\r', LF: '\n', DEL: '\x7f', 'a C0 control': '\x01' };
        const conn = await raw('field-bytes');
        t.teardown(() => conn.socket.destroy());
        const before = h2.seen.length;
        let id = 1;
        for (const [what, byte] of Object.entries(bytes)) {
            for (const value of [`a${byte}b`, `${SECRETS.OPENAI}${byte}`]) {
                conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, requestBlock('h2.api.test', `/r/field-${id}`, [literal('x-field', value)])));
                t.ok(await pollFor(() => conn.reset.has(id) || conn.answered.has(id), (done) => done, 5000), `${what}: the stream ended`);
                id += 2;
            }
        }
        await new Promise((r) => setTimeout(r, 200));
        const went = h2.seen.slice(before);
        t.same(went.filter((s) => s.headers['x-field'] !== undefined).map((s) => s.path), [], 'no request went up with the field');
        const carried = went.flatMap((s) => Object.entries(s.headers)).filter(([name, value]) => name !== 'authorization' && String(value).includes(SECRETS.OPENAI));
        t.same(carried, [], 'no secret went up but the credential sidekey injected');
        conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, requestBlock('h2.api.test', '/r/field-after')));
        await pollFor(() => h2.seen.some((s) => s.path === '/r/field-after'), (done) => done, 5000);
        t.ok(h2.seen.some((s) => s.path === '/r/field-after'), 'the connection serves on');
    });
    t.test('the tunnel wins on every stream, however the destination is spelled', async (t) => {
        const session = await connect('h2.api.test', 'authority');
        t.teardown(() => session.close());
        const before = h2.seen.length;
        t.match(await send(session, { ':method': 'GET', ':path': '/v1/first' }), { status: 200 }, 'an allowed stream');
        for (const other of ['evil.test', 'h2.api.test:8443', 'h2.api.test.evil.test', 'evil.test:443']) {
            t.match(await send(session, { ':method': 'GET', ':path': '/v1/other', ':authority': other }), { status: 421, error: 'SIDEKEY_ERR_HOST_MISMATCH' }, `:authority ${other} after an allowed stream`);
            t.match(await send(session, { ':method': 'GET', ':path': '/v1/other', host: other }), { status: 421, error: 'SIDEKEY_ERR_HOST_MISMATCH' }, `host ${other} beside :authority`);
        }
        for (const same of ['H2.API.TEST', 'h2.api.test.', 'h2.api.test:443']) {
            t.match(await send(session, { ':method': 'GET', ':path': '/v1/same', ':authority': same }), { status: 200 }, `:authority ${same} is the tunnel's destination`);
        }
        t.same(new Set(h2.seen.slice(before).map((s) => s.path)), new Set(['/v1/first', '/v1/same']), 'nothing else went up');
        t.ok(h2.seen.slice(before).every((s) => s.headers[':authority'] === 'h2.api.test'), 'and each with the decided authority');
    });
    t.test('path and method rules hold on HTTP/2 as on HTTP/1.1', async (t) => {
        const session = await connect('h2.api.test', 'paths');
        t.teardown(() => session.close());
        const before = h2.seen.length;
        for (const path of ['/v1/public/../admin/x', '/V1/ADMIN/x', '/v1//admin/x', '/v1/%61dmin/x', '/v1/admin.json']) {
            t.match(await send(session, { ':method': 'GET', ':path': path }), { status: 403, error: 'SIDEKEY_ERR_ROUTE_DENIED' }, path);
        }
        for (const path of ['/v1/%2e%2e/v1/admin/x', '/v1/x%2F..%2Fadmin', '/v1\\admin/x']) {
            t.match(await send(session, { ':method': 'GET', ':path': path }), { status: 400, error: 'SIDEKEY_ERR_AMBIGUOUS_PATH' }, path);
        }
        t.match(await send(session, { ':method': 'OPTIONS', ':path': '*' }), { status: 400, error: 'SIDEKEY_ERR_BAD_REQUEST' }, 'OPTIONS *');
        t.match(await send(session, { ':method': 'POST', ':path': '/v1/x', 'x-http-method-override': 'DELETE' }), { status: 403, error: 'SIDEKEY_ERR_ROUTE_DENIED' }, 'an override naming a denied method');
        t.match(await send(session, { ':method': 'GET', ':path': '/v1/x', 'x-original-url': '/v1/admin/x' }), { status: 400, error: 'SIDEKEY_ERR_AMBIGUOUS_PATH' }, 'x-original-url');
        t.same(h2.seen.slice(before), [], 'none went up');
    });
    t.test('a managed secret split over CONTINUATION frames in a never-indexed literal is found', async (t) => {
        const conn = await raw('continuation-secret');
        t.teardown(() => conn.socket.destroy());
        const before = h2.seen.length;
        const block = requestBlock('h2.api.test', '/r/continuation-secret', [neverIndexed('x-note', `before ${SECRETS.OPENAI} after`)]);
        const cut = block.indexOf(Buffer.from(SECRETS.OPENAI)) + 6;
        conn.send(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, block.subarray(0, cut)), frame(FRAME.CONTINUATION, 0, 1, block.subarray(cut, cut + 3)), frame(FRAME.CONTINUATION, FLAG.END_HEADERS, 1, block.subarray(cut + 3)));
        const line = await sk.sink.waitForAudit((a) => a.workload === 'continuation-secret' && a.event === 'request');
        t.match(line, { status: 403, error: 'SIDEKEY_ERR_SECRET_DETECTED', protocol: 'h2' });
        t.equal(h2.seen.length, before, 'nothing went up');
    });
    t.test('a managed secret in a field name is found', async (t) => {
        const session = await connect('h2.api.test', 'name-secret');
        t.teardown(() => session.close());
        const before = h2.seen.length;
        t.match(await send(session, { ':method': 'GET', ':path': '/v1/name-secret', [`x-${SECRETS.OPENAI}`]: '1' }), { status: 403, error: 'SIDEKEY_ERR_SECRET_DETECTED' });
        t.equal(h2.seen.length, before, 'nothing went up');
    });
    t.test('a managed secret in request trailers never goes up, with or without a body before them', async (t) => {
        for (const body of ['some body', null]) {
            const workload = `trailers-${body === null ? 'no-body' : 'body'}`;
            const session = await connect('h2.api.test', workload);
            t.teardown(() => session.close());
            const path = `/v1/${workload}`;
            const stream = session.request({ ':method': 'POST', ':path': path }, { waitForTrailers: true });
            stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': SECRETS.OPENAI }));
            const answer = new Promise((resolve) => {
                stream.on('response', (h) => resolve(h['x-sidekey-error']));
                stream.on('error', () => resolve('reset'));
            });
            stream.resume();
            if (body === null)
                stream.end();
            else
                stream.end(body);
            t.equal(await answer, 'SIDEKEY_ERR_TRAILERS_REFUSED', workload);
            const line = await sk.sink.waitForAudit((a) => a.workload === workload && a.event === 'request');
            t.match(line, { status: 400, error: 'SIDEKEY_ERR_TRAILERS_REFUSED', protocol: 'h2' });
            t.notOk(h2.seen.some((s) => s.path === path), 'the upstream never received a complete request');
        }
    });
    t.test('a managed secret split over cookie fields is never whole upstream', async (t) => {
        // RFC 9113 section 8.2.3: cookie crumbs are joined with "; ", so a secret split across two
        // never reads whole (it is a split like any two fields); one whole in a crumb is found.
        const session = await connect('h2.api.test', 'cookies');
        t.teardown(() => session.close());
        const cut = 9;
        const r = await send(session, { ':method': 'GET', ':path': '/v1/cookies', cookie: [`a=${SECRETS.OPENAI.slice(0, cut)}`, SECRETS.OPENAI.slice(cut)] });
        if (r.status === 200) {
            const seen = h2.seen.find((s) => s.path === '/v1/cookies');
            t.notOk(JSON.stringify(seen.headers).replace(/authorization":"[^"]*"/, '').includes(SECRETS.OPENAI), 'the joined cookie does not hold it');
        }
        else
            t.match(r, { status: 403, error: 'SIDEKEY_ERR_SECRET_DETECTED' });
        const whole = await connect('h2.api.test', 'cookies-whole');
        t.teardown(() => whole.close());
        t.match(await send(whole, { ':method': 'GET', ':path': '/v1/cookies-whole', cookie: ['a=1', `b=${SECRETS.OPENAI}`] }), { status: 403, error: 'SIDEKEY_ERR_SECRET_DETECTED' }, 'a secret whole in a crumb');
    });
    t.test('a request body the agent cut short never reaches the upstream as complete', async (t) => {
        // Node's compatibility request ends when its stream closes, reset or not: a body read whole (a
        // route with max_body_bytes and no content-length) was decided on and sent up complete after
        // the agent reset its stream mid-body, and DATA that contradicts content-length (nghttp2 resets
        // the stream) went up to an HTTP/1.1 upstream as a complete empty body with content-length: 0.
        const post = (host, path, extra = []) => frame(FRAME.HEADERS, FLAG.END_HEADERS, 1, Buffer.concat([literal(':method', 'POST'), literal(':scheme', 'https'), literal(':authority', host), literal(':path', path), ...extra]));
        // An agent's reset is the agent going away (SIDEKEY_ERR_AGENT_GONE); DATA that contradicts
        // content-length is a malformed request (nghttp2 resets the stream with PROTOCOL_ERROR).
        const cases = [
            ['RST_STREAM CANCEL', 'h2.api.test', '/buffered/cancel', (conn) => conn.send(frame(FRAME.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8]))), 'SIDEKEY_ERR_AGENT_GONE'],
            ['RST_STREAM NO_ERROR', 'h2.api.test', '/buffered/no-error', (conn) => conn.send(frame(FRAME.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 0]))), 'SIDEKEY_ERR_AGENT_GONE'],
            ['RST_STREAM CANCEL, streamed', 'h2.api.test', '/v1/streamed-cancel', (conn) => conn.send(frame(FRAME.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8]))), 'SIDEKEY_ERR_AGENT_GONE'],
            ['DATA beyond content-length', 'loose.api.test', '/v1/content-length', (conn) => conn.send(frame(FRAME.DATA, FLAG.END_STREAM, 1, Buffer.from('def'))), 'SIDEKEY_ERR_BAD_REQUEST'],
        ];
        let n = 0;
        for (const [what, host, path, cut, error] of cases) {
            const workload = `cut-${n++}`;
            const conn = await rawH2(port, `${host}:443`, { auth: auth(workload), ca: sk.ca.certPem });
            t.teardown(() => conn.socket.destroy());
            conn.send(post(host, path, path === '/v1/content-length' ? [literal('content-length', '2')] : []), frame(FRAME.DATA, 0, 1, Buffer.from('abc')));
            // Let the head be decided and the body start on its way.
            await new Promise((r) => setTimeout(r, 200));
            cut(conn);
            const line = await sk.sink.waitForAudit((a) => a.workload === workload && a.event === 'request');
            t.not(line.status, 200, `${what}: the audit line does not say it was answered`);
            t.equal(line.error, error, `${what}: the audit line says why`);
            await new Promise((r) => setTimeout(r, 100));
            t.notOk(h2.seen.some((s) => s.path === path), `${what}: the HTTP/2 upstream never received a complete request`);
            t.notOk(loose.lines.some((l) => l.includes(path)), `${what}: the HTTP/1.1 upstream never received a complete request`);
        }
        t.equal(n, cases.length);
    });
    t.test('a stream reset while the upstream connection is dialled never goes up', async (t) => {
        // The forward stage aborted the upstream request on the agent's close only once undici had
        // started it: reset while the connection was still being dialled, the request went up anyway,
        // and its answer, written to a closed response, paused the upstream connection for good (a
        // connection leaked per request, and sidekey's shutdown waited on it).
        const conn = await rawH2(port, 'slow.api.test:443', { auth: auth('dial-reset'), ca: sk.ca.certPem });
        t.teardown(() => conn.socket.destroy());
        conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, requestBlock('slow.api.test', '/v1/dial-reset')));
        await new Promise((r) => setTimeout(r, 100));
        conn.send(frame(FRAME.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8])));
        const line = await sk.sink.waitForAudit((a) => a.workload === 'dial-reset' && a.event === 'request');
        t.match(line, { error: 'SIDEKEY_ERR_AGENT_GONE', status: 499 }, 'the agent went away, not the upstream');
        // Past the upstream's handshake, when the request would have arrived.
        await new Promise((r) => setTimeout(r, 800));
        t.same(slow.lines, [], 'the upstream never received the request');
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=h2-agent-hostile.test.js.map