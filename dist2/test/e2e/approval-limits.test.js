import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { pollFor } from '../helpers/poll.js';
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream } from '../helpers/upstream.js';
// Issue #20 item 13: held requests keep their bodies in memory, and were uncapped (150 held 1 MiB
// bodies grew sidekey by 148 MiB). Held requests are now capped per workload and in total, and a
// held body may be at most what approvers are shown whole; past a cap the agent is refused at once
// with a code, a message naming the setting, and Retry-After.
async function pendingApprovals(sk) {
    const res = await request(`${sk.adminUrl}/v1/approvals`, { headers: { authorization: `Bearer ${sk.adminToken}` } });
    return (await res.body.json()).approvals.filter((a) => a.status === 'pending');
}
async function denyAll(sk) {
    for (const a of await pendingApprovals(sk)) {
        await request(`${sk.adminUrl}/v1/approvals/${a.id}/deny`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}`, 'content-type': 'application/json' }, body: '{}' }).then((r) => r.body.dump());
    }
}
async function heldGauge(sk) {
    const text = await (await request(`${sk.adminUrl}/metrics`)).body.text();
    return Number(/^sidekey_approvals_pending (\d+)$/m.exec(text)?.[1]);
}
t.test('held requests are capped', async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const port = upstream.port;
    const sk = await startTestSidekey(t, `
version: v1
approvals:
  max_held: 4
  max_held_per_workload: 2
  max_body_bytes: 2048
routes:
  - name: held
    host: held.test
    ports: [${port}]
    addresses: [127.0.0.1]
    approval: { timeout_s: 60 }
`, { connectTo: { [`held.test:${port}`]: { host: '127.0.0.1', port } } });
    const agents = new Map();
    t.teardown(() => Promise.all([...agents.values()].map((a) => a.close())));
    const send = async (workload, body = '{"x":1}') => {
        let dispatcher = agents.get(workload);
        if (dispatcher === undefined)
            agents.set(workload, (dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor(workload), proxyTunnel: false })));
        const res = await request(`http://held.test:${port}/pay`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body });
        return { status: res.statusCode, error: res.headers['x-sidekey-error'], retryAfter: res.headers['retry-after'], text: await res.body.text() };
    };
    const heldBy = async (workload, n) => pollFor(() => pendingApprovals(sk), (list) => list.filter((a) => a.workload === workload).length >= n);
    t.test('per workload: the third from one workload is refused 429 with Retry-After', async (t) => {
        const first = [send('w1'), send('w1')];
        await heldBy('w1', 2);
        const third = await send('w1');
        t.equal(third.status, 429);
        t.equal(third.error, 'SIDEKEY_ERR_TOO_MANY_HELD');
        t.match(third.text, /workload \\"w1\\" already has 2 requests waiting for approval.*approvals\.max_held_per_workload/);
        t.ok(Number(third.retryAfter) >= 1 && Number(third.retryAfter) <= 60, `Retry-After is when the first wait ends at the latest (${third.retryAfter})`);
        t.equal((await pendingApprovals(sk)).filter((a) => a.workload === 'w1').length, 2, 'the refused one was never listed');
        t.ok(await sk.sink.waitForAudit((a) => a.workload === 'w1' && a.error === 'SIDEKEY_ERR_TOO_MANY_HELD' && a.status === 429));
        t.test('in total: past max_held another workload is refused 503', async (t) => {
            const second = [send('w2'), send('w2')];
            await heldBy('w2', 2);
            t.equal(await heldGauge(sk), 4);
            const over = await send('w3');
            t.equal(over.status, 503);
            t.equal(over.error, 'SIDEKEY_ERR_APPROVALS_FULL');
            t.match(over.text, /4 requests already wait for approval.*approvals\.max_held/);
            t.ok(Number(over.retryAfter) >= 1);
            // A decision frees a slot at once.
            const oneOfW1 = (await pendingApprovals(sk)).find((a) => a.workload === 'w1');
            await request(`${sk.adminUrl}/v1/approvals/${oneOfW1.id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}`, 'content-type': 'application/json' }, body: '{}' }).then((r) => r.body.dump());
            const settled = await Promise.race(first);
            t.equal(settled.status, 200, 'the approved one went through');
            await pollFor(() => heldGauge(sk), (n) => n === 3);
            const again = send('w3');
            await heldBy('w3', 1);
            t.pass('a slot freed by a decision is usable at once');
            await denyAll(sk);
            t.same((await Promise.all([...first, ...second, again])).map((r) => r.status).sort(), [200, 403, 403, 403, 403]);
            t.equal(await heldGauge(sk), 0);
        });
    });
    t.test('a request its agent hung up on keeps its slot until it would have timed out', async (t) => {
        // Found by a red-team run: hold, hang up, repeat: each hang-up freed the slot at once, so one
        // agent put 250 requests before the approvers (and out as notifications) in 4 s.
        const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('w5'), proxyTunnel: false });
        t.teardown(() => dispatcher.close());
        for (let i = 1; i <= 2; i++) {
            const abort = new AbortController();
            const sent = request(`http://held.test:${port}/pay`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"n":${i}}`, signal: abort.signal }).catch(() => null);
            await heldBy('w5', 1);
            abort.abort();
            await sent;
            await pollFor(() => pendingApprovals(sk), (list) => !list.some((a) => a.workload === 'w5'));
        }
        const third = await send('w5');
        t.equal(third.status, 429, 'the third is refused though none waits');
        t.equal(third.error, 'SIDEKEY_ERR_TOO_MANY_HELD');
        t.match(third.text, /already has 2 requests waiting for approval or hung up on before they were decided/);
        t.ok(Number(third.retryAfter) >= 1 && Number(third.retryAfter) <= 60, `Retry-After is when the first would have timed out (${third.retryAfter})`);
    });
    t.test('a body larger than approvers are shown is not held: 413 naming the limit', async (t) => {
        const big = await send('w4', JSON.stringify({ pad: 'x'.repeat(2100) }));
        t.equal(big.status, 413);
        t.equal(big.error, 'SIDEKEY_ERR_APPROVAL_BODY_TOO_LARGE');
        t.match(big.text, /larger than the 2048 bytes approvers are shown whole \(approvals\.max_body_bytes\)/);
        t.equal((await pendingApprovals(sk)).length, 0);
    });
    noSecretsLogged(t, sk);
});
t.test('the defaults bound what the issue held (150 requests with 1 MiB bodies)', async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const port = upstream.port;
    const sk = await startTestSidekey(t, `
version: v1
routes:
  - name: held
    host: held.test
    ports: [${port}]
    addresses: [127.0.0.1]
    approval: { timeout_s: 60 }
`, { connectTo: { [`held.test:${port}`]: { host: '127.0.0.1', port } } });
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('hoarder'), proxyTunnel: false });
    t.teardown(() => dispatcher.close());
    const send = async (body) => {
        const res = await request(`http://held.test:${port}/pay`, { dispatcher, method: 'POST', body });
        await res.body.dump();
        return { status: res.statusCode, error: res.headers['x-sidekey-error'] };
    };
    t.test('bodies over 64 KiB (the default approvers are shown whole): none held, each refused 413', async (t) => {
        t.equal((await send('x'.repeat(1024 * 1024 - 1024))).error, 'SIDEKEY_ERR_APPROVAL_BODY_TOO_LARGE', 'a 1 MiB body');
        const body = 'x'.repeat(64 * 1024 + 1);
        const results = await Promise.all(Array.from({ length: 150 }, () => send(body)));
        t.equal(results.filter((r) => r.status === 413 && r.error === 'SIDEKEY_ERR_APPROVAL_BODY_TOO_LARGE').length, 150, '150 at once');
        t.equal(await heldGauge(sk), 0);
        t.equal((await pendingApprovals(sk)).length, 0);
    });
    t.test('small bodies from one workload: 10 held (the default), 140 refused 429', async (t) => {
        const results = Promise.all(Array.from({ length: 150 }, () => send('{}')));
        await pollFor(() => pendingApprovals(sk), (list) => list.length >= 10);
        // The refusals come back at once, while the 10 are still held.
        const counted = await pollFor(() => sk.sink.lines.filter((l) => l.error === 'SIDEKEY_ERR_TOO_MANY_HELD').length, (n) => n >= 140);
        t.equal(counted, 140);
        t.equal(await heldGauge(sk), 10);
        await denyAll(sk);
        const all = await results;
        t.equal(all.filter((r) => r.status === 429 && r.error === 'SIDEKEY_ERR_TOO_MANY_HELD').length, 140);
        t.equal(all.filter((r) => r.error === 'SIDEKEY_ERR_APPROVAL_DENIED').length, 10);
    });
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=approval-limits.test.js.map