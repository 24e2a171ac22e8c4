/**
 * The floor for `npm run bench`'s HTTP/2 and gRPC rows: the least a Node.js proxy can do on the
 * same path as sidekey's transparent TLS listener, run as a process of its own so its CPU is
 * measured apart. It terminates TLS (ALPN h2 and http/1.1, a certificate per SNI), sets one header
 * (the injected credential), and relays: HTTP/2 streams over Node's core `http2` stream API to one
 * HTTP/2 session per upstream (trailers passed on, as gRPC needs), HTTP/1.1 requests through
 * undici's `Pool` dispatch API, as sidekey sends them. No policy, no audit, no scrubbing, no limits: nothing
 * sidekey could leave out.
 *
 * If this relay keeps a smaller share of the direct rate on HTTP/2 than on HTTP/1.1, the #15 goal
 * "HTTP/2 keeps at least HTTP/1.1's share" is out of reach of any proxy on Node's HTTP/2, sidekey
 * included; the bench prints the relay's shares beside sidekey's (bench/h2.ts).
 *
 * Environment: FLOOR_ROUTES (JSON: host to `{ port, certPem }`), KEY_PEM (the certificates' key),
 * UPSTREAM_CA_PEM, BENCH_KEY, FLOOR_H2_API=compat to serve HTTP/2 through Node's compatibility
 * API instead, and FLOOR_H1_CLIENT=https to send HTTP/1.1 upstream with `https.request` over a
 * keep-alive agent instead (Node's own client, slower than undici: with it the floor's HTTP/1.1
 * share was 0.15 - 0.22 against 0.30 - 0.32 with undici). Prints `{"port": n}` once listening.
 */
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer as createH2Server } from 'node:http2';
import { Pool } from 'undici';
import { createSecureContext, createServer as createTlsServer } from 'node:tls';
const routes = JSON.parse(process.env.FLOOR_ROUTES ?? '{}');
const keyPem = process.env.KEY_PEM ?? '';
const ca = process.env.UPSTREAM_CA_PEM ?? '';
const bearer = `Bearer ${process.env.BENCH_KEY ?? ''}`;
const contexts = new Map(Object.entries(routes).map(([host, r]) => [host, createSecureContext({ key: keyPem, cert: r.certPem })]));
const hostOf = (authority) => (authority ?? '').replace(/:[0-9]+$/, '');
/** One HTTP/2 session per upstream host, made again once it is gone. */
const sessions = new Map();
function sessionFor(host) {
    const open = sessions.get(host);
    if (open !== undefined && !open.closed && !open.destroyed)
        return open;
    const session = connect(`https://127.0.0.1:${routes[host].port}`, { servername: host, ca });
    session.on('error', () => undefined);
    session.once('close', () => sessions.get(host) === session && sessions.delete(host));
    sessions.set(host, session);
    return session;
}
const h2 = createH2Server();
// FLOOR_H2_API=compat: the agent side through Node's compatibility API (request and response
// objects per stream, as sidekey's HTTP/2 server has them), to measure what that API costs.
if (process.env.FLOOR_H2_API === 'compat') {
    h2.on('request', (req, res) => {
        const host = hostOf(req.headers[':authority']);
        if (routes[host] === undefined)
            return void res.writeHead(421).end();
        const up = sessionFor(host).request({ ...req.headers, authorization: bearer }, { endStream: req.stream.endAfterHeaders });
        up.on('trailers', (t) => res.addTrailers(t));
        up.on('response', (head) => {
            if (res.destroyed)
                return void up.destroy();
            const { ':status': status, ...fields } = head;
            res.writeHead(Number(status), fields);
            up.pipe(res);
        });
        up.on('error', () => res.destroy());
        res.on('error', () => up.destroy());
        if (!req.stream.endAfterHeaders)
            req.pipe(up);
    });
}
else
    h2.on('stream', (stream, headers) => {
        const host = hostOf(headers[':authority']);
        if (routes[host] === undefined)
            return stream.respond({ ':status': 421 }, { endStream: true });
        const up = sessionFor(host).request({ ...headers, authorization: bearer }, { endStream: stream.endAfterHeaders });
        let trailers = {};
        up.on('trailers', (t) => (trailers = t));
        up.on('response', (head) => {
            // The client may have cancelled meanwhile (h2load does at the end of its run).
            if (stream.destroyed)
                return void up.destroy();
            const grpc = String(head['content-type'] ?? '').startsWith('application/grpc');
            stream.respond(head, { waitForTrailers: grpc });
            if (grpc)
                stream.once('wantTrailers', () => stream.sendTrailers(trailers));
            up.pipe(stream);
        });
        up.on('error', () => stream.destroy());
        stream.on('error', () => up.destroy());
        if (!stream.endAfterHeaders)
            stream.pipe(up);
    });
const agent = new HttpsAgent({ keepAlive: true, ca });
/** One undici pool per upstream host, driven as sidekey drives it (dispatch, no body stream per request). */
const pools = new Map();
const poolFor = (host) => {
    let pool = pools.get(host);
    if (pool === undefined)
        pools.set(host, (pool = new Pool(`https://127.0.0.1:${routes[host].port}`, { connect: { ca, servername: host } })));
    return pool;
};
const h1 = createHttpServer((req, res) => {
    const host = hostOf(req.headers.host);
    if (routes[host] === undefined)
        return res.writeHead(421).end();
    if (process.env.FLOOR_H1_CLIENT !== 'https') {
        const headers = [];
        for (let i = 0; i < req.rawHeaders.length; i += 2)
            if (req.rawHeaders[i].toLowerCase() !== 'connection')
                headers.push(req.rawHeaders[i], req.rawHeaders[i + 1]);
        headers.push('authorization', bearer);
        const handler = {
            onRequestStart() { },
            onResponseStart(controller, status, fields) {
                res.writeHead(status, fields);
                res.on('drain', () => controller.resume());
            },
            onResponseData(controller, chunk) {
                if (!res.write(chunk))
                    controller.pause();
            },
            onResponseEnd() {
                res.end();
            },
            onResponseError() {
                res.destroy();
            },
        };
        poolFor(host).dispatch({ method: req.method ?? 'GET', path: req.url ?? '/', headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, handler);
        return;
    }
    const up = httpsRequest({ host: '127.0.0.1', port: routes[host].port, servername: host, agent, method: req.method, path: req.url, headers: { ...req.headers, authorization: bearer } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
});
const tls = createTlsServer({ key: keyPem, cert: Object.values(routes)[0]?.certPem, ALPNProtocols: ['h2', 'http/1.1'], SNICallback: (name, cb) => cb(null, contexts.get(name)) }, (socket) => {
    socket.on('error', () => undefined);
    if (socket.alpnProtocol === 'h2')
        h2.emit('connection', socket);
    else
        h1.emit('connection', socket);
});
tls.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: tls.address().port })));
// Exit on SIGTERM rather than die of it, so a profile (BENCH_FLOOR_NODE_ARGS=--cpu-prof) is written.
process.once('SIGTERM', () => process.exit(0));
//# sourceMappingURL=floor-relay.js.map