import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { startTestSidekey } from '../helpers/sidekey.js';
// Large bodies both ways, through the real proxy, with a slow side on each end: the transfer
// completes byte for byte, which it could not if sidekey dropped chunks or ignored backpressure
// (it would have to buffer everything, or lose data).
const MB = 1024 * 1024;
function* blocks(count, seed) {
    for (let i = 0; i < count; i++)
        yield Buffer.alloc(MB, (seed + i) % 251);
}
t.test('large uploads and downloads stream with backpressure', async (t) => {
    const upstream = createServer((req, res) => {
        if (req.url === '/download') {
            res.writeHead(200, { 'content-type': 'application/octet-stream' });
            Readable.from(blocks(32, 7)).pipe(res);
            return;
        }
        // A slow reader: pause after each chunk.
        const hash = createHash('sha256');
        let size = 0;
        req.on('data', (c) => {
            hash.update(c);
            size += c.length;
            req.pause();
            setTimeout(() => req.resume(), 1);
        });
        req.on('end', () => res.end(JSON.stringify({ size, sha256: hash.digest('hex') })));
    });
    await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => { upstream.closeAllConnections(); upstream.close(() => r()); }));
    const port = upstream.address().port;
    const sk = await startTestSidekey(t, `version: v1\nroutes:\n  - { name: bulk, host: bulk.test, ports: [${port}], addresses: [127.0.0.1] }\n`, {
        connectTo: { [`bulk.test:${port}`]: { host: '127.0.0.1', port } },
    });
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('mover'), proxyTunnel: false });
    t.teardown(() => dispatcher.close());
    t.test('32 MiB up to a slow reader', async (t) => {
        const expected = createHash('sha256');
        for (const b of blocks(32, 3))
            expected.update(b);
        const res = await request(`http://bulk.test:${port}/upload`, { dispatcher, method: 'POST', body: Readable.from(blocks(32, 3)) });
        t.same(await res.body.json(), { size: 32 * MB, sha256: expected.digest('hex') });
        const line = await sk.sink.waitForAudit((a) => a.path === '/upload');
        t.equal(line.bytes_up, 32 * MB);
    });
    t.test('32 MiB down to a slow reader', async (t) => {
        const expected = createHash('sha256');
        for (const b of blocks(32, 7))
            expected.update(b);
        const res = await request(`http://bulk.test:${port}/download`, { dispatcher });
        const got = createHash('sha256');
        let size = 0;
        for await (const chunk of res.body) {
            got.update(chunk);
            size += chunk.length;
            await new Promise((r) => setImmediate(r));
        }
        t.equal(size, 32 * MB);
        t.equal(got.digest('hex'), expected.digest('hex'));
        const line = await sk.sink.waitForAudit((a) => a.path === '/download');
        t.equal(line.bytes_down, 32 * MB);
    });
});
//# sourceMappingURL=streaming.test.js.map