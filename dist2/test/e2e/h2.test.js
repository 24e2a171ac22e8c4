import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { pollFor } from '../helpers/poll.js';
import { h2Request, h2ThroughProxy, startH2AndH1Upstreams, startH2Sidekey, startH2Upstream } from '../helpers/h2.js';
import { noSecretsLogged, SECRETS } from '../helpers/sidekey.js';
import { basicAuth } from '../helpers/tunnels.js';
import { upstreamTrust } from '../helpers/upstream.js';
// HTTP/2 through sidekey: an agent that picks h2 in ALPN inside an intercepted tunnel gets an
// HTTP/2 server; each stream is decided, injected and audited as one request. Upstream, sidekey
// offers h2 in ALPN and falls back to HTTP/1.1, so each side's protocol is independent.
/** Bytes each way in the large-body test: many flow-control windows, a few seconds at most. */
const LARGE = 16 * 1024 * 1024;
t.test('HTTP/2 agent and upstream', async (t) => {
    const trust = await upstreamTrust();
    const { h2api, h1api } = await startH2AndH1Upstreams(t, trust);
    const both = await startH2Upstream(trust, 'both.api.test', undefined, { allowHTTP1: true });
    t.teardown(() => both.close());
    // Streams: SSE with a pause between events, and large bodies each way with backpressure noted.
    const sseGapMs = 150;
    const pressure = { uploadBytes: 0, downloadBlocked: 0 };
    const streams = await startH2Upstream(trust, 'stream.api.test', (req, res) => {
        if (req.url === '/v1/events') {
            // Four events, one every sseGapMs, then the end.
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            const send = (n) => (n === 4 ? res.end('data: [DONE]\n\n') : res.write(`data: {"n":${n}}\n\n`, () => setTimeout(() => send(n + 1), sseGapMs)));
            send(0);
            return;
        }
        if (req.url === '/v1/upload') {
            // A slow reader: pause after each chunk, so the agent's side must wait on flow control.
            req.on('data', (c) => {
                pressure.uploadBytes += c.length;
                req.pause();
                setImmediate(() => req.resume());
            });
            req.on('end', () => res.end(JSON.stringify({ bytes: pressure.uploadBytes })));
            return;
        }
        // /v1/download: write until the agent's slow reading pushes back, then wait for drain.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        let left = LARGE;
        const more = () => {
            while (left > 0) {
                const n = Math.min(64 * 1024, left);
                left -= n;
                if (!res.write(Buffer.alloc(n, 1))) {
                    pressure.downloadBlocked++;
                    res.once('drain', more);
                    return;
                }
            }
            res.end();
        };
        req.resume();
        more();
    }, { raw: true });
    t.teardown(() => streams.close());
    const sk = await startH2Sidekey(t, trust, `  - name: h2
    host: h2.api.test
    credential: openai
    addresses: [127.0.0.1]
  - name: h1
    host: h1.api.test
    credential: openai
    addresses: [127.0.0.1]
  - name: streams
    host: stream.api.test
    credential: openai
    addresses: [127.0.0.1]
  - name: both-forced-h1
    host: both.api.test
    credential: openai
    addresses: [127.0.0.1]
    http2: false
`, { 'h2.api.test': h2api.port, 'h1.api.test': h1api.port, 'both.api.test': both.port, 'stream.api.test': streams.port });
    const { token } = sk.runTokens.mint('agent');
    const auth = basicAuth('agent', token);
    const port = Number(new URL(sk.proxyUrl).port);
    t.test('h2 agent to an h2 upstream: injected, one audit line per stream with protocol h2', async (t) => {
        const session = await h2ThroughProxy(port, 'h2.api.test:443', { auth, ca: sk.ca.certPem });
        t.teardown(() => session.close());
        const r = await h2Request(session, { ':method': 'POST', ':path': '/v1/chat', authorization: 'Bearer placeholder', 'content-type': 'application/json' }, '{"q":1}');
        t.equal(r.status, 200);
        t.match(JSON.parse(r.body.toString()), { httpVersion: '2.0', path: '/v1/chat', bytes: 7 });
        t.equal(h2api.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
        const line = await sk.sink.waitForAudit((a) => a.event === 'request' && a.path === '/v1/chat');
        t.match(line, { protocol: 'h2', scheme: 'https', host: 'h2.api.test', route: 'h2', decision: 'allow', status: 200, bytes_up: 7 });
        t.type(line.tunnel, 'string');
    });
    t.test('h2 agent to an HTTP/1.1-only upstream', async (t) => {
        const session = await h2ThroughProxy(port, 'h1.api.test:443', { auth, ca: sk.ca.certPem });
        t.teardown(() => session.close());
        const r = await h2Request(session, { ':method': 'GET', ':path': '/v1/models' });
        t.equal(r.status, 200);
        t.match(JSON.parse(r.body.toString()), { ok: true, path: '/v1/models' });
        t.equal(h1api.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
        t.equal(h1api.seen.at(-1).headers.host, 'h1.api.test');
    });
    t.test('HTTP/1.1 agent to an h2-only upstream', async (t) => {
        const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), requestTls: { ca: sk.ca.certPem } });
        t.teardown(() => dispatcher.close());
        const res = await request('https://h2.api.test/v1/from-h1', { dispatcher });
        t.equal(res.statusCode, 200);
        t.match(await res.body.json(), { httpVersion: '2.0', path: '/v1/from-h1' });
        const line = await sk.sink.waitForAudit((a) => a.path === '/v1/from-h1');
        t.equal(line.protocol, undefined, 'an HTTP/1.1 request carries no protocol field');
    });
    t.test('route http2: false keeps the upstream on HTTP/1.1', async (t) => {
        const session = await h2ThroughProxy(port, 'both.api.test:443', { auth, ca: sk.ca.certPem });
        t.teardown(() => session.close());
        const r = await h2Request(session, { ':method': 'GET', ':path': '/v1/forced' });
        t.equal(r.status, 200);
        t.equal(both.seen.at(-1).httpVersion, '1.1');
    });
    t.test('streams multiplex upstream: many at once share one h2 connection', async (t) => {
        const session = await h2ThroughProxy(port, 'h2.api.test:443', { auth, ca: sk.ca.certPem });
        t.teardown(() => session.close());
        const before = new Set();
        h2api.server.on('session', (s) => before.add(s));
        const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => h2Request(session, { ':method': 'GET', ':path': `/v1/many/${i}` })));
        t.same(new Set(answers.map((a) => a.status)), new Set([200]));
        const lines = await pollFor(() => sk.sink.audits.filter((a) => a.path?.startsWith('/v1/many/') === true), (l) => l.length === 64);
        t.equal(new Set(lines.map((a) => a.tunnel)).size, 1, 'all 64 streams came on one agent connection');
        t.ok(before.size <= 1, `the upstream saw ${before.size} new connection(s) for 64 requests`);
    });
    t.test('server-sent events over h2 arrive chunk by chunk', async (t) => {
        const session = await h2ThroughProxy(port, 'stream.api.test:443', { auth, ca: sk.ca.certPem });
        t.teardown(() => session.close());
        const stream = session.request({ ':method': 'GET', ':path': '/v1/events' }, { endStream: true });
        // When each chunk arrived, and what it said.
        const chunks = [];
        for await (const chunk of stream)
            chunks.push({ at: performance.now(), text: String(chunk) });
        const arrivals = chunks.map((c) => c.at);
        t.match(chunks.map((c) => c.text).join(''), /data: \[DONE\]/);
        t.ok(arrivals.length >= 3, `events arrived in ${arrivals.length} chunks`);
        t.ok(arrivals.at(-1) - arrivals[0] >= 2 * sseGapMs, 'chunks were not held until the end');
    });
    t.test('a large body each way with a slow reader on the other side', async (t) => {
        const session = await h2ThroughProxy(port, 'stream.api.test:443', { auth, ca: sk.ca.certPem });
        t.teardown(() => session.close());
        // Up: the upstream reads slowly; the agent's writes must wait on flow control, not pile up.
        const up = session.request({ ':method': 'POST', ':path': '/v1/upload', 'content-type': 'application/octet-stream' });
        let agentBlocked = 0;
        const answer = new Promise((resolve, reject) => {
            let body = '';
            up.on('data', (c) => (body += String(c)));
            up.on('end', () => resolve(body));
            up.on('error', reject);
        });
        const chunk = Buffer.alloc(64 * 1024, 2);
        for (let sent = 0; sent < LARGE; sent += chunk.length) {
            if (!up.write(chunk)) {
                agentBlocked++;
                await new Promise((resolve) => up.once('drain', resolve));
            }
        }
        up.end();
        t.same(JSON.parse(await answer), { bytes: LARGE }, 'the upload arrived whole');
        t.ok(agentBlocked > 0, `the agent's writes waited on flow control ${agentBlocked} times`);
        // Down: the agent reads slowly; the upstream's writes must wait in turn.
        const down = session.request({ ':method': 'GET', ':path': '/v1/download' }, { endStream: true });
        let received = 0;
        await new Promise((resolve, reject) => {
            down.on('data', (c) => {
                received += c.length;
                down.pause();
                setTimeout(() => down.resume(), 1);
            });
            down.on('end', resolve);
            down.on('error', reject);
        });
        t.equal(received, LARGE, 'the download arrived whole');
        t.ok(pressure.downloadBlocked > 0, `the upstream's writes waited on the slow agent ${pressure.downloadBlocked} times`);
    });
    t.test('a stream naming another :authority is refused; the connection serves the next', async (t) => {
        const session = await h2ThroughProxy(port, 'h2.api.test:443', { auth, ca: sk.ca.certPem });
        t.teardown(() => session.close());
        const wrong = await h2Request(session, { ':method': 'GET', ':path': '/v1/elsewhere', ':authority': 'evil.test' });
        t.equal(wrong.status, 421);
        t.equal(wrong.headers['x-sidekey-error'], 'SIDEKEY_ERR_HOST_MISMATCH');
        const line = await sk.sink.waitForAudit((a) => a.error === 'SIDEKEY_ERR_HOST_MISMATCH' && a.protocol === 'h2');
        t.match(line, { decision: 'deny', status: 421 });
        const conflict = await h2Request(session, { ':method': 'GET', ':path': '/v1/two', host: 'evil.test' });
        t.equal(conflict.status, 421, 'a host field that disagrees with :authority is refused');
        const ok = await h2Request(session, { ':method': 'GET', ':path': '/v1/after' });
        t.equal(ok.status, 200, 'the same connection still serves');
        t.notOk(h2api.seen.some((s) => s.path === '/v1/elsewhere' || s.path === '/v1/two'));
    });
    t.test('a refusal on h2 is the JSON refusal, without a reason phrase', async (t) => {
        const session = await h2ThroughProxy(port, 'h2.api.test:443', { auth, ca: sk.ca.certPem });
        t.teardown(() => session.close());
        const r = await h2Request(session, { ':method': 'GET', ':path': '/v1/leak', 'x-note': SECRETS.OPENAI });
        t.equal(r.status, 403);
        t.equal(r.headers['x-sidekey-error'], 'SIDEKEY_ERR_SECRET_DETECTED');
        t.match(JSON.parse(r.body.toString()), { code: 'SIDEKEY_ERR_SECRET_DETECTED' });
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=h2.test.js.map