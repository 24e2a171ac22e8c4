import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCA } from '../../src/ca/authority.js';
import { createLeafKey, mintLeaf } from '../../src/ca/leaf.js';
const defaultHandler = (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: true, path: req.url }));
};
/** Create a CA for upstream stand-ins (separate from sidekey's own CA). */
export async function upstreamTrust() {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-upstream-ca-'));
    const ca = await createCA(dir);
    const leafKey = createLeafKey();
    return {
        caFile: join(dir, 'ca.pem'),
        caPem: ca.certPem,
        async cert(host) {
            return { key: leafKey.privateKeyPem, cert: await mintLeaf(ca, leafKey, host) };
        },
    };
}
/** Start a stand-in. With `tls`, it serves HTTPS with a certificate for `tls.host` from `tls.trust`. */
export async function startUpstream(handler = defaultHandler, tls) {
    const seen = [];
    const onRequest = (req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body });
            handler(req, res, body);
        });
    };
    const server = tls ? createHttpsServer(await tls.trust.cert(tls.host), onRequest) : createHttpServer(onRequest);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    return {
        server,
        port: server.address().port,
        seen,
        close: () => new Promise((r) => {
            server.closeAllConnections();
            server.close(() => r());
        }),
    };
}
//# sourceMappingURL=upstream.js.map