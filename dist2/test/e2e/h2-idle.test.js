import t from 'tap';
import { h2Request, h2ThroughProxy, startH2Upstream } from '../helpers/h2.js';
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js';
import { basicAuth } from '../helpers/tunnels.js';
import { upstreamTrust } from '../helpers/upstream.js';
// An agent's HTTP/2 connection is closed once it has had no stream open for the idle timeout, as
// an idle HTTP/1.1 keep-alive connection is; a stream open longer than that (a held request, a
// long gRPC call) keeps it open. Open streams are counted per session by each stream's request
// object (accept/h2-server-request.ts).
const IDLE_MS = 500;
t.test('an idle HTTP/2 connection is closed, one with a stream open is not', async (t) => {
    const trust = await upstreamTrust();
    let release = () => undefined;
    const held = new Promise((resolve) => (release = resolve));
    const api = await startH2Upstream(trust, 'h2.api.test', (req, res) => {
        const answer = () => {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end('ok');
        };
        if (req.url === '/hold')
            void held.then(answer);
        else
            answer();
    });
    t.teardown(() => api.close());
    const sk = await startTestSidekey(t, 'version: v1\nroutes:\n  - { name: h2, host: h2.api.test, addresses: [127.0.0.1] }\n', {
        upstreamCaFile: trust.caFile,
        connectTo: { 'h2.api.test:443': { host: '127.0.0.1', port: api.port } },
        config: { idleTimeoutMs: IDLE_MS },
    });
    const proxyPort = Number(new URL(sk.proxyUrl).port);
    const connect = () => h2ThroughProxy(proxyPort, 'h2.api.test:443', { auth: basicAuth('agent', sk.runTokens.mint('agent').token), ca: sk.ca.certPem });
    const closedWithin = (session, ms) => new Promise((resolve) => {
        if (session.closed || session.destroyed)
            return resolve(true);
        const timer = setTimeout(() => resolve(false), ms);
        session.once('close', () => {
            clearTimeout(timer);
            resolve(true);
        });
    });
    t.test('no stream open: closed after the idle timeout', async (t) => {
        const session = await connect();
        t.teardown(() => session.destroy());
        const r = await h2Request(session, { ':method': 'GET', ':path': '/' });
        t.equal(r.status, 200);
        t.ok(await closedWithin(session, IDLE_MS * 8), 'sidekey closed the idle connection');
    });
    t.test('a stream open past the idle timeout keeps the connection open', async (t) => {
        const session = await connect();
        t.teardown(() => session.destroy());
        const answer = h2Request(session, { ':method': 'GET', ':path': '/hold' });
        t.notOk(await closedWithin(session, IDLE_MS * 3), 'still open while the held request waits');
        release();
        t.equal((await answer).status, 200, 'the held request is answered');
        // Its stream closed: the connection is idle again, and closed like any other.
        t.ok(await closedWithin(session, IDLE_MS * 8), 'closed once idle after the answer');
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=h2-idle.test.js.map