import { connect as http2Connect, createSecureServer } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { startTestSidekey } from './sidekey.js';
import { openTunnel } from './tunnels.js';
import { startUpstream } from './upstream.js';
/**
 * Start an h2-only stand-in with a certificate for `host`; `handler` answers each stream once its
 * body has arrived (the default echoes JSON), or at once, the body unread, with `raw`.
 */
export async function startH2Upstream(trust, host, handler, options = {}) {
    const seen = [];
    const server = createSecureServer({ ...(await trust.cert(host)), allowHTTP1: options.allowHTTP1 ?? false, ...(options.settings ? { settings: options.settings } : {}) });
    server.on('request', (req, res) => {
        if (handler !== undefined && options.raw === true)
            return handler(req, res, Buffer.alloc(0));
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            // Node's compatibility API ends a request whose stream was reset (RST_STREAM) too, after
            // 'aborted': that request never arrived whole, and is not one the upstream received.
            if (req.aborted)
                return;
            const body = Buffer.concat(chunks);
            seen.push({ httpVersion: req.httpVersion, method: req.method, path: req.url, headers: req.headers, body });
            if (handler !== undefined)
                return handler(req, res, body);
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ ok: true, httpVersion: req.httpVersion, path: req.url, bytes: body.length }));
        });
    });
    const sessions = new Set();
    let sessionsOpened = 0;
    server.on('session', (s) => {
        sessionsOpened++;
        sessions.add(s);
        s.once('close', () => sessions.delete(s));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    return {
        server,
        port: server.address().port,
        seen,
        get connections() {
            return sessionsOpened;
        },
        async close() {
            for (const s of sessions)
                s.destroy();
            await new Promise((closed) => server.close(closed));
        },
    };
}
/**
 * The two upstreams most HTTP/2 tests talk to: `h2.api.test`, which speaks only HTTP/2, and
 * `h1.api.test`, which speaks only HTTP/1.1; both closed at teardown.
 */
export async function startH2AndH1Upstreams(t, trust) {
    const h2api = await startH2Upstream(trust, 'h2.api.test');
    const h1api = await startUpstream(undefined, { trust, host: 'h1.api.test' });
    t.teardown(() => Promise.all([h2api.close(), h1api.close()]));
    return { h2api, h1api };
}
/**
 * An HTTP/2 client session through sidekey: CONNECT `authority` (with `auth` as
 * Proxy-Authorization), then TLS offering only h2 (trusting `ca`), then HTTP/2 on it.
 */
export async function h2ThroughProxy(proxyPort, authority, options) {
    const tunnel = await openTunnel(proxyPort, authority, options.auth === undefined ? {} : { auth: options.auth });
    if (!/ 200 /.test(tunnel.status))
        throw new Error(`CONNECT refused: ${tunnel.status}`);
    const host = authority.replace(/:[0-9]+$/, '');
    const tls = tlsConnect({ socket: tunnel.socket, servername: options.servername ?? host, ca: options.ca, ALPNProtocols: ['h2'] });
    await new Promise((resolve, reject) => {
        tls.once('secureConnect', resolve);
        tls.once('error', reject);
    });
    if (tls.alpnProtocol !== 'h2')
        throw new Error(`sidekey chose ${String(tls.alpnProtocol)} in ALPN, not h2`);
    return connectOver(tls, host);
}
function connectOver(tls, host) {
    const session = http2Connect(`https://${host}`, { createConnection: () => tls });
    session.on('error', () => undefined);
    return new Promise((resolve, reject) => {
        session.once('connect', () => resolve(session));
        session.once('error', reject);
    });
}
/** One request on `session`: status, headers, body and trailers. */
export function h2Request(session, headers, body) {
    return new Promise((resolve, reject) => {
        const stream = session.request(headers, { endStream: body === undefined });
        let head = {};
        let trailers = null;
        const chunks = [];
        stream.on('response', (h) => (head = h));
        stream.on('trailers', (t) => (trailers = t));
        stream.on('data', (c) => chunks.push(c));
        stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks), trailers }));
        stream.on('error', reject);
        if (body !== undefined)
            stream.end(body);
    });
}
/**
 * Start sidekey for the HTTP/2 tests: the static `openai` credential (TEST_OPENAI_KEY), `routes`
 * (YAML list items), upstream certificates checked against `trust`, and each `host` of `upstreams`
 * reached on port 443 at the loopback port given.
 */
export function startH2Sidekey(t, trust, routes, upstreams) {
    const connectTo = Object.fromEntries(Object.entries(upstreams).map(([host, port]) => [`${host}:443`, { host: '127.0.0.1', port }]));
    return startTestSidekey(t, `version: v1\ncredentials:\n  openai: { type: static, env: TEST_OPENAI_KEY }\nroutes:\n${routes}`, { upstreamCaFile: trust.caFile, connectTo });
}
//# sourceMappingURL=h2.js.map