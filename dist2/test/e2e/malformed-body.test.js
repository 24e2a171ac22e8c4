import t from 'tap';
import { startH2Sidekey } from '../helpers/h2.js';
import { basicAuth, openTunnel } from '../helpers/tunnels.js';
import { startUpstream, upstreamTrust } from '../helpers/upstream.js';
// An HTTP/1.1 request whose head was read and handed to the stages, and whose body then breaks
// HTTP/1.1's framing (an invalid chunk size, a chunk without its CRLF, bytes after the last
// chunk's size that are not a chunk): Node's parser refuses the body after the request began. Its
// request has one audit line, saying the body was malformed (SIDEKEY_ERR_BAD_REQUEST), and the
// upstream never gets the body as complete. Before, the parser's refusal wrote a second line (as a
// request that was never read) beside the request's own, which called the agent gone.
t.test('a chunked body that breaks its framing after the request began: one audit line, nothing sent whole', async (t) => {
    const trust = await upstreamTrust();
    const upstream = await startUpstream((_req, res) => res.end('ok'), { trust, host: 'chunks.api.test' });
    t.teardown(() => upstream.close());
    const sk = await startH2Sidekey(t, trust, `  - { name: buffered, host: chunks.api.test, paths: ['/buffered/**'], credential: openai, addresses: [127.0.0.1], conditions: { max_body_bytes: 1000 } }
  - { name: streamed, host: chunks.api.test, credential: openai, addresses: [127.0.0.1] }
`, { 'chunks.api.test': upstream.port });
    const port = Number(new URL(sk.proxyUrl).port);
    const auth = (workload) => basicAuth(workload, sk.runTokens.mint(workload).token);
    const lines = async (workload) => {
        await sk.sink.waitForAudit((a) => a.workload === workload && a.event === 'tunnel');
        // A line written late (a second one) would come within this.
        await new Promise((r) => setTimeout(r, 200));
        return sk.sink.audits.filter((a) => a.workload === workload && a.event === 'request');
    };
    const bodies = [
        ['bad-size', '5\r\nhello\r\nZZ\r\nmore\r\n0\r\n\r\n'],
        ['no-crlf', '5\r\nhelloXX5\r\nworld\r\n0\r\n\r\n'],
        ['size-overflow', '5\r\nhello\r\nffffffffffffffffff\r\nx\r\n0\r\n\r\n'],
    ];
    for (const [name, body] of bodies) {
        for (const [route, path] of [['streamed', '/v1/upload'], ['read-whole', '/buffered/upload']]) {
            const workload = `${name}-${route}`;
            await t.test(workload, async (t) => {
                const tunnel = await openTunnel(port, 'chunks.api.test:443', { auth: auth(workload), tls: { ca: sk.ca.certPem } });
                const received = [];
                tunnel.stream.on('data', (c) => received.push(c));
                tunnel.stream.on('error', () => undefined);
                const closed = new Promise((r) => tunnel.stream.once('close', r));
                tunnel.stream.write(`POST ${path} HTTP/1.1\r\nHost: chunks.api.test\r\nTransfer-Encoding: chunked\r\n\r\n${body}`);
                await closed;
                const found = await lines(workload);
                t.equal(found.length, 1, `one audit line (${found.map((l) => l.error).join(', ')})`);
                t.match(found[0], { error: 'SIDEKEY_ERR_BAD_REQUEST', status: 400, method: 'POST', path });
                const answer = Buffer.concat(received).toString('latin1');
                t.notMatch(answer, /HTTP\/1\.1 200/, 'no answer as if the request were whole');
            });
        }
    }
    t.test('nothing reached the upstream as a complete body', async (t) => {
        t.same(upstream.seen.map((s) => s.url), []);
    });
    t.test('a malformed request pipelined after a whole one: the first is answered, untouched; the second has its own line', async (t) => {
        // Node's parser fails on the second request's head while the first waits for its answer. No
        // refusal is written into the connection then: the agent would read it as the first request's
        // answer. The first is answered, and the connection closes after it.
        const workload = 'pipelined';
        const tunnel = await openTunnel(port, 'chunks.api.test:443', { auth: auth(workload), tls: { ca: sk.ca.certPem } });
        const received = [];
        tunnel.stream.on('data', (c) => received.push(c));
        tunnel.stream.on('error', () => undefined);
        const closed = new Promise((r) => tunnel.stream.once('close', r));
        tunnel.stream.write('POST /v1/first HTTP/1.1\r\nHost: chunks.api.test\r\nContent-Length: 5\r\n\r\nhello' + 'GET /v1/second HTTP/1.1\r\nHost: chunks.api.test\r\nBad Header: x\r\n\r\n');
        await closed;
        const answer = Buffer.concat(received).toString('latin1');
        t.match(answer, /^HTTP\/1\.1 200 /, 'the first request got its own answer');
        t.equal(answer.match(/HTTP\/1\.1 /g)?.length, 1, 'and nothing else: no refusal in its place or after it');
        await sk.sink.waitForAudit((a) => a.workload === workload && a.event === 'tunnel');
        await new Promise((r) => setTimeout(r, 200));
        const found = sk.sink.audits.filter((a) => a.workload === workload && a.event === 'request');
        t.equal(found.length, 2, 'one line each');
        t.match(found.find((a) => a.path === '/v1/first'), { status: 200, error: null });
        t.match(found.find((a) => a.path !== '/v1/first'), { error: 'SIDEKEY_ERR_INVALID_HEADER', reason: 'malformed-request' });
        t.same(upstream.seen.map((s) => s.url), ['/v1/first'], 'the first reached the upstream whole; nothing else did');
        upstream.seen.length = 0;
    });
    t.test('a well-formed chunked request on the same routes still goes through', async (t) => {
        const tunnel = await openTunnel(port, 'chunks.api.test:443', { auth: auth('fine'), tls: { ca: sk.ca.certPem } });
        const received = [];
        tunnel.stream.on('data', (c) => received.push(c));
        tunnel.stream.write('POST /buffered/upload HTTP/1.1\r\nHost: chunks.api.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
        await new Promise((r) => tunnel.stream.once('close', r));
        t.match(Buffer.concat(received).toString('latin1'), /^HTTP\/1\.1 200/);
        t.same(upstream.seen.map((s) => s.body), ['hello']);
    });
});
//# sourceMappingURL=malformed-body.test.js.map