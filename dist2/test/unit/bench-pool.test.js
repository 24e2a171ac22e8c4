import t from 'tap';
import { median, pool } from '../../bench/pool.js';
// bench/pool.ts pools the #15 rows of several bench runs: the HTTP/2 share is held against the
// HTTP/1.1 share of the same round (never of another run), the relay's beside it, and gRPC's
// rounds are pooled as they are. A run without the rows adds nothing.
const round = (share, floorShare) => ({ share, cpuMs: 0.3, ...(floorShare === undefined ? {} : { floorShare, floorCpuMs: 0.2 }) });
t.test('median', async (t) => {
    t.equal(median([3, 1, 2]), 2);
    t.equal(median([4, 1, 2, 3]), 2.5);
    t.ok(Number.isNaN(median([])), 'no rounds: no median');
});
t.test('HTTP/2 against the same round of HTTP/1.1, gRPC pooled', async (t) => {
    const runA = [
        { scenario: 'HTTP/1.1 keep-alive, h2load --h1 -c 128', rounds: [round(0.2, 0.3), round(0.1, 0.3)] },
        { scenario: 'HTTP/2, h2load -c 4 -m 32 (transparent TLS)', rounds: [round(0.15, 0.25), round(0.15, 0.35)] },
        { scenario: 'gRPC unary, 32 callers on one channel (grpc-js)', rounds: [round(0.45, 0.6), round(0.55, 0.6)] },
    ];
    const runB = [{ scenario: 'gRPC unary, 32 callers on one channel (grpc-js)', rounds: [round(0.6)] }, { scenario: 'intercepted HTTPS, keep-alive' }];
    // A run without the #15 rows, ending as every run does: with figures that are no row.
    const runC = [{ scenario: 'intercepted HTTPS, keep-alive' }, { peakRssMiB: 250 }];
    const { h2, grpc, cpu } = pool([runA, runB, runC]);
    t.equal(h2.runs, 1, 'one run had both h2load rows');
    t.same(h2.sidekey.map((d) => Math.round(d * 100) / 100), [-0.05, 0.05], 'round by round');
    t.same(h2.relay.map((d) => Math.round(d * 100) / 100), [-0.05, 0.05], "the relay's, round by round");
    t.equal(grpc.runs, 2);
    t.same(grpc.shares, [0.45, 0.55, 0.6], "every run's gRPC rounds");
    t.same(grpc.relay, [0.6, 0.6], 'the relay only where it ran');
    t.equal(cpu.relayGrpc.length, 1, "a run without the relay has no relay CPU");
    t.equal(median(grpc.shares), 0.55);
});
//# sourceMappingURL=bench-pool.test.js.map