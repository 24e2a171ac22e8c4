import t from 'tap';
import { OpenedResources } from '../../src/opened-resources.js';
// What was opened closes last opened first, every closer runs even when one fails, and a second
// closeAll waits for the first instead of closing twice.
t.test('closes in reverse order, waiting for each closer', async (t) => {
    const opened = new OpenedResources();
    const log = [];
    for (const name of ['store', 'pools', 'listener']) {
        opened.add(name, async () => {
            log.push(`closing ${name}`);
            await new Promise((r) => setImmediate(r));
            log.push(`closed ${name}`);
        });
    }
    t.same(await opened.closeAll(), []);
    t.same(log, ['closing listener', 'closed listener', 'closing pools', 'closed pools', 'closing store', 'closed store']);
});
t.test('a closer that throws or rejects does not stop the others; failures are returned', async (t) => {
    const opened = new OpenedResources();
    const closed = [];
    const boom = new Error('boom');
    opened.add('first', () => closed.push('first'));
    opened.add('rejects', () => Promise.reject(boom));
    opened.add('throws', () => {
        throw new TypeError('sync');
    });
    opened.add('last', () => closed.push('last'));
    const failures = await opened.closeAll();
    t.same(closed, ['last', 'first']);
    t.same(failures.map((f) => f.what), ['throws', 'rejects']);
    t.equal(failures[1].error, boom);
});
t.test('closeAll is idempotent; opening after closing began is a wiring bug', async (t) => {
    const opened = new OpenedResources();
    let closes = 0;
    opened.add('once', () => closes++);
    const [a, b] = [opened.closeAll(), opened.closeAll()];
    t.equal(a, b, 'the same promise');
    await a;
    await opened.closeAll();
    t.equal(closes, 1);
    t.throws(() => opened.add('late', () => undefined), TypeError);
});
//# sourceMappingURL=opened-resources.test.js.map