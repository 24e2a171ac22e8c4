import { createServer } from 'node:http';
import pino from 'pino';
import t from 'tap';
import { AlertSender } from '../../src/observe/alerts.js';
import { Baseline, DEFAULT_THRESHOLDS } from '../../src/observe/baseline.js';
import { pollFor } from '../helpers/poll.js';
// An agent that raises anomalies by the thousand must not push other alerts out of the queue
// (found by a red-team run: a thousand requests to new destinations, with a webhook answering in
// 300 ms, dropped the probing and exfiltration alerts after them, approval requests included).
// A real webhook receiver on loopback, slow as Slack is.
t.test('a flood of one kind of anomaly is bounded and summarised; other alerts go first or get their turn', async (t) => {
    const received = [];
    const receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
            received.push(JSON.parse(body));
            setTimeout(() => res.writeHead(204).end(), 20);
        });
    });
    await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => receiver.close(() => r())));
    const target = { url: `http://127.0.0.1:${receiver.address().port}/hook`, timeoutMs: 2000, retries: 0, format: 'json' };
    const sender = new AlertSender(pino({ level: 'silent' }));
    t.teardown(() => sender.stop());
    for (let i = 0; i < 1000; i++)
        sender.send({ event: 'security_event', type: 'anomaly', kind: 'new-destination', workload: 'flooder', n: i }, target, 'low', 'flooder\0new-destination');
    sender.send({ event: 'security_event', type: 'anomaly', kind: 'probing', workload: 'flooder' }, target, 'low', 'flooder\0probing');
    sender.send({ event: 'security_event', type: 'anomaly', kind: 'new-destination', workload: 'bystander' }, target, 'low', 'bystander\0new-destination');
    sender.send({ type: 'approval_requested', approval: { id: 'a-1' } }, target);
    const summary = await pollFor(() => received.find((r) => r.type === 'alerts_dropped'), (r) => r !== undefined, 20_000);
    t.match(summary, { event: 'security_event', type: 'alerts_dropped', workload: 'flooder', kind: 'new-destination', dropped: 980 }, 'what was not queued is counted, in one event');
    await pollFor(() => received.length, (n) => n >= 24, 10_000);
    const floods = received.filter((r) => r.type === 'anomaly' && r.kind === 'new-destination' && r.workload === 'flooder');
    t.equal(floods.length, 20, 'twenty of the flood were sent');
    t.ok(received.some((r) => r.kind === 'probing'), 'the probing alert after the flood was sent');
    t.ok(received.some((r) => r.workload === 'bystander'), "another workload's alert was sent");
    t.ok(received.findIndex((r) => r.type === 'approval_requested') <= 1, 'the approval request went before the anomalies queued ahead of it');
    t.equal(sender.stats.dropped, 980);
    // The group drained: the next anomaly of that kind is queued again.
    const before = received.length;
    sender.send({ event: 'security_event', type: 'anomaly', kind: 'new-destination', workload: 'flooder', n: 'again' }, target, 'low', 'flooder\0new-destination');
    await pollFor(() => received.length, (n) => n > before, 5000);
    t.match(received.at(-1), { n: 'again' });
});
t.test('a destination the baseline cannot remember alerts once per window, not on every request', async (t) => {
    const windowMs = 60_000;
    const at0 = Date.UTC(2026, 10, 2, 9);
    const baseline = new Baseline('w', undefined, at0);
    // Learning: a thousand destinations fill the list.
    for (let i = 0; i < 1000; i++)
        baseline.observe({ at: at0 + i, destination: `host-${i}:443`, denied: false, bytesUp: 0 }, windowMs, 3_600_000, DEFAULT_THRESHOLDS);
    const after = at0 + 2 * 3_600_000;
    const raised = (at) => baseline.observe({ at, destination: 'same-unlisted-host:443', denied: false, bytesUp: 0 }, windowMs, 3_600_000, DEFAULT_THRESHOLDS).filter((a) => a.kind === 'new-destination');
    t.equal(raised(after).length, 1, 'the first request to it alerts');
    let again = 0;
    for (let i = 1; i < 500; i++)
        again += raised(after + i).length;
    t.equal(again, 0, 'the next 499 in the same window do not');
    t.equal(raised(after + windowMs).length, 1, 'the next window alerts once more');
    t.equal(baseline.observe({ at: after + 2, destination: 'host-5:443', denied: false, bytesUp: 0 }, windowMs, 3_600_000, DEFAULT_THRESHOLDS).length, 0, 'a known destination raises nothing');
});
//# sourceMappingURL=alert-queue.test.js.map