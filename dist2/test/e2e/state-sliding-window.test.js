import t from 'tap';
import { createLogger } from '../../src/observe/logger.js';
import { loadStateSettings } from '../../src/state/config.js';
import { RedisStore } from '../../src/state/redis-store.js';
import { MemoryStore } from '../../src/state/store.js';
import { startRedis, writeStateFile } from '../helpers/redis.js';
/** A window edge for every window length used below, and a plausible epoch-ms time. */
const EPOCH = 1_800_000_000_000;
const calls = (replica, at, times = 1, key = 'k') => Array.from({ length: times }, () => ({ replica, at, key }));
/** Alternate replicas every `stepMs` from `from` for `n` calls (a, b, a, ...). */
const alternating = (from, stepMs, n) => Array.from({ length: n }, (_, i) => ({ replica: i % 2 === 0 ? 'a' : 'b', at: from + i * stepMs, key: 'k' }));
/** `n` calls by `a`, 50, 400, 1 500 and 7 000 ms apart in turn. */
const irregular = (n) => {
    let at = 0;
    return Array.from({ length: n }, (_, i) => ({ replica: 'a', at: (at += [50, 400, 1_500, 7_000][i % 4]), key: 'k' }));
};
const KEYS = Array.from({ length: 300 }, (_, i) => `key-${i}`);
const CASES = [
    {
        name: 'limit 3: the fourth waits until enough of the full window has slid out',
        limit: 3,
        windowMs: 10_000,
        skewMs: 0,
        // 10 000 is the next window: 3 still count there (refused, retry in a third of a window);
        // at 13 334 they count 3 * 0.6666 = 1.9998, so one more fits.
        calls: [...calls('a', 1_000, 4), ...calls('a', 9_999), ...calls('a', 10_000), ...calls('a', 13_334)],
        admits: 'yyynnny',
    },
    {
        name: 'requests exactly on the window edges',
        limit: 2,
        windowMs: 10_000,
        skewMs: 0,
        // 9 999 is the last millisecond of window 0, 10 000 the first of window 1, 20 000 of window 2.
        calls: [...calls('a', 9_999, 2), ...calls('a', 10_000), ...calls('a', 15_000, 2), ...calls('a', 19_999), ...calls('a', 20_000)],
        admits: 'yynynny',
    },
    {
        name: 'a window with nothing counted in it forgets the one before',
        limit: 2,
        windowMs: 10_000,
        skewMs: 0,
        calls: [...calls('a', 0, 3), ...calls('a', 29_999), ...calls('a', 30_000, 2)],
        admits: 'yynyyn',
    },
    {
        name: 'limit 1 over a minute',
        limit: 1,
        windowMs: 60_000,
        skewMs: 0,
        calls: [...calls('a', 0), ...calls('a', 59_999), ...calls('a', 60_000), ...calls('a', 119_999), ...calls('a', 120_000)],
        admits: 'ynnny',
    },
    {
        name: 'a long irregular sequence across many windows',
        limit: 5,
        windowMs: 10_000,
        skewMs: 0,
        calls: irregular(120),
    },
    {
        name: 'many keys: each counts on its own',
        limit: 2,
        windowMs: 10_000,
        skewMs: 0,
        // 1 200 counts: the in-memory store also sweeps its idle keys on the way (every 1 024th).
        calls: [0, 1, 2, 3].flatMap((round) => KEYS.map((key, i) => ({ replica: i % 2 === 0 ? 'a' : 'b', at: 5_000 + round * 10 + i, key }))),
        admits: 'y'.repeat(600) + 'n'.repeat(600),
    },
    {
        name: "a replica whose clock is 300 ms behind counts in the window the other one opened",
        limit: 10,
        windowMs: 10_000,
        skewMs: -300,
        // At 10 100 `a` is in window 1, where the 8 of window 0 count 7.92; `b` reads 9 800, still
        // window 0 by its clock: it counts at the start of window 1 (8 + 1 so far), so it fits, once.
        calls: [...calls('a', 5_000, 8), ...calls('a', 10_100), ...calls('b', 10_100), ...calls('a', 10_100), ...calls('b', 10_100)],
        admits: 'yyyyyyyyyynn',
    },
    {
        name: 'a replica whose clock is 300 ms ahead opens the next window first',
        limit: 10,
        windowMs: 10_000,
        skewMs: 300,
        calls: [...calls('a', 5_000, 8), ...calls('b', 9_800), ...calls('a', 9_850), ...calls('a', 9_900), ...calls('b', 9_900)],
        admits: 'yyyyyyyyyynn',
    },
    {
        name: 'a full window refused by both replicas, 400 ms apart, across an edge',
        limit: 3,
        windowMs: 2_000,
        skewMs: -400,
        calls: [...calls('a', 100, 3), ...calls('b', 100), ...calls('a', 2_000), ...calls('b', 2_300), ...calls('b', 2_500), ...calls('a', 2_700), ...calls('b', 4_300), ...calls('a', 4_300)],
    },
    {
        name: 'two replicas 250 ms apart taking turns over three windows',
        limit: 5,
        windowMs: 2_000,
        skewMs: 250,
        calls: alternating(0, 150, 40),
    },
    {
        name: 'two replicas 700 ms apart taking turns over three windows',
        limit: 4,
        windowMs: 2_000,
        skewMs: -700,
        calls: alternating(1_000, 110, 60),
    },
    {
        name: 'both replicas on the same edge by their own clocks',
        limit: 4,
        windowMs: 10_000,
        skewMs: -300,
        calls: [...calls('a', 9_000, 4), ...calls('a', 10_000), ...calls('b', 10_000), ...calls('b', 10_300), ...calls('a', 10_300), ...calls('b', 10_300)],
    },
];
/** One answer as the comparison and a failure message show it. */
const show = (r) => `${r.allowed ? 'admitted' : 'refused'} count ${r.count} retry ${r.retryAfterMs} ms`;
t.test('the in-memory and the Redis sliding window agree', async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const settings = (await loadStateSettings(await writeStateFile(redis.dir, redis.url))).redis;
    const silent = createLogger({ level: 'silent' });
    const replicas = { a: await RedisStore.open(settings, silent), b: await RedisStore.open(settings, silent) };
    t.teardown(() => Promise.all([replicas.a.close(), replicas.b.close()]));
    for (const [index, c] of CASES.entries()) {
        t.test(c.name, async (t) => {
            let reading = EPOCH;
            const memory = new MemoryStore(() => reading);
            const mismatches = [];
            let admits = '';
            for (const [i, call] of c.calls.entries()) {
                reading = EPOCH + call.at + (call.replica === 'b' ? c.skewMs : 0);
                const inMemory = await memory.countSliding(call.key, c.limit, c.windowMs, reading);
                const inRedis = await replicas[call.replica].countSliding(`case-${index}:${call.key}`, c.limit, c.windowMs, reading);
                admits += inRedis.allowed ? 'y' : 'n';
                // Retry-after is rounded up to whole milliseconds on both sides; allow that rounding.
                if (inMemory.allowed !== inRedis.allowed || inMemory.count !== inRedis.count || Math.abs(inMemory.retryAfterMs - inRedis.retryAfterMs) > 1) {
                    mismatches.push(`call ${i} (${call.replica} at ${call.at}, key ${call.key}): memory ${show(inMemory)}, redis ${show(inRedis)}`);
                }
            }
            t.same(mismatches, [], 'the same answers, call by call');
            if (c.admits !== undefined)
                t.equal(admits, c.admits, 'admitted and refused as worked out by hand');
        });
    }
});
//# sourceMappingURL=state-sliding-window.test.js.map