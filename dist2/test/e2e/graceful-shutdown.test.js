import { createServer, get } from 'node:http';
import { connect } from 'node:net';
import t, {} from 'tap';
import { startCliProcess } from '../helpers/cli-process.js';
import { waitFor } from '../helpers/poll.js';
import { freePort } from '../helpers/redis.js';
async function startCli(t, upstreamPort, drainMs, extra = []) {
    const healthPort = await freePort();
    const sk = await startCliProcess(t, upstreamPort, { args: ['--health', `127.0.0.1:${healthPort}`, '--drain-timeout', String(drainMs), ...extra] });
    return Object.assign(sk, { healthPort });
}
/** An SSE upstream: the first event at once, the second and the end when the test says so. */
async function sseUpstream(t) {
    const open = [];
    const server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('data: one\n\n');
        open.push(res);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => {
        server.closeAllConnections();
        server.close();
    });
    return { port: server.address().port, finish: () => open.forEach((res) => res.end('data: two\n\n')) };
}
/** Open the SSE stream through the proxy; `events` fills as they arrive, `ended` says how the stream ended. */
function openStream(proxyPort, upstreamPort) {
    const events = [];
    const ended = new Promise((resolve) => {
        const req = get({ host: '127.0.0.1', port: proxyPort, path: `http://127.0.0.1:${upstreamPort}/events`, headers: { accept: 'text/event-stream' } }, (res) => {
            res.setEncoding('utf8');
            res.on('data', (chunk) => events.push(...chunk.split('\n\n').filter(Boolean)));
            res.on('end', () => resolve('end'));
            res.on('error', () => resolve('cut'));
            res.on('aborted', () => resolve('cut'));
        });
        req.on('error', () => resolve('cut'));
    });
    return { events, ended };
}
function connectOutcome(port) {
    return new Promise((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.once('connect', () => {
            socket.destroy();
            resolve('connected');
        });
        socket.once('error', (err) => resolve(err.code ?? err.message));
    });
}
async function readyStatus(port) {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    await res.body?.cancel();
    return res.status;
}
const logged = (lines, event) => lines.map((l) => JSON.parse(l)).find((r) => r.event === event);
t.test('SIGTERM: an SSE stream in flight finishes, new connections are refused', async (t) => {
    const upstream = await sseUpstream(t);
    const sk = await startCli(t, upstream.port, 60_000);
    const stream = openStream(sk.proxyPort, upstream.port);
    await waitFor('the first event', () => stream.events.includes('data: one'));
    t.equal(await readyStatus(sk.healthPort), 200, 'ready before the signal');
    sk.child.kill('SIGTERM');
    await waitFor('the drain to start', () => logged(sk.lines(), 'draining'));
    t.equal(await connectOutcome(sk.proxyPort), 'ECONNREFUSED', 'a new connection is refused while draining');
    t.equal(await readyStatus(sk.healthPort), 503, 'not ready while draining');
    t.equal(sk.child.exitCode, null, 'still running while the stream is open');
    upstream.finish();
    t.equal(await stream.ended, 'end', 'the stream ends whole');
    t.same(stream.events, ['data: one', 'data: two']);
    t.equal(await sk.exited, 0, 'a clean stop once nothing is in flight');
    t.match(logged(sk.lines(), 'drained'), { drained: true, left: 0 });
    t.match(sk.lines().map((l) => JSON.parse(l)).find((r) => r.msg === 'audit' && r.event === 'request'), { status: 200 }, 'the stream has its audit line');
});
t.test('SIGTERM: a stream still open when the drain time is up is cut', async (t) => {
    const upstream = await sseUpstream(t);
    const sk = await startCli(t, upstream.port, 300);
    const stream = openStream(sk.proxyPort, upstream.port);
    await waitFor('the first event', () => stream.events.includes('data: one'));
    sk.child.kill('SIGTERM');
    t.equal(await stream.ended, 'cut', 'cut at the drain deadline');
    t.equal(await sk.exited, 0);
    t.match(logged(sk.lines(), 'drained'), { drained: false, left: 1 });
});
t.test('SIGTERM with nothing in flight: an idle keep-alive connection does not hold the stop', async (t) => {
    const upstream = await sseUpstream(t);
    const sk = await startCli(t, upstream.port, 60_000);
    // A connection that has said nothing yet, like a client's idle pooled socket.
    const idle = connect(sk.proxyPort, '127.0.0.1');
    await new Promise((resolve) => idle.once('connect', resolve));
    const closed = new Promise((resolve) => idle.once('close', resolve));
    idle.on('error', () => undefined);
    sk.child.kill('SIGTERM');
    await closed;
    t.equal(await sk.exited, 0, 'stops at once, long before the 60 s drain time');
    t.match(logged(sk.lines(), 'drained'), { drained: true, left: 0 });
});
t.test('POST /v1/shutdown (a Job\'s agent stopping a plain sidecar): only with --shutdown-endpoint, then a drain', async (t) => {
    const upstream = await sseUpstream(t);
    const off = await startCli(t, upstream.port, 60_000);
    const refused = await fetch(`http://127.0.0.1:${off.adminPort}/v1/shutdown`, { method: 'POST' });
    t.equal(refused.status, 404, 'no such endpoint without the flag');
    t.equal(refused.headers.get('x-sidekey-error'), 'SIDEKEY_ERR_NOT_FOUND');
    off.child.kill('SIGTERM');
    await off.exited;
    const on = await startCli(t, upstream.port, 60_000, ['--shutdown-endpoint']);
    const stream = openStream(on.proxyPort, upstream.port);
    await waitFor('the first event', () => stream.events.includes('data: one'));
    const accepted = await fetch(`http://127.0.0.1:${on.adminPort}/v1/shutdown`, { method: 'POST' });
    t.equal(accepted.status, 202);
    await waitFor('the drain to start', () => logged(on.lines(), 'draining'));
    upstream.finish();
    t.equal(await stream.ended, 'end', 'what is in flight still finishes');
    t.equal(await on.exited, 0);
});
//# sourceMappingURL=graceful-shutdown.test.js.map