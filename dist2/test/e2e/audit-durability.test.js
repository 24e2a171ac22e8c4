import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t, {} from 'tap';
import { ProxyAgent, request } from 'undici';
import { startCliProcess } from '../helpers/cli-process.js';
import { waitFor } from '../helpers/poll.js';
// `sidekey start` writes its log (every audit line) buffered, in batches. None may be lost: under
// load, a SIGTERM and an uncaught error each end the process, and every request a client saw
// completed has its audit line on standard output, whole.
const CRASH = join(process.cwd(), 'test/fixtures/crash-after.mjs');
async function startCli(t, upstreamPort, env = {}) {
    const sk = await startCliProcess(t, upstreamPort, { env });
    return Object.assign(sk, { proxy: `http://127.0.0.1:${sk.proxyPort}` });
}
/** Send requests from 16 clients until `stop()` says so or one fails; count those answered 200. */
function load(proxy, upstreamPort) {
    const dispatcher = new ProxyAgent({ uri: proxy });
    let completed = 0;
    let stopped = false;
    const loops = Array.from({ length: 16 }, async () => {
        while (!stopped) {
            try {
                const r = await request(`http://127.0.0.1:${upstreamPort}/x`, { dispatcher });
                await r.body.text();
                if (r.statusCode === 200)
                    completed++;
            }
            catch {
                return;
            }
        }
    });
    return {
        completed: () => completed,
        stop: async () => {
            stopped = true;
            await Promise.all(loops);
            await dispatcher.destroy();
        },
    };
}
function auditedOk(lines) {
    let n = 0;
    for (const line of lines) {
        const record = JSON.parse(line);
        if (record.msg === 'audit' && record.event === 'request' && record.status === 200)
            n++;
    }
    return n;
}
t.test('no audit line is lost when sidekey stops', async (t) => {
    const upstream = createServer((_req, res) => res.end('ok'));
    await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    t.teardown(() => upstream.close());
    const upstreamPort = upstream.address().port;
    t.test('SIGTERM under load', async (t) => {
        const sk = await startCli(t, upstreamPort);
        const traffic = load(sk.proxy, upstreamPort);
        await waitFor('500 requests answered', () => traffic.completed() >= 500, 60_000);
        sk.child.kill('SIGTERM');
        t.equal(await sk.exited, 0, 'a clean stop');
        await traffic.stop();
        const lines = sk.lines();
        t.doesNotThrow(() => lines.forEach((l) => JSON.parse(l)), 'every line is whole JSON');
        t.ok(auditedOk(lines) >= traffic.completed(), `${auditedOk(lines)} audit lines for ${traffic.completed()} requests answered`);
    });
    t.test('an uncaught error under load', async (t) => {
        const sk = await startCli(t, upstreamPort, { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(CRASH).href}` });
        const traffic = load(sk.proxy, upstreamPort);
        await waitFor('500 requests answered', () => traffic.completed() >= 500, 60_000);
        sk.child.kill('SIGUSR2');
        t.equal(await sk.exited, 1, 'the process dies with the error');
        await traffic.stop();
        const lines = sk.lines();
        t.doesNotThrow(() => lines.forEach((l) => JSON.parse(l)), 'every line is whole JSON');
        t.ok(traffic.completed() > 0, 'requests were answered before the error');
        t.ok(auditedOk(lines) >= traffic.completed(), `${auditedOk(lines)} audit lines for ${traffic.completed()} requests answered`);
        t.ok(lines.some((l) => l.includes('"event":"uncaught_error"')), 'the error itself is logged');
    });
});
//# sourceMappingURL=audit-durability.test.js.map