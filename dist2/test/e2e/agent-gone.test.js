import t, {} from 'tap';
import { FLAG, FRAME, frame, literal, rawH2 } from '../helpers/h2-frames.js';
import { startH2Sidekey } from '../helpers/h2.js';
import { noSecretsLogged } from '../helpers/sidekey.js';
import { basicAuth, openTunnel } from '../helpers/tunnels.js';
import { startUpstream, upstreamTrust } from '../helpers/upstream.js';
// An agent that hangs up is not an upstream that failed. Whether an HTTP/1.1 agent closes its
// connection or an HTTP/2 agent resets its stream, mid-body, while its body is read whole for a
// condition, or while the answer is awaited, its request has one audit line, with
// SIDEKEY_ERR_AGENT_GONE (499, nginx's "client closed request"), and metrics count it as
// `agent-gone`. Before, each read as the upstream's reset (SIDEKEY_ERR_UPSTREAM_RESET, 502), a
// body read whole as sidekey's own internal error, and an HTTP/1.1 connection ended mid-body got
// a second line calling it a malformed request.
t.test('an agent that goes away is reported as gone, not as an upstream failure', async (t) => {
    const trust = await upstreamTrust();
    // Answers a second late, so an agent can give up while it waits.
    const upstream = await startUpstream((_req, res) => setTimeout(() => res.end('late'), 1000), { trust, host: 'gone.api.test' });
    t.teardown(() => upstream.close());
    const sk = await startH2Sidekey(t, trust, `  - { name: buffered, host: gone.api.test, paths: ['/buffered/**'], credential: openai, addresses: [127.0.0.1], conditions: { max_body_bytes: 1000 } }
  - { name: gone, host: gone.api.test, credential: openai, addresses: [127.0.0.1] }
`, { 'gone.api.test': upstream.port });
    const port = Number(new URL(sk.proxyUrl).port);
    const auth = (workload) => basicAuth(workload, sk.runTokens.mint(workload).token);
    /** The one audit line of `workload`'s request, checked to be the only one once the tunnel's is written. */
    const onlyLine = async (t, workload) => {
        await sk.sink.waitForAudit((a) => a.workload === workload && a.event === 'tunnel');
        const lines = sk.sink.audits.filter((a) => a.workload === workload && a.event === 'request');
        t.equal(lines.length, 1, `${workload}: one audit line for the request (${lines.map((l) => l.error).join(', ')})`);
        return lines[0];
    };
    t.test('HTTP/1.1: the connection closed mid-body, while the body is read whole, and while the answer is awaited', async (t) => {
        const requests = [
            ['h1-mid-body', 'POST /v1/upload HTTP/1.1\r\nHost: gone.api.test\r\nContent-Length: 100\r\n\r\nonly ten b'],
            ['h1-mid-body-read-whole', 'POST /buffered/upload HTTP/1.1\r\nHost: gone.api.test\r\nTransfer-Encoding: chunked\r\n\r\na\r\nonly ten b\r\n'],
            ['h1-awaiting-answer', 'GET /v1/slow HTTP/1.1\r\nHost: gone.api.test\r\n\r\n'],
        ];
        for (const [workload, request] of requests) {
            const tunnel = await openTunnel(port, 'gone.api.test:443', { auth: auth(workload), tls: { ca: sk.ca.certPem } });
            tunnel.stream.write(request);
            // Let the head be decided and the request start on its way.
            await new Promise((r) => setTimeout(r, 300));
            tunnel.socket.destroy();
            t.match(await onlyLine(t, workload), { error: 'SIDEKEY_ERR_AGENT_GONE', status: 499, level: 'info' }, workload);
        }
    });
    t.test('HTTP/2: the stream reset mid-body, while the body is read whole, and while the answer is awaited', async (t) => {
        const head = (path, end) => frame(FRAME.HEADERS, FLAG.END_HEADERS | (end ? FLAG.END_STREAM : 0), 1, Buffer.concat([literal(':method', end ? 'GET' : 'POST'), literal(':scheme', 'https'), literal(':authority', 'gone.api.test'), literal(':path', path)]));
        const streams = [
            ['h2-mid-body', [head('/v1/upload', false), frame(FRAME.DATA, 0, 1, Buffer.from('part of a body'))]],
            ['h2-mid-body-read-whole', [head('/buffered/upload', false), frame(FRAME.DATA, 0, 1, Buffer.from('part of a body'))]],
            ['h2-awaiting-answer', [head('/v1/slow', true)]],
        ];
        for (const [workload, frames] of streams) {
            const conn = await rawH2(port, 'gone.api.test:443', { auth: auth(workload), ca: sk.ca.certPem });
            conn.send(...frames);
            await new Promise((r) => setTimeout(r, 300));
            conn.send(frame(FRAME.RST_STREAM, 0, 1, Buffer.from([0, 0, 0, 8]))); // CANCEL
            const line = await sk.sink.waitForAudit((a) => a.workload === workload && a.event === 'request');
            t.match(line, { error: 'SIDEKEY_ERR_AGENT_GONE', status: 499, protocol: 'h2', level: 'info' }, workload);
            conn.socket.destroy();
            await onlyLine(t, workload);
        }
    });
    t.test('no request cut short reached the upstream whole', async (t) => {
        await new Promise((r) => setTimeout(r, 200));
        t.same(upstream.seen.map((s) => s.url).filter((u) => u !== '/v1/slow'), []);
    });
    t.test('metrics count them as agent-gone, never as failed', async (t) => {
        const metrics = await (await fetch(`${sk.adminUrl}/metrics`)).text();
        for (const workload of ['h1-mid-body', 'h1-mid-body-read-whole', 'h1-awaiting-answer', 'h2-mid-body', 'h2-mid-body-read-whole', 'h2-awaiting-answer']) {
            t.match(metrics, new RegExp(`sidekey_requests_total\\{[^}]*workload="${workload}"[^}]*outcome="agent-gone"[^}]*\\} 1\\n`), workload);
            t.notMatch(metrics, new RegExp(`workload="${workload}"[^}]*event="request"[^}]*outcome="(failed|refused)"`), `${workload}: not failed or refused`);
        }
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=agent-gone.test.js.map