import { connect as netConnect, createServer as createNetServer } from 'node:net';
import t, {} from 'tap';
import { curl, rawExchange } from '../helpers/clients.js';
import { pollFor } from '../helpers/poll.js';
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js';
import { basicAuth, openTunnel } from '../helpers/tunnels.js';
import { startUpstream, upstreamTrust } from '../helpers/upstream.js';
// What one agent can hold open (issue #20, item 14): 5,000 idle CONNECTs were accepted with no
// cap. Connections are capped in total (unidentified ones included) and per workload, refused past
// the cap with a specific code and a status line that says why; slow heads are closed (on the
// proxy port, inside intercepted tunnels, on the transparent listeners); idle blind tunnels and
// idle keep-alive connections are closed. Small limits and short timeouts keep every loop bounded.
const HEAD_MS = 600;
const IDLE_MS = 700;
const TUNNEL_IDLE_MS = 900;
/** A raw loopback connection to `port`, with everything it receives and a promise of its close. */
async function rawConnection(port) {
    const socket = netConnect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    let data = '';
    socket.on('data', (d) => (data += d.toString('latin1')));
    const opened = Date.now();
    const closed = new Promise((r) => socket.once('close', () => r(Date.now() - opened)));
    await new Promise((r) => socket.once('connect', () => r()));
    return { socket, received: () => data, closed };
}
/** Send `text` one byte every `everyMs`, stopping when the socket closes; a slow-loris head. */
function dribble(socket, text, everyMs) {
    let i = 0;
    const tick = setInterval(() => {
        if (socket.destroyed || i >= text.length)
            return clearInterval(tick);
        socket.write(text[i++]);
    }, everyMs);
    tick.unref();
}
/** The upstreams every test here reaches: an HTTPS API (slow on /v1/slow), a plain one, a TCP echo for blind tunnels. */
async function upstreams(t) {
    const trust = await upstreamTrust();
    const api = await startUpstream((req, res) => {
        // A slow upstream: a request in flight longer than every idle timeout must not be cut.
        setTimeout(() => res.end('{"ok":true}'), req.url === '/v1/slow' ? IDLE_MS * 2 : 0);
    }, { trust, host: 'api.test' });
    const plain = await startUpstream();
    const echo = createNetServer((s) => {
        s.on('error', () => undefined);
        s.pipe(s);
    });
    await new Promise((r) => echo.listen(0, '127.0.0.1', r));
    const echoPort = echo.address().port;
    t.teardown(async () => {
        await api.close();
        await plain.close();
        echo.close();
    });
    const policy = `
version: v1
routes:
  - { name: api, host: api.test, addresses: [127.0.0.1], workloads: ['*', anonymous] }
  - { name: plain, host: plain.test, ports: [${plain.port}, 80], addresses: [127.0.0.1], workloads: ['*', anonymous] }
  - { name: blind, host: blind.test, ports: [${echoPort}], action: tunnel, addresses: [127.0.0.1], workloads: ['*', anonymous] }
`;
    const connectTo = {
        'api.test:443': { host: '127.0.0.1', port: api.port },
        [`plain.test:${plain.port}`]: { host: '127.0.0.1', port: plain.port },
        'plain.test:80': { host: '127.0.0.1', port: plain.port },
        [`blind.test:${echoPort}`]: { host: '127.0.0.1', port: echoPort },
    };
    return { trust, api, plain, echoPort, policy, connectTo };
}
t.test('connection caps', async (t) => {
    const { trust, plain, echoPort, policy, connectTo } = await upstreams(t);
    // Timeouts long enough that nothing here closes on its own: only the caps are under test.
    const sk = await startTestSidekey(t, policy, {
        upstreamCaFile: trust.caFile,
        transparent: true,
        connectTo,
        config: { maxConnections: 12, maxConnectionsPerWorkload: 4, headTimeoutMs: 20_000, idleTimeoutMs: 20_000, tunnelIdleTimeoutMs: 20_000 },
    });
    const ca = sk.ca.certPem;
    const mint = (workload) => {
        const { token } = sk.runTokens.mint(workload);
        return { auth: basicAuth(workload, token), url: `http://${workload}:${token}@127.0.0.1:${sk.proxyPort}` };
    };
    const noneOpen = () => pollFor(() => sk.connections.size, (n) => n === 0, 5000);
    t.test('per workload: the fifth tunnel of one workload is refused with 429 and a status line that says why; others are not', async (t) => {
        const busy = mint('busy');
        const held = await Promise.all(Array.from({ length: 4 }, () => openTunnel(sk.proxyPort, `blind.test:${echoPort}`, { auth: busy.auth })));
        t.same(held.map((h) => h.status.slice(0, 12)), Array(4).fill('HTTP/1.1 200'));
        const fifth = await openTunnel(sk.proxyPort, `blind.test:${echoPort}`, { auth: busy.auth });
        t.match(fifth.status, /^HTTP\/1\.1 429 sidekey: workload "busy" already hold 4 open connections.*\(SIDEKEY_ERR_WORKLOAD_CONNECTION_LIMIT\)/);
        await fifth.closed;
        // curl shows a refused CONNECT by its status line only: that line carries the reason.
        const viaCurl = await curl(['-v', '-x', busy.url, '-k', 'https://api.test/']);
        t.not(viaCurl.code, 0);
        t.match(viaCurl.stderr, /429 sidekey: workload "busy".*\(SIDEKEY_ERR_WORKLOAD_CONNECTION_LIMIT\)/, 'curl prints the reason');
        const other = await openTunnel(sk.proxyPort, `blind.test:${echoPort}`, { auth: mint('calm').auth });
        t.match(other.status, /^HTTP\/1\.1 200 /, 'another workload is not held back');
        held[0].socket.destroy();
        await pollFor(() => sk.connections.countOf('busy'), (n) => n === 3);
        const again = await openTunnel(sk.proxyPort, `blind.test:${echoPort}`, { auth: busy.auth });
        t.match(again.status, /^HTTP\/1\.1 200 /, 'a closed tunnel frees its place');
        const line = await sk.sink.waitForAudit((a) => a.event === 'tunnel' && a.error === 'SIDEKEY_ERR_WORKLOAD_CONNECTION_LIMIT');
        t.match(line, { workload: 'busy', status: 429 });
        for (const c of [...held, other, again])
            c.socket.destroy();
        await noneOpen();
    });
    t.test('a tunnel the client closes before its first byte is closed at once and frees its place', async (t) => {
        // Go's transport closes the spare connections it dialled right after the CONNECT's 200.
        const spare = mint('spare');
        const tunnels = await Promise.all(Array.from({ length: 4 }, () => openTunnel(sk.proxyPort, 'api.test:443', { auth: spare.auth })));
        t.same(tunnels.map((h) => h.status.slice(0, 12)), Array(4).fill('HTTP/1.1 200'));
        const started = performance.now();
        for (const tunnel of tunnels)
            tunnel.socket.end();
        await Promise.all(tunnels.map((tunnel) => tunnel.closed));
        t.ok(performance.now() - started < 5000, 'closed by sidekey long before the 20 s head timeout');
        await pollFor(() => sk.connections.countOf('spare'), (n) => n === 0, 3000);
        const next = await openTunnel(sk.proxyPort, 'api.test:443', { auth: spare.auth });
        t.match(next.status, /^HTTP\/1\.1 200 /, 'the workload can open a tunnel again');
        next.socket.destroy();
        await noneOpen();
    });
    t.test('plain requests count too: a workload at its cap gets 429 on a new connection', async (t) => {
        const pooled = mint('pooled');
        const held = await Promise.all(Array.from({ length: 4 }, () => openTunnel(sk.proxyPort, 'api.test:443', { auth: pooled.auth, tls: { ca } })));
        const answer = await rawExchange(sk.proxyPort, `GET http://plain.test:${plain.port}/x HTTP/1.1\r\nHost: plain.test\r\nProxy-Authorization: ${pooled.auth}\r\n\r\n`);
        t.match(answer, /^HTTP\/1\.1 429 /);
        t.match(answer, /x-sidekey-error: SIDEKEY_ERR_WORKLOAD_CONNECTION_LIMIT/i);
        t.equal(plain.seen.filter((s) => s.url === '/x').length, 0, 'nothing forwarded');
        for (const c of held)
            c.socket.destroy();
        await noneOpen();
    });
    t.test('in total: connections that never say anything count, and the next one is told why', async (t) => {
        const idle = await Promise.all(Array.from({ length: 12 }, () => rawConnection(sk.proxyPort)));
        await pollFor(() => sk.connections.size, (n) => n === 12);
        t.match((await curl([`${sk.adminUrl}/metrics`])).body, /^sidekey_open_connections 12$/m, 'the metric shows how full the cap is');
        const over = await rawConnection(sk.proxyPort);
        over.socket.write(`CONNECT blind.test:${echoPort} HTTP/1.1\r\nHost: blind.test\r\n\r\n`);
        await over.closed;
        t.match(over.received(), /^HTTP\/1\.1 503 sidekey: sidekey already holds 12 open connections.*\(SIDEKEY_ERR_CONNECTION_LIMIT\)/);
        t.match(over.received(), /x-sidekey-error: SIDEKEY_ERR_CONNECTION_LIMIT/i);
        const viaCurl = await curl(['-v', '-x', sk.proxyUrl, '-k', 'https://api.test/']);
        t.match(viaCurl.stderr, /503 sidekey: .*\(SIDEKEY_ERR_CONNECTION_LIMIT\)/, 'curl prints the reason');
        const transparentHttp = await rawConnection(sk.transparentHttpPort);
        await transparentHttp.closed;
        t.match(transparentHttp.received(), /^HTTP\/1\.1 503 /, 'the transparent HTTP listener shares the cap');
        const transparentTls = await rawConnection(sk.transparentHttpsPort);
        await transparentTls.closed;
        t.equal(transparentTls.received(), '', 'the transparent TLS listener closes it: nothing readable can be said before TLS');
        await sk.sink.waitForAudit((a) => a.event === 'connect' && a.error === 'SIDEKEY_ERR_CONNECTION_LIMIT');
        t.equal(sk.connections.size, 12, 'refused connections were never counted');
        for (const c of idle)
            c.socket.destroy();
        await noneOpen();
        const after = await curl(['-x', sk.proxyUrl, `http://plain.test:${plain.port}/after`]);
        t.equal(after.status, 200, 'closed ones free their places');
    });
    t.test('200 CONNECTs in a burst (the issue sent 5,000): the caps hold, every other is refused, none hangs', async (t) => {
        const results = await Promise.all(Array.from({ length: 200 }, async () => {
            const c = await rawConnection(sk.proxyPort).catch(() => null);
            if (c === null)
                return 'reset';
            c.socket.write(`CONNECT blind.test:${echoPort} HTTP/1.1\r\nHost: blind.test\r\n\r\n`);
            await pollFor(() => c.received(), (r) => r.includes('\r\n\r\n') || c.socket.destroyed, 10_000, 20);
            return c;
        }));
        const held = results.filter((r) => typeof r !== 'string' && /^HTTP\/1\.1 200 /.test(r.received()));
        const refused = results.filter((r) => typeof r !== 'string' && /^HTTP\/1\.1 (503|429) /.test(r.received()));
        t.equal(held.length, 4, 'anonymous callers are one workload: its cap holds');
        t.equal(held.length + refused.length, 200, 'every other connection got a refusal');
        t.ok(sk.connections.size <= 12);
        for (const r of results)
            if (typeof r !== 'string')
                r.socket.destroy();
        await noneOpen();
    });
    noSecretsLogged(t, sk);
});
t.test('timeouts', async (t) => {
    const { trust, api, plain, echoPort, policy, connectTo } = await upstreams(t);
    const sk = await startTestSidekey(t, policy, {
        upstreamCaFile: trust.caFile,
        transparent: true,
        connectTo,
        config: { headTimeoutMs: HEAD_MS, idleTimeoutMs: IDLE_MS, tunnelIdleTimeoutMs: TUNNEL_IDLE_MS },
    });
    const ca = sk.ca.certPem;
    const within = (ms, limit) => ms < limit + 3000;
    t.test('slow heads are closed with 408: proxy port, inside an intercepted tunnel, transparent HTTP; a stalled ClientHello too', async (t) => {
        const head = `GET http://plain.test:${plain.port}/slow-loris HTTP/1.1\r\nHost: plain.test\r\nX-A: ${'a'.repeat(200)}\r\n\r\n`;
        const onProxy = await rawConnection(sk.proxyPort);
        dribble(onProxy.socket, head, 50);
        const proxyLife = await onProxy.closed;
        t.match(onProxy.received(), /^HTTP\/1\.1 408 [^]*x-sidekey-error: SIDEKEY_ERR_HEAD_TIMEOUT/i);
        t.ok(within(proxyLife, HEAD_MS), `proxy port: closed after ${proxyLife} ms`);
        const silentClient = await rawConnection(sk.proxyPort);
        t.ok(within(await silentClient.closed, HEAD_MS), 'a connection that sends nothing at all is closed the same way');
        t.match(silentClient.received(), /^HTTP\/1\.1 408 /);
        const tunnel = await openTunnel(sk.proxyPort, 'api.test:443', { tls: { ca } });
        const started = Date.now();
        let inside = '';
        tunnel.stream.on('data', (d) => (inside += d.toString()));
        dribble(tunnel.stream, `GET /v1/slow-loris HTTP/1.1\r\nHost: api.test\r\nX-A: ${'a'.repeat(200)}\r\n\r\n`, 50);
        await tunnel.closed;
        t.match(inside, /^HTTP\/1\.1 408 [^]*x-sidekey-error: SIDEKEY_ERR_HEAD_TIMEOUT/i, 'inside the tunnel: a 408 the agent can read');
        t.ok(within(Date.now() - started, HEAD_MS));
        const silent = await openTunnel(sk.proxyPort, 'api.test:443');
        await silent.closed;
        const line = await sk.sink.waitForAudit((a) => a.event === 'tunnel' && a.error === 'SIDEKEY_ERR_HEAD_TIMEOUT');
        t.equal(line.reason, 'idle', 'a tunnel silent after CONNECT is closed too');
        const stalled = await openTunnel(sk.proxyPort, 'api.test:443');
        const stalledAt = Date.now();
        stalled.socket.write(Buffer.from([0x16, 0x03, 0x01])); // a TLS handshake that never goes on
        await stalled.closed;
        t.ok(within(Date.now() - stalledAt, HEAD_MS), 'a TLS handshake stalled inside a tunnel is closed by the head timeout');
        const transparentHttp = await rawConnection(sk.transparentHttpPort);
        dribble(transparentHttp.socket, `GET /slow-loris HTTP/1.1\r\nHost: plain.test\r\nX-A: ${'a'.repeat(200)}\r\n\r\n`, 50);
        await transparentHttp.closed;
        t.match(transparentHttp.received(), /^HTTP\/1\.1 408 [^]*x-sidekey-error: SIDEKEY_ERR_HEAD_TIMEOUT/i, 'transparent HTTP: 408');
        const transparentTls = await rawConnection(sk.transparentHttpsPort);
        transparentTls.socket.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
        const tlsLife = await transparentTls.closed;
        t.ok(within(tlsLife, HEAD_MS), `transparent TLS: a ClientHello that never completes is closed (${tlsLife} ms)`);
        const helloLine = await sk.sink.waitForAudit((a) => a.method === 'TLS' && a.error === 'SIDEKEY_ERR_HEAD_TIMEOUT');
        t.match(helloLine, { reason: 'head-timeout', bytes_up: 6 });
        t.equal(plain.seen.filter((s) => s.url.includes('slow-loris')).length, 0, 'nothing reached an upstream');
        t.equal(api.seen.filter((s) => s.url.includes('slow-loris')).length, 0);
    });
    t.test('idle: blind tunnels and keep-alive connections are closed; busy ones and slow answers are not', async (t) => {
        // From before the idle tunnel opens: its idle timer starts once it is open, so on a slow
        // machine opening the second tunnel must not count against the time it lived.
        const started = Date.now();
        const idleTunnel = await openTunnel(sk.proxyPort, `blind.test:${echoPort}`);
        const busyTunnel = await openTunnel(sk.proxyPort, `blind.test:${echoPort}`);
        busyTunnel.stream.resume();
        const keepBusy = setInterval(() => busyTunnel.stream.write('.'), TUNNEL_IDLE_MS / 4);
        t.teardown(() => clearInterval(keepBusy));
        await idleTunnel.closed;
        const lived = Date.now() - started;
        t.ok(lived >= TUNNEL_IDLE_MS - 100 && within(lived, TUNNEL_IDLE_MS), `an idle blind tunnel closes after the tunnel idle timeout (${lived} ms)`);
        const line = await sk.sink.waitForAudit((a) => a.event === 'tunnel' && a.closed === 'idle');
        t.match(line, { decision: 'tunnel', host: 'blind.test' });
        // Outlives the head timeout, the idle timeout and the tunnel idle timeout, because it is in use:
        // a tunnel opened now and left idle closes once sidekey's idle timers have had their time again.
        const witness = await openTunnel(sk.proxyPort, `blind.test:${echoPort}`);
        await witness.closed;
        t.notOk(busyTunnel.isClosed(), 'a blind tunnel carrying bytes stays open past every timeout');
        clearInterval(keepBusy);
        busyTunnel.socket.destroy();
        const intercepted = await openTunnel(sk.proxyPort, 'api.test:443', { tls: { ca } });
        t.equal(/^HTTP\/1\.1 ([0-9]+)/.exec((await intercepted.get('/v1/slow')) ?? '')?.[1], '200', 'a request slower than the idle timeout is answered');
        const quietSince = Date.now();
        await intercepted.closed;
        const quiet = Date.now() - quietSince;
        t.ok(quiet >= IDLE_MS - 100 && within(quiet, IDLE_MS), `then, idle between requests, the intercepted tunnel closes (${quiet} ms)`);
        const keepAlive = await rawConnection(sk.proxyPort);
        keepAlive.socket.write(`GET http://plain.test:${plain.port}/ka HTTP/1.1\r\nHost: plain.test\r\n\r\n`);
        await pollFor(() => keepAlive.received(), (r) => r.includes('"ok":true'));
        const afterResponse = Date.now();
        await keepAlive.closed;
        const idleFor = Date.now() - afterResponse;
        t.ok(idleFor >= IDLE_MS - 100 && within(idleFor, IDLE_MS), `an idle keep-alive connection on the proxy port closes (${idleFor} ms)`);
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=connection-limits.test.js.map