import { gzipSync } from 'node:zlib';
import t from 'tap';
import { h2Request, h2ThroughProxy, startH2Sidekey, startH2Upstream } from '../helpers/h2.js';
import { noSecretsLogged, SECRETS } from '../helpers/sidekey.js';
import { basicAuth } from '../helpers/tunnels.js';
import { upstreamTrust } from '../helpers/upstream.js';
// The guards on HTTP/2 streams: an upstream that echoes the injected credential in a header, the
// body (DATA frames) or a trailer has it masked before the agent reads it; an agent that sends a
// managed secret in an h2 request body is refused before the body completes upstream.
t.test('guards on HTTP/2', async (t) => {
    const trust = await upstreamTrust();
    const api = await startH2Upstream(trust, 'echo.api.test', (req, res, body) => {
        const auth = String(req.headers.authorization ?? '');
        if (req.url.startsWith('/v1/gzip')) {
            // A compressed answer: sidekey decodes it to scrub it (its response stages), so the agent gets
            // it decoded. `/v1/gzip-slow` sends its second half only after a while, for the agent to reset
            // its stream in between.
            const zipped = gzipSync(JSON.stringify({ echoed: auth, padding: 'x'.repeat(200_000) }));
            res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
            res.addTrailers({ 'x-echo-trailer': auth });
            res.write(zipped.subarray(0, zipped.length >> 1));
            const rest = zipped.subarray(zipped.length >> 1);
            if (req.url === '/v1/gzip')
                res.end(rest);
            else
                setTimeout(() => res.destroyed || res.end(rest), 3000);
            return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'x-echo': auth });
        res.addTrailers({ 'x-echo-trailer': auth });
        // Split in two writes, the secret across them: the scrubber must see across DATA frames.
        const text = JSON.stringify({ echoed: auth, bytes: body.length });
        const cut = text.indexOf(auth) + 5;
        res.write(text.slice(0, cut));
        setTimeout(() => res.end(text.slice(cut)), 20);
    });
    t.teardown(() => api.close());
    const sk = await startH2Sidekey(t, trust, `  - { name: echo, host: echo.api.test, credential: openai, addresses: [127.0.0.1] }
`, { 'echo.api.test': api.port });
    const port = Number(new URL(sk.proxyUrl).port);
    const connect = () => h2ThroughProxy(port, 'echo.api.test:443', { auth: basicAuth('agent', sk.runTokens.mint('agent').token), ca: sk.ca.certPem });
    t.test('an echoed credential is masked in headers, DATA frames and trailers', async (t) => {
        const session = await connect();
        t.teardown(() => session.close());
        const r = await h2Request(session, { ':method': 'GET', ':path': '/v1/echo' });
        t.equal(r.status, 200);
        t.equal(api.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`, 'the upstream got the credential');
        const body = r.body.toString();
        t.notOk(body.includes(SECRETS.OPENAI), 'not in the body');
        t.match(JSON.parse(body), { echoed: /^Bearer / });
        t.notOk(String(r.headers['x-echo']).includes(SECRETS.OPENAI), 'not in a header');
        t.ok(r.trailers !== null && typeof r.trailers['x-echo-trailer'] === 'string', 'the trailer arrived');
        t.notOk(String(r.trailers?.['x-echo-trailer']).includes(SECRETS.OPENAI), 'not in a trailer');
        const line = await sk.sink.waitForAudit((a) => a.path === '/v1/echo');
        t.ok((line.scrubbed ?? 0) >= 3, `masked ${line.scrubbed} times`);
    });
    t.test('a compressed answer is decoded and scrubbed on its way to an HTTP/2 agent, trailers and all', async (t) => {
        const session = await connect();
        t.teardown(() => session.close());
        const r = await h2Request(session, { ':method': 'GET', ':path': '/v1/gzip' });
        t.equal(r.status, 200);
        t.equal(r.headers['content-encoding'], undefined, 'delivered decoded');
        const body = r.body.toString();
        t.notOk(body.includes(SECRETS.OPENAI), 'not in the body');
        t.match(JSON.parse(body), { echoed: /^Bearer /, padding: /^x{200000}$/ }, 'the whole body arrived');
        t.ok(r.trailers !== null && typeof r.trailers['x-echo-trailer'] === 'string', 'the trailer arrived after the decoded body');
        t.notOk(String(r.trailers?.['x-echo-trailer']).includes(SECRETS.OPENAI), 'not in a trailer');
        t.match(await sk.sink.waitForAudit((a) => a.path === '/v1/gzip'), { protocol: 'h2', status: 200, error: undefined });
    });
    t.test('an agent that resets its stream during a decoded answer stops the exchange; the connection serves on', async (t) => {
        const session = await connect();
        t.teardown(() => session.close());
        const stream = session.request({ ':method': 'GET', ':path': '/v1/gzip-slow' }, { endStream: true });
        stream.on('error', () => undefined);
        await new Promise((resolve) => stream.once('data', () => resolve()));
        stream.close(0x8 /* CANCEL */);
        t.match(await sk.sink.waitForAudit((a) => a.path === '/v1/gzip-slow'), { protocol: 'h2', status: 200, error: 'SIDEKEY_ERR_AGENT_GONE' }, 'audited as the agent gone');
        t.equal((await h2Request(session, { ':method': 'GET', ':path': '/v1/gzip' })).status, 200, 'the next stream is answered');
    });
    // On the upstream connection the test above used: a body refused mid-stream on a reused h2
    // connection once left Node spinning in native code (forward/upstream.ts, discardH2).
    t.test('request trailers are refused, as on HTTP/1.1', async (t) => {
        const session = await connect();
        t.teardown(() => session.close());
        const stream = session.request({ ':method': 'POST', ':path': '/v1/with-trailers' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
        const answer = new Promise((resolve) => {
            stream.on('response', (h) => resolve({ status: Number(h[':status']), error: h['x-sidekey-error'] }));
            stream.on('error', () => resolve({ status: 0, error: null }));
        });
        stream.end('body');
        t.same(await answer, { status: 400, error: 'SIDEKEY_ERR_TRAILERS_REFUSED' });
        t.notOk(api.seen.some((s) => s.path === '/v1/with-trailers'), 'the upstream never received a complete request');
    });
    // Last: the secret quarantines the workload.
    t.test('a managed secret in an h2 request body is refused', async (t) => {
        const session = await connect();
        t.teardown(() => session.close());
        const seenBefore = api.seen.length;
        const r = await h2Request(session, { ':method': 'POST', ':path': '/v1/upload', 'content-type': 'text/plain' }, `leading text ${SECRETS.OPENAI} trailing text`);
        t.equal(r.status, 403);
        t.equal(r.headers['x-sidekey-error'], 'SIDEKEY_ERR_SECRET_DETECTED');
        t.equal(api.seen.length, seenBefore, 'the upstream never received a complete request');
        const line = await sk.sink.waitForAudit((a) => a.path === '/v1/upload');
        t.match(line, { protocol: 'h2', status: 403, error: 'SIDEKEY_ERR_SECRET_DETECTED' });
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=h2-guards.test.js.map