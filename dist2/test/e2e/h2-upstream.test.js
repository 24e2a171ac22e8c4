import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import t from 'tap';
import { h2Request, h2ThroughProxy, startH2Sidekey, startH2Upstream } from '../helpers/h2.js';
import { noSecretsLogged, SECRETS } from '../helpers/sidekey.js';
import { basicAuth, openTunnel } from '../helpers/tunnels.js';
import { upstreamTrust } from '../helpers/upstream.js';
// sidekey's own HTTP/2 client to upstreams (src/forward/h2-sessions.ts): requests of every kind,
// POSTs with streamed bodies among them (every gRPC call), share one multiplexed connection per
// destination; a server's SETTINGS_MAX_CONCURRENT_STREAMS spreads them over more connections; a body
// refused mid-stream resets only its own stream, with no END_STREAM before the reset, and the
// other streams on that connection go on. A server that allows no stream at all
// (SETTINGS_MAX_CONCURRENT_STREAMS 0) gets a short wait for it to raise its limit, then a prompt 502
// that says so, never the full --upstream-timeout.
t.test('HTTP/2 upstream connections', async (t) => {
    const trust = await upstreamTrust();
    const answer = (path, res, body, auth) => {
        const send = () => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ path, bytes: body.length, injected: auth === `Bearer ${SECRETS.OPENAI}` }));
        };
        if (path === '/slow')
            setTimeout(send, 400);
        else
            send();
    };
    const api = await startH2Upstream(trust, 'mux.api.test', (req, res, body) => answer(req.url, res, body, req.headers.authorization));
    const narrow = await startH2Upstream(trust, 'narrow.api.test', (req, res, body) => answer(req.url, res, body, req.headers.authorization), { settings: { maxConcurrentStreams: 2 } });
    const bloated = await startH2Upstream(trust, 'bloated.api.test', (_req, res) => {
        res.writeHead(200, { 'x-bloat': 'b'.repeat(20_000) });
        res.end('should not arrive');
    });
    // Allows no stream (RFC 9113 section 6.5.2: a server should say 0 only for a short while).
    const closed = await startH2Upstream(trust, 'closed.api.test', (req, res, body) => answer(req.url, res, body, req.headers.authorization), { settings: { maxConcurrentStreams: 0 } });
    // Says 0, then raises its limit 300 ms into each connection.
    const opening = await startH2Upstream(trust, 'opening.api.test', (req, res, body) => answer(req.url, res, body, req.headers.authorization), { settings: { maxConcurrentStreams: 0 } });
    opening.server.on('session', (session) => setTimeout(() => session.destroyed || session.settings({ maxConcurrentStreams: 100 }), 300));
    t.teardown(() => Promise.all([api.close(), narrow.close(), bloated.close(), closed.close(), opening.close()]));
    const sk = await startH2Sidekey(t, trust, `  - { name: mux, host: mux.api.test, credential: openai, addresses: [127.0.0.1] }
  - { name: narrow, host: narrow.api.test, credential: openai, addresses: [127.0.0.1] }
  - { name: bloated, host: bloated.api.test, credential: openai, addresses: [127.0.0.1] }
  - { name: closed, host: closed.api.test, credential: openai, addresses: [127.0.0.1] }
  - { name: opening, host: opening.api.test, credential: openai, addresses: [127.0.0.1] }
`, { 'mux.api.test': api.port, 'narrow.api.test': narrow.port, 'bloated.api.test': bloated.port, 'closed.api.test': closed.port, 'opening.api.test': opening.port });
    const port = Number(new URL(sk.proxyUrl).port);
    const connect = (authority) => h2ThroughProxy(port, authority, { auth: basicAuth('agent', sk.runTokens.mint('agent').token), ca: sk.ca.certPem });
    t.test('32 concurrent POSTs with streamed bodies share one upstream connection', async (t) => {
        const session = await connect('mux.api.test:443');
        t.teardown(() => session.close());
        const results = await Promise.all(Array.from({ length: 32 }, (_, i) => streamedPost(session, `/upload-${i}`, ['part one, ', `part two of ${i}`], 30)));
        t.same(results.map((r) => r.status), Array(32).fill(200), 'every stream answered');
        t.ok(results.every((r, i) => {
            const body = JSON.parse(r.body);
            return body.path === `/upload-${i}` && body.bytes === `part one, part two of ${i}`.length && body.injected;
        }), 'each body arrived whole, with the credential injected');
        t.equal(api.connections, 1, 'one upstream connection carried all 32 streams');
    });
    t.test('a server allowing 2 streams per connection gets its streams spread over more connections', async (t) => {
        const session = await connect('narrow.api.test:443');
        t.teardown(() => session.close());
        t.equal((await h2Request(session, { ':method': 'GET', ':path': '/first' })).status, 200, 'a first request learns the server\'s SETTINGS');
        const started = performance.now();
        const results = await Promise.all(Array.from({ length: 6 }, () => h2Request(session, { ':method': 'GET', ':path': '/slow' })));
        const elapsed = performance.now() - started;
        t.same(results.map((r) => r.status), Array(6).fill(200), 'all six answered');
        t.equal(narrow.connections, 3, 'three connections of two streams each');
        // Six 400 ms answers two at a time on one connection would take 1.2 s: on three, about 0.4 s.
        t.ok(elapsed < 1100, `they ran side by side (${Math.round(elapsed)} ms)`);
    });
    t.test('a response head over 16 KiB is refused, never passed on', async (t) => {
        const session = await connect('bloated.api.test:443');
        t.teardown(() => session.close());
        const r = await h2Request(session, { ':method': 'GET', ':path': '/bloat' });
        t.equal(r.status, 502);
        t.equal(r.headers['x-sidekey-error'], 'SIDEKEY_ERR_UPSTREAM_RESET');
        t.equal(r.headers['x-bloat'], undefined, 'no part of the head reached the agent');
        t.notOk(r.body.toString().includes('should not arrive'));
    });
    t.test('a server allowing no stream (SETTINGS_MAX_CONCURRENT_STREAMS 0) gets a prompt 502 saying so', async (t) => {
        // Before, the request waited in the HTTP/2 library for a stream the server never allowed, until
        // --upstream-timeout (120 s) and a 504 that blamed the server's speed.
        const within = (ms, p) => Promise.race([p, new Promise((r) => setTimeout(() => r('too late'), ms))]);
        const session = await connect('closed.api.test:443');
        t.teardown(() => session.close());
        for (const path of ['/first', '/second']) {
            const started = performance.now();
            const r = await within(5000, h2Request(session, { ':method': 'GET', ':path': path }));
            if (r === 'too late') {
                t.fail(`${path}: no answer within 5 s`);
                continue;
            }
            t.equal(r.status, 502, `${path}: 502`);
            t.equal(r.headers['x-sidekey-error'], 'SIDEKEY_ERR_UPSTREAM_CONNECT', `${path}: x-sidekey-error`);
            t.match(r.body.toString(), /SETTINGS_MAX_CONCURRENT_STREAMS/, `${path}: the reason names the server's stream limit`);
            t.ok(performance.now() - started < 3000, `${path}: answered after a short wait (${Math.round(performance.now() - started)} ms)`);
            t.match(await sk.sink.waitForAudit((a) => a.host === 'closed.api.test' && a.path === path), { status: 502, error: 'SIDEKEY_ERR_UPSTREAM_CONNECT' }, `${path}: its audit line`);
        }
        const tunnel = await openTunnel(port, 'closed.api.test:443', { auth: basicAuth('agent', sk.runTokens.mint('agent').token), tls: { ca: sk.ca.certPem } });
        t.teardown(() => tunnel.socket.destroy());
        const h1 = await within(5000, tunnel.get('/from-h1'));
        t.match(h1, /^HTTP\/1\.1 502 [^]*x-sidekey-error: SIDEKEY_ERR_UPSTREAM_CONNECT[^]*SETTINGS_MAX_CONCURRENT_STREAMS/i, 'an HTTP/1.1 agent gets the same refusal');
        t.same(closed.seen, [], 'nothing reached the server');
        t.ok(closed.connections <= 2, `no connection dialled per request to get around the limit (${closed.connections})`);
    });
    t.test('a server that raises its limit from 0 soon after gets the request', async (t) => {
        const session = await connect('opening.api.test:443');
        t.teardown(() => session.close());
        const r = await h2Request(session, { ':method': 'GET', ':path': '/after-the-wait' });
        t.equal(r.status, 200);
        t.match(JSON.parse(r.body.toString()), { path: '/after-the-wait', injected: true });
    });
    t.test('a closed stream holds none of sidekey\'s objects for the request', async (t) => {
        // Node's stream object outlives its close for a while, and a young-generation collection
        // copies whatever it still points to (and promotes it the second time): an exchange hung on a
        // closed stream made every gRPC call's objects reach the old generation. Every stream that
        // closes here, on each leg and on either side, must have let go of sidekey's request, response,
        // upstream exchange and request body.
        const ours = new Set(['H2ServerRequest', 'H2Response', 'StreamExchange', 'OutgoingBody']);
        const holding = [];
        let closed = 0;
        const check = (message) => {
            const stream = message.stream;
            // After the stream's own 'close' listeners have run.
            setImmediate(() => {
                closed++;
                for (const key of Reflect.ownKeys(stream)) {
                    const value = stream[key];
                    const name = typeof value === 'object' && value !== null ? (value.constructor?.name ?? '') : '';
                    if (ours.has(name))
                        holding.push(`${String(key)}: ${name}`);
                }
            });
        };
        const channels = ['http2.client.stream.close', 'http2.server.stream.close'];
        for (const name of channels)
            subscribe(name, check);
        t.teardown(() => channels.forEach((name) => unsubscribe(name, check)));
        const session = await connect('mux.api.test:443');
        const results = await Promise.all([
            ...Array.from({ length: 4 }, (_, i) => streamedPost(session, `/held-${i}`, ['part one, ', 'part two'], 10)),
            ...Array.from({ length: 4 }, (_, i) => h2Request(session, { ':method': 'GET', ':path': `/get-${i}` }).then((r) => ({ status: r.status }))),
        ]);
        t.same(results.map((r) => r.status), Array(8).fill(200), 'every stream answered');
        session.close();
        await new Promise((r) => setTimeout(r, 200));
        // Each request is four streams: the agent's and sidekey's server one, sidekey's client one and the upstream's.
        t.ok(closed >= 32, `every stream of the 8 requests closed and was checked (${closed})`);
        t.same(holding, [], 'no closed stream points to sidekey\'s objects for its request');
    });
    // Last: the secret quarantines the workload.
    t.test('a body refused mid-stream resets only its stream; the others on the connection go on', async (t) => {
        const session = await connect('mux.api.test:443');
        t.teardown(() => session.close());
        const connectionsBefore = api.connections;
        const seenBefore = api.seen.length;
        const slow = h2Request(session, { ':method': 'POST', ':path': '/slow', 'content-type': 'text/plain' }, 'an innocent body');
        // The refused stream's head and first chunk reach the upstream before the secret is seen.
        await new Promise((r) => setTimeout(r, 50));
        const refused = await streamedPost(session, '/refused', ['leading text ', `${SECRETS.OPENAI} trailing text`], 100);
        t.equal(refused.status, 403);
        t.equal(refused.headers['x-sidekey-error'], 'SIDEKEY_ERR_SECRET_DETECTED');
        const done = await slow;
        t.equal(done.status, 200, 'the stream beside it was answered');
        t.match(JSON.parse(done.body.toString()), { path: '/slow', injected: true });
        t.same(api.seen.slice(seenBefore).map((s) => s.path), ['/slow'], 'the upstream received the other request whole, and never the refused one (a reset stream, no END_STREAM)');
        t.equal(api.connections, connectionsBefore, 'the connection was kept');
    });
    noSecretsLogged(t, sk);
});
/** POST `parts` as separate DATA frames, `gapMs` apart, and read the whole answer. */
function streamedPost(session, path, parts, gapMs) {
    return new Promise((resolve, reject) => {
        const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'text/plain' }, { endStream: false });
        let head = {};
        const chunks = [];
        stream.on('response', (h) => (head = h));
        stream.on('data', (c) => chunks.push(c));
        stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks).toString() }));
        stream.on('error', reject);
        const send = (i) => {
            if (stream.destroyed || stream.writableEnded)
                return;
            if (i === parts.length - 1)
                stream.end(parts[i]);
            else {
                stream.write(parts[i]);
                setTimeout(() => send(i + 1), gapMs);
            }
        };
        send(0);
    });
}
//# sourceMappingURL=h2-upstream.test.js.map