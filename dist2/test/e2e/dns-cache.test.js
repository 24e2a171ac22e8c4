import t from 'tap';
import { cachingResolver } from '../../src/forward/dns-cache.js';
t.test('concurrent lookups share one, answers expire, failures are not kept', async (t) => {
    let calls = 0;
    let fail = false;
    const resolver = cachingResolver(async () => {
        calls++;
        if (fail)
            throw Object.assign(new Error('nope'), { code: 'ENOTFOUND' });
        return [{ address: '93.184.216.34', family: 4 }];
    }, { ttlMs: 50 });
    const answers = await Promise.all(Array.from({ length: 10 }, () => resolver('example.com')));
    t.equal(calls, 1, 'ten concurrent lookups, one resolution');
    t.equal(answers[9][0].address, '93.184.216.34');
    await new Promise((r) => setTimeout(r, 60));
    fail = true;
    await t.rejects(resolver('example.com'), { code: 'ENOTFOUND' });
    t.equal(calls, 2, 'expired answer looked up again');
    fail = false;
    await resolver('example.com');
    t.equal(calls, 3, 'a failure is not cached');
});
//# sourceMappingURL=dns-cache.test.js.map