import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { h2ThroughProxy, startH2Sidekey, startH2Upstream } from '../helpers/h2.js';
import { noSecretsLogged, SECRETS } from '../helpers/sidekey.js';
import { basicAuth } from '../helpers/tunnels.js';
import { upstreamTrust } from '../helpers/upstream.js';
const definition = protoLoader.loadSync(join(process.cwd(), 'test/fixtures/grpc/echo.proto'), { keepCase: true, longs: Number, defaults: true });
const EchoService = grpc.loadPackageDefinition(definition).sidekey.test.Echo;
/** The protobuf encoding of `Msg { text }` (field 1, length-delimited; texts under 128 bytes). */
function msgWithText(text) {
    const bytes = Buffer.from(text);
    return Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
}
/** One envelope: flags, 4-byte big-endian length, payload. */
function envelope(flags, payload) {
    const head = Buffer.alloc(5);
    head[0] = flags;
    head.writeUInt32BE(payload.length, 1);
    return Buffer.concat([head, payload]);
}
t.test('messages compressed inside envelopes never carry an echoed secret to the agent', async (t) => {
    const trust = await upstreamTrust();
    const bearer = `Bearer ${SECRETS.OPENAI}`;
    // A hostile upstream that answers as the request's `x-answer` says, echoing the authorization it
    // got inside a message: compressed, with or without naming the compression.
    const hostile = await startH2Upstream(trust, 'hostile.api.test', (req, res) => {
        const answer = String(req.headers['x-answer'] ?? '');
        const auth = String(req.headers.authorization);
        const plain = envelope(0, msgWithText('first, uncompressed'));
        const zipped = envelope(1, gzipSync(msgWithText(auth)));
        const [protocol, coding] = answer.split(':');
        const type = protocol === 'connect' ? 'application/connect+proto' : protocol === 'web-text' ? 'application/grpc-web-text+proto' : 'application/grpc';
        const head = { 'content-type': type };
        if (coding !== undefined)
            head[protocol === 'connect' ? 'connect-content-encoding' : 'grpc-encoding'] = coding;
        res.writeHead(200, head);
        res.addTrailers({ 'grpc-status': '0' });
        if (coding === 'identity')
            return res.end(envelope(0, msgWithText(auth)));
        if (protocol === 'web-text') {
            // Each envelope base64-encoded on its own, as gRPC-Web text bodies are: padding mid-body.
            res.write(plain.toString('base64'));
            return res.end(zipped.toString('base64'));
        }
        res.write(plain);
        // The compressed envelope split across writes, its head in two pieces.
        res.write(zipped.subarray(0, 2));
        setTimeout(() => res.end(zipped.subarray(2)), 20);
    });
    t.teardown(() => hostile.close());
    const sk = await startH2Sidekey(t, trust, `  - name: hostile
    host: hostile.api.test
    credential: openai
    addresses: [127.0.0.1]
`, { 'hostile.api.test': hostile.port });
    t.test('a real gRPC client: a compressed answer is refused in gRPC terms, an uncompressed one scrubbed', async (t) => {
        // Before the fix, this client (which accepts gzip, as grpc-js does by default) decompressed the
        // message and read the secret in full.
        const before = process.env.grpc_proxy;
        process.env.grpc_proxy = sk.proxyUrlFor('agent');
        t.teardown(() => {
            if (before === undefined)
                delete process.env.grpc_proxy;
            else
                process.env.grpc_proxy = before;
        });
        const client = new EchoService('hostile.api.test:443', grpc.credentials.createSsl(Buffer.from(sk.ca.certPem)));
        t.teardown(() => client.close());
        const unary = (answer) => {
            const md = new grpc.Metadata();
            md.set('x-answer', answer);
            return new Promise((resolve, reject) => client.Unary({}, md, {}, (err, r) => (err ? reject(err) : resolve(r))));
        };
        const err = (await unary('grpc:gzip').then(() => null, (e) => e));
        t.ok(err !== null, 'the call failed');
        t.equal(err?.code, grpc.status.UNAVAILABLE);
        t.match(err?.details, /SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE/, 'the client surfaces the sidekey code');
        t.notOk(String(err?.message).includes(SECRETS.OPENAI));
        const res = await unary('grpc:identity');
        t.notOk((res.text ?? '').includes(SECRETS.OPENAI), 'the echo reached the client without the secret');
        t.match(res.text, /^Bearer \[redacted\]/, 'the echo is there, masked');
        t.equal(hostile.seen.at(-1).headers['grpc-accept-encoding'], 'identity', "grpc-js's identity,deflate,gzip went up as identity");
    });
    const session = await h2ThroughProxy(Number(new URL(sk.proxyUrl).port), 'hostile.api.test:443', { auth: basicAuth('agent', sk.runTokens.mint('agent').token), ca: sk.ca.certPem });
    t.teardown(() => session.close());
    /** One raw call: what arrived before the response ended or was reset. */
    const call = (answer, extra = {}) => new Promise((resolve) => {
        const stream = session.request({ ':method': 'POST', ':path': '/svc/Method', 'content-type': 'application/grpc', te: 'trailers', 'x-answer': answer, ...extra });
        let head = {};
        const chunks = [];
        stream.on('response', (h) => (head = h));
        stream.on('data', (c) => chunks.push(c));
        stream.on('end', () => resolve({ head, body: Buffer.concat(chunks), error: null }));
        stream.on('error', (err) => resolve({ head, body: Buffer.concat(chunks), error: err.message }));
        stream.end(envelope(0, msgWithText('hello')));
    });
    const secretGzipped = gzipSync(msgWithText(bearer));
    t.test('a head naming a message compression is refused before anything is sent', async (t) => {
        for (const answer of ['grpc:gzip', 'connect:gzip']) {
            const got = await call(answer);
            t.equal(got.head[':status'], 200, `${answer}: a gRPC refusal is an HTTP 200 carrying the gRPC status`);
            t.equal(got.head['grpc-status'], '14', `${answer}: UNAVAILABLE, as for other upstream failures`);
            t.match(String(got.head['grpc-message']), /SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE/, `${answer}: the message names the sidekey code`);
            t.equal(got.body.length, 0, `${answer}: no byte of the answer was relayed`);
            const line = await sk.sink.waitForAudit((a) => a.route === 'hostile' && a.error === 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE' && !sk.sink.audits.slice(0, -1).includes(a));
            t.match(line, { protocol: 'h2', status: 502 });
        }
    });
    t.test('an identity coding named in the head is fine, and its message is scrubbed', async (t) => {
        const got = await call('grpc:identity');
        t.equal(got.error, null);
        t.notOk(got.body.includes(SECRETS.OPENAI), 'masked');
        t.ok(got.body.includes('[redacted]'), 'the message arrived');
    });
    t.test('a compressed envelope sent without naming its compression cuts the response', async (t) => {
        const got = await call('grpc');
        t.match(got.error, /RST_STREAM|INTERNAL_ERROR|code 2/, 'the stream was reset, not ended');
        t.notOk(got.body.includes(secretGzipped.subarray(0, 16)), 'no byte of the compressed message reached the agent');
        // The uncompressed message before it, and at most the part of the next envelope's head that
        // arrived before its flags could be read whole: never a byte of its payload.
        t.ok(got.body.length < envelope(0, msgWithText('first, uncompressed')).length + 5, 'at most the uncompressed message before it');
        await sk.sink.waitForAudit((a) => a.route === 'hostile' && a.error === 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE' && a.status === 200);
    });
    t.test('Connect streaming envelopes and gRPC-Web text (base64, padding mid-body) are read the same way', async (t) => {
        for (const answer of ['connect', 'web-text']) {
            const got = await call(answer);
            t.match(got.error, /RST_STREAM|INTERNAL_ERROR|code 2/, `${answer}: cut`);
            t.notOk(got.body.includes(secretGzipped.subarray(0, 16)), `${answer}: the compressed message did not pass`);
            t.notOk(got.body.toString('latin1').includes(secretGzipped.toString('base64').slice(8, 24)), `${answer}: nor its base64`);
        }
    });
    t.test('an agent on HTTP/1.1 gets the same refusal, with x-sidekey-error', async (t) => {
        const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), requestTls: { ca: sk.ca.certPem } });
        t.teardown(() => dispatcher.close());
        const res = await request('https://hostile.api.test/svc/Method', { method: 'POST', dispatcher, headers: { 'content-type': 'application/connect+proto', 'x-answer': 'connect:gzip', 'connect-accept-encoding': 'gzip' }, body: envelope(0, msgWithText('hi')) });
        const body = await res.body.text();
        t.equal(res.statusCode, 502);
        t.equal(res.headers['x-sidekey-error'], 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE');
        t.match(body, /compressed messages sidekey cannot scrub/);
        const seen = hostile.seen.at(-1);
        t.equal(seen.headers['connect-accept-encoding'], 'identity', "the agent's connect-accept-encoding was replaced");
    });
    t.test('the request always asked for identity, whatever the agent accepts', async (t) => {
        const grpcCalls = hostile.seen.filter((s) => s.headers['content-type'] === 'application/grpc');
        t.ok(grpcCalls.length >= 5);
        for (const s of grpcCalls)
            t.equal(s.headers['grpc-accept-encoding'], 'identity');
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=message-compression.test.js.map