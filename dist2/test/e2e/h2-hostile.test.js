import t, {} from 'tap';
import { FLAG, FRAME, frame, indexed, literal, literalIndexed, rawH2, requestBlock } from '../helpers/h2-frames.js';
import { h2Request, h2ThroughProxy, startH2Upstream } from '../helpers/h2.js';
import { pollFor } from '../helpers/poll.js';
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js';
import { basicAuth } from '../helpers/tunnels.js';
import { upstreamTrust } from '../helpers/upstream.js';
// Hostile HTTP/2 clients against sidekey's h2 server (accept/h2-server.ts), each attack written
// frame by frame: rapid reset (CVE-2023-44487), a CONTINUATION flood, an HPACK bomb, SETTINGS and
// PING floods. Each must end with sidekey defending itself (the stream or the session refused) and
// then serving a normal request on a new connection. A stream with a wrong :authority is in
// h2.test.ts (refused, the same connection then serves).
const NGHTTP2_CANCEL = 0x8;
t.test('hostile HTTP/2 clients', async (t) => {
    const trust = await upstreamTrust();
    const api = await startH2Upstream(trust, 'h2.api.test');
    t.teardown(() => api.close());
    const sk = await startTestSidekey(t, `
version: v1
routes:
  - { name: h2, host: h2.api.test, addresses: [127.0.0.1] }
`, { upstreamCaFile: trust.caFile, connectTo: { 'h2.api.test:443': { host: '127.0.0.1', port: api.port } } });
    const proxyPort = Number(new URL(sk.proxyUrl).port);
    const auth = () => basicAuth('agent', sk.runTokens.mint('agent').token);
    const attacker = () => rawH2(proxyPort, 'h2.api.test:443', { auth: auth(), ca: sk.ca.certPem });
    /** Ended by sidekey: a GOAWAY, or the connection closed. */
    const ended = async (conn) => (await pollFor(() => conn.goaway() !== null || conn.isClosed(), (done) => done, 10_000)) === true;
    /**
     * Write `data`, waiting while the socket pushes back; false once sidekey stops taking it (the
     * connection closed, or nothing drained for two seconds: it stopped reading).
     */
    const push = async (conn, data) => {
        if (conn.send(data))
            return true;
        if (conn.isClosed())
            return false;
        const drained = new Promise((resolve) => conn.socket.once('drain', () => resolve(true)));
        const gave = new Promise((resolve) => setTimeout(() => resolve(false), 2000).unref());
        return Promise.race([drained, conn.closed.then(() => false), gave]);
    };
    const stillServes = async (t, path) => {
        const session = await h2ThroughProxy(proxyPort, 'h2.api.test:443', { auth: auth(), ca: sk.ca.certPem });
        const r = await h2Request(session, { ':method': 'GET', ':path': path });
        session.close();
        t.equal(r.status, 200, 'a normal request on a new connection is served');
    };
    t.test('rapid reset: thousands of streams opened and cancelled at once', async (t) => {
        const conn = await attacker();
        t.teardown(() => conn.socket.destroy());
        const streams = 5000;
        const before = api.seen.length;
        for (let i = 0; i < streams; i++) {
            const id = 1 + 2 * i;
            conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, requestBlock('h2.api.test', `/v1/reset/${i}`)), frame(FRAME.RST_STREAM, 0, id, Buffer.from([0, 0, 0, NGHTTP2_CANCEL])));
        }
        t.ok(await ended(conn), `sidekey ended the session (GOAWAY ${conn.goaway()})`);
        const forwarded = api.seen.length - before;
        t.ok(forwarded < streams / 10, `${forwarded} of ${streams} reset streams reached the upstream`);
        await stillServes(t, '/v1/after-reset');
    });
    t.test('CONTINUATION flood: a header block that never ends', async (t) => {
        const conn = await attacker();
        t.teardown(() => conn.socket.destroy());
        conn.send(frame(FRAME.HEADERS, FLAG.END_STREAM, 1, requestBlock('h2.api.test', '/v1/continuation')));
        const piece = literal('x-filler', 'f'.repeat(200));
        for (let i = 0; i < 20_000; i++)
            if (!(await push(conn, frame(FRAME.CONTINUATION, 0, 1, piece))))
                break;
        t.ok(await ended(conn), `sidekey ended the session (GOAWAY ${conn.goaway()})`);
        t.notOk(api.seen.some((s) => s.path === '/v1/continuation'), 'the request never went up');
        await stillServes(t, '/v1/after-continuation');
    });
    t.test('HPACK bomb: a small header block that decodes to megabytes', async (t) => {
        const conn = await attacker();
        t.teardown(() => conn.socket.destroy());
        // One 4 KB field enters the dynamic table; 3,000 one-byte references to it decode to 12 MB.
        const block = requestBlock('h2.api.test', '/v1/bomb', [literalIndexed('x-bomb', 'b'.repeat(4000)), ...Array.from({ length: 3000 }, () => indexed(62))]);
        t.ok(block.length < 16_384, `the block weighs ${block.length} bytes`);
        conn.send(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, 1, block));
        const refused = await pollFor(() => conn.reset.has(1) || conn.goaway() !== null || conn.isClosed(), (done) => done, 10_000);
        t.ok(refused, `the stream was refused (RST_STREAM ${conn.reset.get(1)}, GOAWAY ${conn.goaway()})`);
        t.notOk(conn.answered.has(1), 'no answer was produced for it');
        t.notOk(api.seen.some((s) => s.path === '/v1/bomb'), 'the request never went up');
        await stillServes(t, '/v1/after-bomb');
    });
    for (const [name, make] of [
        ['SETTINGS', () => frame(FRAME.SETTINGS, 0, 0)],
        ['PING', () => frame(FRAME.PING, 0, 0, Buffer.alloc(8, 7))],
    ]) {
        t.test(`${name} flood: control frames whose acknowledgements are never read`, async (t) => {
            const conn = await attacker();
            t.teardown(() => conn.socket.destroy());
            // Not reading: every acknowledgement sidekey owes stays queued on its side.
            conn.socket.pause();
            const batch = Buffer.concat(Array.from({ length: 1000 }, make));
            let heldBack = false;
            // Up to 50 MB of frames: far past any buffer between the two ends.
            for (let i = 0; i < 3000; i++) {
                if (!(await push(conn, batch))) {
                    heldBack = !conn.isClosed();
                    break;
                }
            }
            // Either defence is sound: nghttp2 ends a session whose unsent acknowledgements pile up,
            // and Node stops reading a session it cannot write to, so they cannot pile up at all.
            const endedIt = heldBack ? false : await ended(conn);
            t.ok(endedIt || heldBack, endedIt ? `sidekey ended the session (GOAWAY ${conn.goaway()})` : 'sidekey stopped reading while its acknowledgements went unread');
            conn.socket.resume();
            await stillServes(t, `/v1/after-${name.toLowerCase()}`);
        });
    }
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=h2-hostile.test.js.map