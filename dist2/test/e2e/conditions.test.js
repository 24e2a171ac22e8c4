import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { compilePolicy } from '../../src/policy/load.js';
import { PolicyInvalidError } from '../../src/errors.js';
import { MemoryStore } from '../../src/state/store.js';
import { quotaWindow } from '../../src/guard/conditions.js';
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream } from '../helpers/upstream.js';
// Conditional access through the real proxy with a real client (undici): time windows, rate
// limits, quotas, body size, CEL predicates over method, path, query, headers and the JSON body.
// The clock is sidekey's injected `now`, so windows and quotas are tested without waiting.
const run = promisify(execFile);
t.test('route conditions', async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const port = upstream.port;
    // Wednesday 2026-11-25 10:00 Europe/Berlin (09:00 UTC).
    let clock = Date.parse('2026-11-25T09:00:00Z');
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - name: office-hours
    host: hours.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      time: { days: [mon-fri], from: "09:00", to: "18:00", zone: Europe/Berlin }
  - name: night
    host: night.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      time: { days: [fri], from: "22:00", to: "06:00", zone: UTC }
  - name: limited
    host: rate.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      rate: { requests: 3, per_s: 60, window: fixed }
  - name: daily
    host: quota.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      quota: { requests: 2, per: day, zone: Europe/Berlin }
  - name: payments
    host: pay.test
    ports: [${port}]
    addresses: [127.0.0.1]
    credential: key
    conditions:
      max_body_bytes: 512
      cel:
        - 'request.method == "POST"'
        - 'body.amount <= 1000'
  - name: models
    host: llm.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['body.model in ["gpt-4o-mini"]', 'request.headers["x-team"] == "research" && request.query.dry == "1"']
  - name: mcp
    host: mcp.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['body.method == "tools/call" && body.params.name in ["read_issue", "list_issues"]']
  - name: notes
    host: notes.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['!body.note.matches("^(a+)+$")']
`, {
        now: () => clock,
        connectTo: Object.fromEntries(['hours', 'night', 'rate', 'quota', 'pay', 'llm', 'mcp', 'notes'].map((h) => [`${h}.test:${port}`, { host: '127.0.0.1', port }])),
    });
    const send = async (host, path = '/', init = {}) => {
        const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor(init.workload ?? 'agent'), proxyTunnel: false });
        try {
            const res = await request(`http://${host}:${port}${path}`, { dispatcher, method: init.method ?? 'GET', headers: init.headers, body: init.body });
            const text = await res.body.text();
            return { status: res.statusCode, error: res.headers['x-sidekey-error'], retryAfter: res.headers['retry-after'], text };
        }
        finally {
            await dispatcher.close();
        }
    };
    t.test('time window: inside, outside by hour, outside by day', async (t) => {
        clock = Date.parse('2026-11-25T09:00:00Z'); // Wed 10:00 Berlin
        t.equal((await send('hours.test')).status, 200);
        clock = Date.parse('2026-11-25T17:30:00Z'); // Wed 18:30 Berlin
        const late = await send('hours.test');
        t.equal(late.status, 403);
        t.equal(late.error, 'SIDEKEY_ERR_OUTSIDE_TIME_WINDOW');
        t.match(late.text, /mon-fri 09:00-18:00 Europe\/Berlin/);
        t.ok(await sk.sink.waitForAudit((a) => a.condition === 'time' && a.error === 'SIDEKEY_ERR_OUTSIDE_TIME_WINDOW'));
        clock = Date.parse('2026-11-28T09:00:00Z'); // Saturday
        t.equal((await send('hours.test')).error, 'SIDEKEY_ERR_OUTSIDE_TIME_WINDOW');
    });
    t.test('an overnight window belongs to the day it starts', async (t) => {
        clock = Date.parse('2026-11-27T23:00:00Z'); // Fri 23:00
        t.equal((await send('night.test')).status, 200);
        clock = Date.parse('2026-11-28T05:00:00Z'); // Sat 05:00, still Friday night
        t.equal((await send('night.test')).status, 200);
        clock = Date.parse('2026-11-28T23:00:00Z'); // Sat 23:00
        t.equal((await send('night.test')).status, 403);
    });
    t.test('rate limit per workload and route: 429 with Retry-After, then a new window', async (t) => {
        clock = Date.parse('2026-11-25T09:00:10Z');
        for (let i = 0; i < 3; i++)
            t.equal((await send('rate.test', '/', { workload: 'r1' })).status, 200);
        const over = await send('rate.test', '/', { workload: 'r1' });
        t.equal(over.status, 429);
        t.equal(over.error, 'SIDEKEY_ERR_RATE_LIMITED');
        t.equal(over.retryAfter, '50', 'the fixed window ends 50 s later');
        t.ok(await sk.sink.waitForAudit((a) => a.condition === 'rate' && a.status === 429));
        t.equal((await send('rate.test', '/', { workload: 'r2' })).status, 200, 'another workload has its own count');
        clock = Date.parse('2026-11-25T09:01:00Z');
        t.equal((await send('rate.test', '/', { workload: 'r1' })).status, 200, 'the next window admits again');
    });
    t.test('daily quota resets at local midnight', async (t) => {
        clock = Date.parse('2026-11-25T20:00:00Z'); // 21:00 Berlin
        t.equal((await send('quota.test', '/', { workload: 'q' })).status, 200);
        t.equal((await send('quota.test', '/', { workload: 'q' })).status, 200);
        const over = await send('quota.test', '/', { workload: 'q' });
        t.equal(over.status, 429);
        t.equal(over.error, 'SIDEKEY_ERR_QUOTA_EXCEEDED');
        t.equal(over.retryAfter, String(3 * 3600), 'three hours to Berlin midnight');
        clock = Date.parse('2026-11-25T23:00:01Z'); // 00:00:01 Berlin, next day
        t.equal((await send('quota.test', '/', { workload: 'q' })).status, 200);
    });
    t.test('CEL over the JSON body, with the credential injected only when it holds', async (t) => {
        clock = Date.parse('2026-11-25T09:00:00Z');
        const before = upstream.seen.length;
        const ok = await send('pay.test', '/refund', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ amount: 250 }) });
        t.equal(ok.status, 200);
        t.equal(upstream.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
        t.equal(upstream.seen.at(-1).body, '{"amount":250}', 'the buffered body is forwarded unchanged');
        const big = await send('pay.test', '/refund', { method: 'POST', body: JSON.stringify({ amount: 5000 }) });
        t.equal(big.status, 403);
        t.equal(big.error, 'SIDEKEY_ERR_CONDITION_FAILED');
        t.match(big.text, /cel\[1\] body.amount <= 1000/);
        t.ok(await sk.sink.waitForAudit((a) => a.condition === 'cel[1] body.amount <= 1000' && a.route === 'payments'));
        const get = await send('pay.test', '/refund');
        t.equal(get.error, 'SIDEKEY_ERR_CONDITION_FAILED');
        t.match(get.text, /cel\[0\]/);
        t.equal(upstream.seen.length, before + 1, 'only the allowed request reached the upstream');
    });
    t.test('a body that is not JSON, a missing field, a chunked or oversized body: clear refusals', async (t) => {
        const notJson = await send('pay.test', '/refund', { method: 'POST', body: 'amount=5' });
        t.equal(notJson.error, 'SIDEKEY_ERR_CONDITION_UNDECIDABLE');
        t.match(notJson.text, /not JSON/);
        const missing = await send('pay.test', '/refund', { method: 'POST', body: '{"currency":"eur"}' });
        t.equal(missing.error, 'SIDEKEY_ERR_CONDITION_UNDECIDABLE');
        t.match(missing.text, /amount/);
        const large = await send('pay.test', '/refund', { method: 'POST', body: JSON.stringify({ amount: 1, pad: 'x'.repeat(600) }) });
        t.equal(large.status, 413);
        t.equal(large.error, 'SIDEKEY_ERR_BODY_TOO_LARGE');
        const chunked = await send('pay.test', '/refund', { method: 'POST', body: Readable.from([Buffer.from('{"amount":'), Buffer.from('12}')]) });
        t.equal(chunked.status, 200, 'a chunked body is buffered and evaluated');
        t.equal(upstream.seen.at(-1).body, '{"amount":12}');
        const chunkedLarge = await send('pay.test', '/refund', { method: 'POST', body: Readable.from([Buffer.alloc(400, 32), Buffer.alloc(400, 32)]) });
        t.equal(chunkedLarge.status, 413);
    });
    t.test('model allow-list, headers and query', async (t) => {
        const h = { 'x-team': 'research', 'content-type': 'application/json' };
        t.equal((await send('llm.test', '/v1/chat?dry=1', { method: 'POST', headers: h, body: '{"model":"gpt-4o-mini"}' })).status, 200);
        t.equal((await send('llm.test', '/v1/chat?dry=1', { method: 'POST', headers: h, body: '{"model":"gpt-4o"}' })).error, 'SIDEKEY_ERR_CONDITION_FAILED');
        t.equal((await send('llm.test', '/v1/chat?dry=0', { method: 'POST', headers: h, body: '{"model":"gpt-4o-mini"}' })).error, 'SIDEKEY_ERR_CONDITION_FAILED');
        t.equal((await send('llm.test', '/v1/chat?dry=1&__proto__=x', { method: 'POST', headers: { ...h, __proto__: 'y' }, body: '{"model":"gpt-4o-mini"}' })).status, 200, 'a parameter named __proto__ is only a name');
    });
    t.test('MCP JSON-RPC: only the allowed tools', async (t) => {
        const call = (name) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } });
        t.equal((await send('mcp.test', '/mcp', { method: 'POST', body: call('read_issue') })).status, 200);
        const del = await send('mcp.test', '/mcp', { method: 'POST', body: call('delete_repo') });
        t.equal(del.status, 403);
        t.equal(del.error, 'SIDEKEY_ERR_CONDITION_FAILED');
        t.equal((await send('mcp.test', '/mcp', { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }) })).status, 403);
    });
    t.test('matches() is RE2 in linear time: a body built to backtrack is decided at once, and the next request is served', async (t) => {
        // In JavaScript's backtracking RegExp, 35 a's and a "!" against ^(a+)+$ take minutes.
        const hostile = sendNotes(`${'a'.repeat(30000)}!`);
        const next = sendNotes('hello');
        t.equal((await hostile).status, 200, 'not all a: the condition holds');
        t.equal((await next).status, 200, 'the event loop was free for the next request');
        t.equal((await sendNotes('aaaa')).error, 'SIDEKEY_ERR_CONDITION_FAILED', 'all a: refused');
    });
    const sendNotes = (note) => send('notes.test', '/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ note }) });
    t.test('sidekey explain names the condition', async (t) => {
        const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
        // Asked of the running sidekey, which reaches pay.test through --connect-to: the files alone cannot say the address is allowed.
        const args = [cli, 'explain', 'POST', 'http://pay.test/refund', '--admin', sk.adminUrl.replace('http://', ''), '--workload', 'agent', '--body', '{"amount": 5000}'];
        // Ports in the URL: the route matches only the stand-in's port.
        args[3] = `http://pay.test:${port}/refund`;
        const out = await run(process.execPath, args).then((r) => ({ code: 0, stdout: r.stdout }), (e) => ({ code: e.code, stdout: e.stdout }));
        t.equal(out.code, 1, 'a failing condition exits 1');
        t.match(out.stdout, /pass\s+cel\[0\] request.method == "POST"/);
        t.match(out.stdout, /fail\s+cel\[1\] body.amount <= 1000/);
        const ok = await run(process.execPath, [cli, 'explain', 'POST', `http://pay.test:${port}/refund`, '--admin', sk.adminUrl.replace('http://', ''), '--workload', 'agent', '--body', '{"amount": 5}']);
        t.match(ok.stdout, /pass\s+cel\[1\]/);
    });
    t.test('the audit line and metrics name refusals by condition', async (t) => {
        const res = await request(`${sk.adminUrl}/metrics`);
        const text = await res.body.text();
        t.match(text, /sidekey_condition_refusals_total\{route="payments",condition="cel\[1\]"\} [1-9]/);
        t.match(text, /sidekey_condition_refusals_total\{route="limited",condition="rate"\} 1/);
    });
    noSecretsLogged(t, sk);
});
t.test('report-only: a failed condition is logged and let through without the credential', async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: small, host: pay.test, ports: [${upstream.port}], addresses: [127.0.0.1], credential: key, conditions: { cel: ['body.amount <= 10'] } }
`, { reportOnly: true, connectTo: { [`pay.test:${upstream.port}`]: { host: '127.0.0.1', port: upstream.port } } });
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('ro'), proxyTunnel: false });
    t.teardown(() => dispatcher.close());
    const res = await request(`http://pay.test:${upstream.port}/x`, { dispatcher, method: 'POST', body: '{"amount": 99}' });
    await res.body.dump();
    t.equal(res.statusCode, 200);
    t.equal(upstream.seen.at(-1).headers.authorization, undefined, 'no credential for a request enforcement would refuse');
    t.equal(upstream.seen.at(-1).body, '{"amount": 99}');
    const audit = await sk.sink.waitForAudit((a) => a.route === 'small');
    t.equal(audit.report_only, true);
    t.equal(audit.reason, 'would-refuse:condition-failed');
    t.equal(audit.condition, 'cel[0] body.amount <= 10');
});
t.test('policy load: conditions compile or fail with file and line', async (t) => {
    const load = (yaml) => compilePolicy([{ file: 'p.yaml', text: yaml }]);
    const err = t.throws(() => load(`version: v1
routes:
  - name: a
    host: a.test
    conditions:
      cel:
        - 'body.amount <='
        - '1 + "a" == 2'
        - '1 + 2'
        - 'request.path.matches("^/(?!admin)")'
      time: { from: "09:00", to: "18:00", zone: Mars/Olympus }
      quota: { requests: 1, per: day, zone: Nowhere/Atall }
  - name: b
    host: b.test
    action: deny
    conditions: { rate: { requests: 1, per_s: 1 } }
`));
    t.ok(err instanceof PolicyInvalidError);
    const lines = err.problems.map((p) => `${p.line} ${p.path}: ${p.message}`);
    t.match(lines.join('\n'), /7 routes\[0\]\.conditions\.cel\[0\]: not valid CEL/);
    t.match(lines.join('\n'), /8 routes\[0\]\.conditions\.cel\[1\]: not valid CEL: no such overload/);
    t.match(lines.join('\n'), /9 routes\[0\]\.conditions\.cel\[2\]: must be a boolean expression, not int/);
    t.match(lines.join('\n'), /10 routes\[0\]\.conditions\.cel\[3\]: matches\(\): "\^\/\(\?!admin\)" is not an RE2 pattern .*no look-around/, 'a look-ahead is refused when policy loads (CEL regular expressions are RE2)');
    t.match(lines.join('\n'), /11 routes\[0\]\.conditions\.time: "Mars\/Olympus" is not an IANA time zone/);
    t.match(lines.join('\n'), /12 routes\[0\]\.conditions\.quota\.zone/);
    t.match(lines.join('\n'), /routes\[1\]\.conditions: conditions applies to action allow only/);
    const bad = t.throws(() => load('version: v1\nroutes:\n  - { name: c, host: c.test, conditions: { time: { from: "9:00", to: "18:00" } } }\n'));
    t.match(bad.problems[0], { line: 3, path: 'routes[0].conditions.time.from' });
});
t.test('sliding window: the previous window counts by how much of it still overlaps', async (t) => {
    const store = new MemoryStore(() => 0);
    const at = (s) => s * 1000;
    for (let i = 0; i < 10; i++)
        t.ok((await store.countSliding('k', 10, 60_000, at(30))).allowed);
    t.notOk((await store.countSliding('k', 10, 60_000, at(59))).allowed, 'the first window is full');
    // 15 s into the next window, 75% of the previous one (10) still counts: 7.5, so 2 more fit.
    t.ok((await store.countSliding('k', 10, 60_000, at(75))).allowed);
    t.ok((await store.countSliding('k', 10, 60_000, at(75))).allowed);
    const refused = await store.countSliding('k', 10, 60_000, at(75));
    t.notOk(refused.allowed);
    t.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 45_000, `retry after ${refused.retryAfterMs} ms`);
    t.ok((await store.countSliding('k', 10, 60_000, at(119))).allowed, 'near the end of the window the old one has slid out');
});
t.test('a quota window lasts to the real local midnight, on the days daylight saving changes too', async (t) => {
    // Found by a red-team run: on the 25-hour day the count expired at 23:00 local while its key (the
    // date) stayed the same, so a daily quota was granted again for the last hour.
    const q = (per, zone) => ({ requests: 3, per, zone, onStoreError: 'refuse' });
    const cases = [
        ['an ordinary day', '2026-11-25T09:00:00Z', 'day', 'Europe/Berlin', '2026-11-25', '2026-11-25T23:00:00Z'],
        ['the 25-hour day (clocks go back)', '2026-10-24T22:30:00Z', 'day', 'Europe/Berlin', '2026-10-25', '2026-10-25T23:00:00Z'],
        ['the 23-hour day (clocks go forward)', '2026-03-28T23:30:00Z', 'day', 'Europe/Berlin', '2026-03-29', '2026-03-29T22:00:00Z'],
        ['the repeated hour counts as one hour (both 02:00s have one key)', '2026-10-25T00:30:00Z', 'hour', 'Europe/Berlin', '2026-10-25T2', '2026-10-25T02:00:00Z'],
        ['New York, the 25-hour day', '2026-11-01T04:30:00Z', 'day', 'America/New_York', '2026-11-01', '2026-11-02T05:00:00Z'],
        ['a half-hour zone', '2026-11-25T09:10:00Z', 'hour', 'Asia/Kolkata', '2026-11-25T14', '2026-11-25T09:30:00Z'],
    ];
    for (const [name, at, per, zone, key, ends] of cases) {
        const now = Date.parse(at);
        const w = quotaWindow(q(per, zone), now);
        t.equal(w.key, key, `${name}: key`);
        t.equal(new Date(now + w.ttlMs).toISOString(), new Date(Date.parse(ends)).toISOString(), `${name}: ends when the key changes`);
    }
});
//# sourceMappingURL=conditions.test.js.map