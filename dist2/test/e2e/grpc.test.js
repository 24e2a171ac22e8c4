import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import t from 'tap';
import { startH2Sidekey } from '../helpers/h2.js';
import { pollFor, waitFor } from '../helpers/poll.js';
import { noSecretsLogged, SECRETS } from '../helpers/sidekey.js';
import { upstreamTrust } from '../helpers/upstream.js';
const definition = protoLoader.loadSync(join(process.cwd(), 'test/fixtures/grpc/echo.proto'), { keepCase: true, longs: Number, defaults: true });
const EchoService = grpc.loadPackageDefinition(definition).sidekey.test.Echo;
/** A large message each way: big enough to span many DATA frames and flow-control windows. */
const LARGE = 3 * 1024 * 1024;
t.test('gRPC through sidekey', async (t) => {
    const trust = await upstreamTrust();
    const cancelled = [];
    const authorizedBy = (call) => call.metadata.get('authorization')[0] === `Bearer ${SECRETS.OPENAI}`;
    const server = new grpc.Server();
    server.addService(EchoService.service, {
        Unary(call, cb) {
            const req = call.request;
            call.on('cancelled', () => cancelled.push(req.text ?? ''));
            if (req.text === 'not-found')
                return cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
            const answer = () => cb(null, { text: req.text ?? '', blob: req.blob ?? Buffer.alloc(0), count: req.blob?.length ?? 0, authorized: authorizedBy(call), has_deadline: Number.isFinite(call.getDeadline().valueOf()) });
            if ((req.delay_ms ?? 0) > 0)
                setTimeout(answer, req.delay_ms).unref();
            else
                answer();
        },
        ServerStream(call) {
            const n = call.request.count ?? 0;
            call.on('cancelled', () => cancelled.push(call.request.text ?? ''));
            let i = 0;
            const tick = () => {
                if (call.cancelled)
                    return;
                if (n > 0 && i === n) {
                    call.end();
                    return;
                }
                call.write({ text: `${call.request.text}-${i++}`, authorized: authorizedBy(call) });
                setTimeout(tick, call.request.delay_ms ?? 0).unref();
            };
            tick();
        },
        ClientStream(call, cb) {
            const texts = [];
            let bytes = 0;
            call.on('data', (m) => {
                texts.push(m.text ?? '');
                bytes += m.blob?.length ?? 0;
            });
            call.on('end', () => cb(null, { text: texts.join(','), count: bytes, authorized: authorizedBy(call) }));
        },
        Bidi(call) {
            call.on('data', (m) => call.write({ text: `echo:${m.text}`, authorized: authorizedBy(call) }));
            call.on('end', () => call.end());
        },
        Forbidden(_call, cb) {
            cb(null, { text: 'should never be reached' });
        },
    });
    const cert = await trust.cert('grpc.api.test');
    const port = await new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(cert.key), cert_chain: Buffer.from(cert.cert) }]), (err, p) => (err ? reject(err) : resolve(p))));
    t.teardown(() => server.forceShutdown());
    const sk = await startH2Sidekey(t, trust, `  - name: echo
    host: grpc.api.test
    paths: [/sidekey.test.Echo/Unary, /sidekey.test.Echo/ServerStream, /sidekey.test.Echo/ClientStream, /sidekey.test.Echo/Bidi]
    credential: openai
    addresses: [127.0.0.1]
`, { 'grpc.api.test': port });
    // The client finds sidekey as any gRPC client does, from the environment.
    const before = process.env.grpc_proxy;
    process.env.grpc_proxy = sk.proxyUrlFor('agent');
    t.teardown(() => {
        if (before === undefined)
            delete process.env.grpc_proxy;
        else
            process.env.grpc_proxy = before;
    });
    const client = new EchoService('grpc.api.test:443', grpc.credentials.createSsl(Buffer.from(sk.ca.certPem)));
    t.teardown(() => client.close());
    const unary = (req, opts = {}) => new Promise((resolve, reject) => client.Unary(req, new grpc.Metadata(), opts, (err, res) => (err ? reject(err) : resolve(res))));
    t.test('unary: the server sees the injected credential; the client never had one', async (t) => {
        const res = await unary({ text: 'hello' });
        t.equal(res.text, 'hello');
        t.equal(res.authorized, true, 'authorization metadata injected by sidekey');
        const line = await sk.sink.waitForAudit((a) => a.path === '/sidekey.test.Echo/Unary' && a.grpc_status !== undefined);
        t.match(line, { protocol: 'h2', route: 'echo', decision: 'allow', status: 200, grpc_status: 0, method: 'POST' });
    });
    t.test('an error status travels back in the trailers', async (t) => {
        const err = await unary({ text: 'not-found' }).catch((e) => e);
        t.match(err, { code: grpc.status.NOT_FOUND, details: 'no such thing' });
        const line = await sk.sink.waitForAudit((a) => a.grpc_status === grpc.status.NOT_FOUND);
        t.equal(line.status, 200);
    });
    t.test('server streaming', async (t) => {
        const got = [];
        const call = client.ServerStream({ text: 's', count: 5 });
        for await (const m of call)
            got.push(m);
        t.same(got.map((m) => m.text), ['s-0', 's-1', 's-2', 's-3', 's-4']);
        t.ok(got.every((m) => m.authorized));
    });
    t.test('client streaming, with a large message', async (t) => {
        const res = await new Promise((resolve, reject) => {
            const call = client.ClientStream((err, r) => (err ? reject(err) : resolve(r)));
            call.write({ text: 'a' });
            call.write({ text: 'b', blob: Buffer.alloc(LARGE, 7) });
            call.end({ text: 'c' });
        });
        t.equal(res.text, 'a,b,c');
        t.equal(res.count, LARGE, 'the large message arrived whole');
        t.equal(res.authorized, true);
    });
    t.test('a large message back', async (t) => {
        const res = await unary({ text: 'big', blob: Buffer.alloc(LARGE, 9) });
        t.equal(res.blob?.length, LARGE);
        t.equal(res.count, LARGE);
    });
    t.test('bidirectional streaming: each message answered before the next is sent', async (t) => {
        const call = client.Bidi();
        const replies = [];
        // 'thanks' and 'ask' end their messages in `s`, the first byte of the credential's form
        // (`sk-...`): outbound detection once held such a byte back until the next message came, and
        // the call stalled with the server waiting for the rest of this one.
        for (const word of ['one', 'two', 'three', 'thanks', 'ask']) {
            call.write({ text: word });
            const reply = await new Promise((resolve) => call.once('data', resolve));
            replies.push(reply.text ?? '');
        }
        call.end();
        await new Promise((resolve) => call.on('status', resolve));
        t.same(replies, ['echo:one', 'echo:two', 'echo:three', 'echo:thanks', 'echo:ask']);
    });
    t.test('a deadline reaches the server and expires at the client', async (t) => {
        const err = await unary({ text: 'slow', delay_ms: 5000 }, { deadline: Date.now() + 300 }).catch((e) => e);
        t.match(err, { code: grpc.status.DEADLINE_EXCEEDED });
        await waitFor('the server to see the call cancelled', () => cancelled.includes('slow'));
        const timed = await unary({ text: 'timed' }, { deadline: Date.now() + 10_000 });
        t.equal(timed.has_deadline, true, 'grpc-timeout was forwarded');
    });
    t.test('cancelling a call cancels it upstream', async (t) => {
        const call = client.ServerStream({ text: 'endless', delay_ms: 20 });
        call.on('error', () => undefined);
        await new Promise((resolve) => call.once('data', resolve));
        call.cancel();
        await waitFor('the server to see the stream cancelled', () => cancelled.includes('endless'));
        const line = await sk.sink.waitForAudit((a) => a.path === '/sidekey.test.Echo/ServerStream' && a.error !== null);
        t.match(line, { protocol: 'h2', status: 200, error: 'SIDEKEY_ERR_AGENT_GONE' }, 'the cancelled stream has its audit line, saying the client went away');
    });
    t.test('a call policy does not allow is PERMISSION_DENIED naming the sidekey code', async (t) => {
        const err = await new Promise((resolve) => client.Forbidden({ text: 'x' }, new grpc.Metadata(), {}, (e) => resolve(e)));
        t.equal(err.code, grpc.status.PERMISSION_DENIED);
        t.match(err.details, /SIDEKEY_ERR_NO_ROUTE/);
        t.equal(err.metadata.get('x-sidekey-error')[0], 'SIDEKEY_ERR_NO_ROUTE');
        const line = await sk.sink.waitForAudit((a) => a.path === '/sidekey.test.Echo/Forbidden');
        t.match(line, { decision: 'deny', grpc_status: grpc.status.PERMISSION_DENIED, error: 'SIDEKEY_ERR_NO_ROUTE' });
    });
    t.test('many concurrent calls on one channel', async (t) => {
        const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => unary({ text: `c${i}` })));
        t.same(answers.map((a) => a.text), Array.from({ length: 50 }, (_, i) => `c${i}`));
        const lines = await pollFor(() => sk.sink.audits.filter((a) => a.path === '/sidekey.test.Echo/Unary' && a.grpc_status === 0), (l) => l.length >= 50);
        t.ok(lines.length >= 50);
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=grpc.test.js.map