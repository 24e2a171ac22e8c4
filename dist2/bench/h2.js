/**
 * Issue #15's figures for `npm run bench`: HTTP/2 and gRPC through sidekey against a direct call
 * to the same upstream, in the same run.
 *
 * - Many streams over few connections: Debian's `h2load` (nghttp2-client). It cannot speak to a
 *   CONNECT proxy, so it reaches sidekey's transparent TLS listener instead, with `--connect-to`:
 *   the request URI keeps the upstream's name, so the SNI and `:authority` name it, as they would
 *   for a redirected connection.
 * - gRPC unary calls: `@grpc/grpc-js` in this process, a few concurrent callers on one channel,
 *   finding sidekey through `grpc_proxy` (CONNECT) as any gRPC client does; the server (in the
 *   upstream process) refuses a call without the credential sidekey injects.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { median, ROW_PREFIX } from './pool.js';
/** The unary method both sides use: raw bytes each way, so no .proto file is needed. */
export const BENCH_GRPC_PATH = '/sidekey.bench.Echo/Unary';
const identity = (b) => b;
const ECHO_SERVICE = {
    Unary: { path: BENCH_GRPC_PATH, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
};
/** h2load's option for this shape: 4 connections, 32 streams in flight on each. */
const H2LOAD_SHAPE = ['-c', '4', '-m', '32', '-t', '1'];
/** The same 128 requests in flight over HTTP/1.1: 128 keep-alive connections, one request at a time. */
const H1LOAD_SHAPE = ['--h1', '-c', '128', '-m', '1', '-t', '1'];
/** True when Debian's h2load is on PATH. */
export function haveH2load() {
    return new Promise((resolve) => execFile('sh', ['-c', 'command -v h2load'], (err) => resolve(err === null)));
}
/** Run h2load for `seconds` against `url`, connecting to `connectTo` (host:port) instead. */
export function h2load(url, connectTo, seconds, shape = H2LOAD_SHAPE) {
    return new Promise((resolve) => {
        execFile('h2load', [...shape, '-D', `${Math.max(1, Math.round(seconds))}`, `--connect-to=${connectTo}`, url], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (_err, out) => {
            const num = (re) => Number(re.exec(out)?.[1] ?? NaN);
            // "time for request:  min  max  mean  sd  +/- sd", each with its unit.
            const ms = (v) => (v === undefined ? NaN : v.endsWith('us') ? parseFloat(v) / 1000 : v.endsWith('ms') ? parseFloat(v) : parseFloat(v) * 1000);
            const timing = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
            const ok = num(/([0-9]+) 2xx/);
            const failed = num(/([0-9]+) failed/);
            const errored = num(/([0-9]+) errored/);
            const non2xx = [3, 4, 5].map((c) => [c, num(new RegExp(`([0-9]+) ${c}xx`))]).filter(([, n]) => n > 0);
            const other = [...non2xx.map(([c, n]) => `${n}x${c}xx`), failed > 0 ? `${failed} failed` : '', errored > 0 ? `${errored} errored` : '', Number.isNaN(ok) ? `h2load: ${out.trim().split('\n').slice(-2).join('; ')}` : ''].filter(Boolean).join(' ');
            resolve({ rps: num(/finished in [0-9.]+m?s, ([0-9.]+) req\/s/), meanMs: ms(timing?.[3]), maxMs: ms(timing?.[2]), ok: Number.isNaN(ok) ? 0 : ok, other });
        });
    });
}
/** Unary calls through `client`, `callers` at a time, for as long as `more()` says; the calls that succeeded and the failures, by message. */
async function unaryCalls(client, metadata, callers, more) {
    let ok = 0;
    const failures = new Map();
    await Promise.all(Array.from({ length: callers }, async () => {
        while (more()) {
            try {
                await unaryCall(client, metadata);
                ok++;
            }
            catch (err) {
                const key = err.details ?? String(err);
                failures.set(key, (failures.get(key) ?? 0) + 1);
            }
        }
    }));
    return { ok, failures: [...failures].map(([k, n]) => `${n}x ${k}`).join('; ') };
}
function unaryCall(client, metadata) {
    return new Promise((resolve, reject) => client.makeUnaryRequest(BENCH_GRPC_PATH, identity, identity, Buffer.from('ping'), metadata, (err) => (err ? reject(err) : resolve())));
}
/** Calls per second of `callers` concurrent unary calls for `seconds`, and any failures. */
async function unaryLoad(client, metadata, callers, seconds) {
    await unaryCall(client, metadata); // connect (and through sidekey: CONNECT, TLS, h2) before the clock starts
    const started = performance.now();
    const end = started + seconds * 1000;
    const { ok, failures } = await unaryCalls(client, metadata, callers, () => performance.now() < end);
    return { cps: ok / ((performance.now() - started) / 1000), ok, failures };
}
/** `total` unary calls through `client`, `callers` at a time; the failures, by message. */
async function unaryCount(client, callers, total) {
    let left = total;
    return (await unaryCalls(client, new grpc.Metadata(), callers, () => left-- > 0)).failures;
}
/**
 * BENCH_CALLGRIND=1: the instructions sidekey runs per gRPC unary call, counted by callgrind.
 * sidekey runs under valgrind; its counters are zeroed before the counted calls and dumped after.
 *
 * BENCH_CALLGRIND_WARMUP calls (12,000) come first, uncounted, so that V8 has optimized the hot
 * path: it does so after about 10,000 calls, and with fewer the count measures V8's tier-up and
 * moves by a fifth from run to run. Then BENCH_CALLGRIND_CALLS calls (2,000) are counted, the
 * row's callers at a time. BENCH_CALLGRIND_KEEP=FILE keeps the dump, for callgrind_annotate.
 *
 * Instructions are what the code does, whatever else the machine is doing, so two builds can be
 * counted side by side; this shared machine's rates cannot tell changes below about 15%
 * (docs/benchmarks.md). A count is not time: memory stalls and the kernel's side of system calls
 * are not in it.
 */
export async function grpcInstructions(t, pid, dir) {
    const calls = Number(process.env.BENCH_CALLGRIND_CALLS ?? 2000);
    const warm = Number(process.env.BENCH_CALLGRIND_WARMUP ?? 12000);
    const control = async (args) => {
        await new Promise((resolve, reject) => execFile('callgrind_control', [...args, String(pid)], (err) => (err ? reject(err) : resolve())));
    };
    const client = grpcClient(t, true);
    try {
        const warmFailures = await unaryCount(client, GRPC_CALLERS, warm);
        if (warmFailures !== '')
            throw new Error(`gRPC calls through sidekey failed: ${warmFailures}`);
        await control(['-z']);
        const failures = await unaryCount(client, GRPC_CALLERS, calls);
        await control(['-d']);
        const dumps = (await readdir(dir)).filter((f) => f.startsWith(`callgrind.out.${pid}.`));
        const text = await readFile(join(dir, dumps.sort().at(-1)), 'utf8');
        const total = Number(/^(?:summary|totals): (\d+)/m.exec(text)?.[1] ?? NaN);
        if (process.env.BENCH_CALLGRIND_KEEP)
            await writeFile(process.env.BENCH_CALLGRIND_KEEP, text);
        console.log(`gRPC unary through sidekey under callgrind: ${(total / calls / 1e6).toFixed(3)} million instructions per call (${calls} calls counted after ${warm}, ${GRPC_CALLERS} callers)${failures ? `  !! ${failures}` : ''}`);
    }
    finally {
        client.close();
    }
}
/**
 * A gRPC channel to the bench server: direct (no proxy, the upstream's CA; at `port`, the minimal
 * relay's, which presents the upstream's certificate) or through sidekey.
 */
function grpcClient(t, through, port = t.grpcPort) {
    const Echo = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
    if (!through) {
        return new Echo(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(t.upstreamCaPem)), {
            'grpc.enable_http_proxy': 0,
            'grpc.ssl_target_name_override': t.grpcHost,
            'grpc.default_authority': t.grpcHost,
        });
    }
    // grpc-js reads the proxy from the environment when the channel is made.
    const before = process.env.grpc_proxy;
    process.env.grpc_proxy = t.proxyUrl;
    try {
        return new Echo(`${t.grpcHost}:443`, grpc.credentials.createSsl(Buffer.from(t.sidekeyCaPem)));
    }
    finally {
        if (before === undefined)
            delete process.env.grpc_proxy;
        else
            process.env.grpc_proxy = before;
    }
}
/** The gRPC server run by the bench upstream: answers only calls carrying `Bearer <key>`. */
export function startBenchGrpcServer(key, keyPem, certPem) {
    const server = new grpc.Server();
    server.addService(ECHO_SERVICE, {
        Unary(call, cb) {
            if (call.metadata.get('authorization')[0] !== `Bearer ${key}`)
                cb({ code: grpc.status.UNAUTHENTICATED, details: 'no injected credential' });
            else
                cb(null, Buffer.from('pong'));
        },
    });
    return new Promise((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(keyPem), cert_chain: Buffer.from(certPem) }]), (err, port) => (err ? reject(err) : resolve(port))));
}
/** Concurrent gRPC callers on the one channel (BENCH_GRPC_CALLERS, for experiments). */
const GRPC_CALLERS = Number(process.env.BENCH_GRPC_CALLERS ?? 32);
/** Seconds each path of each row runs unmeasured before the rounds (BENCH_H2_WARMUP; 0 for none). */
const WARMUP_S = Number(process.env.BENCH_H2_WARMUP ?? 8);
/** Rounds of each HTTP/2 and gRPC row (BENCH_H2_ROUNDS): direct and through sidekey alternate, medians are reported. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_H2_ROUNDS ?? 3));
/**
 * Run the rows and print one line each, with the share of direct and the issue's goal: h2 at least
 * the HTTP/1.1 keep-alive share, gRPC at least 0.5. Each path of each row is first warmed for
 * `BENCH_H2_WARMUP` seconds (8), unmeasured. Each row runs `BENCH_H2_ROUNDS` rounds (3),
 * direct then through sidekey, rows interleaved, so that a slow spell of this shared machine lands
 * on both sides of a share; the line gives the median of each figure and how many rounds met the goal.
 */
export async function h2Scenarios(t, key, keepAliveShare, grpcOnly = false) {
    const cpuPer = async (work, count, cpuS = t.sidekeyCpuS) => {
        const before = await cpuS();
        const r = await work();
        return [r, (((await cpuS()) - before) * 1000) / Math.max(1, count(r))];
    };
    const floor = t.floor;
    const rows = [];
    if (grpcOnly) {
        // BENCH_ONLY=grpc: the gRPC row alone.
    }
    else if (await haveH2load()) {
        // h2load, 128 requests in flight, against the same kind of server (Node's http2 server, the
        // HTTP/1.1 one with allowHTTP1): HTTP/1.1 keep-alive on both legs, then HTTP/2 on both.
        const h2loadRow = (name, kind, host, port, shape) => ({
            name,
            kind,
            unit: 'req/s',
            rounds: [],
            measure: async () => {
                const url = `https://${host}/`;
                const d = await h2load(url, `127.0.0.1:${port}`, t.seconds, shape);
                const [s, cpuMs] = await cpuPer(() => h2load(url, `127.0.0.1:${t.transparentPort}`, t.seconds, shape), (r) => r.ok);
                const round = { direct: d.rps, sidekey: s.rps, share: s.rps / d.rps, cpuMs, other: [d.other, s.other].filter(Boolean).join(' ') };
                if (floor === undefined)
                    return round;
                const [f, floorCpuMs] = await cpuPer(() => h2load(url, `127.0.0.1:${floor.port}`, t.seconds, shape), (r) => r.ok, floor.cpuS);
                return { ...round, floorShare: f.rps / d.rps, floorCpuMs, other: [round.other, f.other && `floor: ${f.other}`].filter(Boolean).join(' ') };
            },
            warm: async (seconds) => {
                const url = `https://${host}/`;
                for (const to of [port, t.transparentPort, ...(floor === undefined ? [] : [floor.port])])
                    await h2load(url, `127.0.0.1:${to}`, seconds, shape);
            },
        });
        rows.push(h2loadRow(`${ROW_PREFIX.h1} --h1 -c 128`, 'h1', t.h1Host, t.h1Port, H1LOAD_SHAPE));
        rows.push(h2loadRow(`${ROW_PREFIX.h2} -c 4 -m 32 (transparent TLS)`, 'h2', t.h2Host, t.h2Port, H2LOAD_SHAPE));
    }
    else {
        console.log('HTTP/2 scenario skipped: h2load not installed (apt-get install nghttp2-client)');
    }
    const direct = grpcClient(t, false);
    const through = grpcClient(t, true);
    const toFloor = floor === undefined ? null : grpcClient(t, false, floor.port);
    // Direct, the client sends the credential itself; through sidekey it holds none.
    const withKey = new grpc.Metadata();
    withKey.set('authorization', `Bearer ${key}`);
    rows.push({
        name: `${ROW_PREFIX.grpc}, ${GRPC_CALLERS} callers on one channel (grpc-js)`,
        kind: 'grpc',
        unit: 'calls/s',
        rounds: [],
        measure: async () => {
            const d = await unaryLoad(direct, withKey, GRPC_CALLERS, t.seconds);
            const [s, cpuMs] = await cpuPer(() => unaryLoad(through, new grpc.Metadata(), GRPC_CALLERS, t.seconds), (r) => r.ok);
            const round = { direct: d.cps, sidekey: s.cps, share: s.cps / d.cps, cpuMs, other: [d.failures && `direct: ${d.failures}`, s.failures && `sidekey: ${s.failures}`].filter(Boolean).join(' ') };
            if (floor === undefined || toFloor === null)
                return round;
            const [f, floorCpuMs] = await cpuPer(() => unaryLoad(toFloor, new grpc.Metadata(), GRPC_CALLERS, t.seconds), (r) => r.ok, floor.cpuS);
            return { ...round, floorShare: f.cps / d.cps, floorCpuMs, other: [round.other, f.failures && `floor: ${f.failures}`].filter(Boolean).join(' ') };
        },
        warm: async (seconds) => {
            await unaryLoad(direct, withKey, GRPC_CALLERS, seconds);
            await unaryLoad(through, new grpc.Metadata(), GRPC_CALLERS, seconds);
            if (toFloor !== null)
                await unaryLoad(toFloor, new grpc.Metadata(), GRPC_CALLERS, seconds);
        },
    });
    // BENCH_H2_ROWS=h2 (or h1, grpc, a comma list) runs only those rows, e.g. to profile one.
    const only = process.env.BENCH_H2_ROWS?.split(',');
    if (only !== undefined)
        rows.splice(0, rows.length, ...rows.filter((r) => only.includes(r.kind)));
    try {
        // Each path warmed first, unmeasured: V8 optimizes a function that runs once per call only
        // after some thousands of calls (sidekey's per-stream functions after about 10,000 gRPC calls,
        // --trace-opt), and until then a round measures the baseline compilers and TurboFan compiling
        // on the other core. A sidecar runs for days; the rows measure it warm.
        if (WARMUP_S > 0)
            for (const row of rows)
                await row.warm(WARMUP_S);
        for (let round = 0; round < ROUNDS; round++)
            for (const row of rows)
                row.rounds.push(await row.measure());
    }
    finally {
        direct.close();
        through.close();
        toFloor?.close();
    }
    const h1 = rows.find((r) => r.kind === 'h1');
    const results = [];
    for (const row of rows) {
        const m = (pick) => median(row.rounds.map(pick));
        const share = m((r) => r.share);
        // The goal, on the medians and round by round (each round's h2 share against the same round's HTTP/1.1 share).
        const goals = [];
        if (row.kind === 'grpc')
            goals.push(goalText(share, 0.5, '', row.rounds.filter((r) => r.share >= 0.5).length, row.rounds.length));
        if (row.kind === 'h2' && h1 !== undefined) {
            const held = row.rounds.filter((r, i) => r.share >= h1.rounds[i].share).length;
            goals.push(goalText(share, median(h1.rounds.map((r) => r.share)), ' (h2load HTTP/1.1 row)', held, row.rounds.length));
        }
        if (row.kind === 'h2' && keepAliveShare !== undefined && !Number.isNaN(keepAliveShare)) {
            goals.push(goalText(share, keepAliveShare, ' (hey keep-alive row)', row.rounds.filter((r) => r.share >= keepAliveShare).length, row.rounds.length));
        }
        const other = row.rounds.map((r) => r.other).filter(Boolean).join(' ');
        console.log(`${row.name.padEnd(48)} direct ${m((r) => r.direct).toFixed(0).padStart(6)} ${row.unit} | sidekey ${m((r) => r.sidekey).toFixed(0).padStart(6)} ${row.unit} | ratio ${share.toFixed(2)} (rounds ${row.rounds.map((r) => r.share.toFixed(2)).join(', ')}) | sidekey CPU ${m((r) => r.cpuMs).toFixed(3)} ms/${row.kind === 'grpc' ? 'call' : 'req'}${goals.join('')}${other ? `  !! ${other}` : ''}`);
        if (floor !== undefined) {
            const floorShares = row.rounds.map((r) => r.floorShare ?? NaN);
            let floorGoal = '';
            if (row.kind === 'h2' && h1 !== undefined) {
                const held = row.rounds.filter((r, i) => (r.floorShare ?? NaN) >= (h1.rounds[i].floorShare ?? NaN)).length;
                floorGoal = ` | its HTTP/2 share >= its HTTP/1.1 share (${median(h1.rounds.map((r) => r.floorShare ?? NaN)).toFixed(2)}): ${held} of ${row.rounds.length} rounds`;
            }
            if (row.kind === 'grpc')
                floorGoal = ` | >= 0.50: ${floorShares.filter((x) => x >= 0.5).length} of ${row.rounds.length} rounds`;
            console.log(`${'  the same through a minimal Node relay'.padEnd(48)} ratio ${median(floorShares).toFixed(2)} (rounds ${floorShares.map((x) => x.toFixed(2)).join(', ')}) | relay CPU ${median(row.rounds.map((r) => r.floorCpuMs ?? NaN)).toFixed(3)} ms/${row.kind === 'grpc' ? 'call' : 'req'}${floorGoal}`);
        }
        results.push({ scenario: row.name, rounds: row.rounds, ratio: share, directPerS: m((r) => r.direct), sidekeyPerS: m((r) => r.sidekey), sidekeyCpuMs: m((r) => r.cpuMs), ...(row.kind === 'grpc' ? { callers: GRPC_CALLERS, goal: 0.5 } : {}) });
    }
    if (rows.every((r) => r.kind === 'grpc') && !grpcOnly)
        results.push({ scenario: 'HTTP/2 many streams (h2load -c 4 -m 32)', skipped: 'no h2load' });
    return results;
}
/** " | goal >= bar: met (k of n rounds)", on the median share. */
function goalText(share, bar, against, held, rounds) {
    return ` | goal${against} >= ${bar.toFixed(2)}: ${share >= bar ? 'met' : 'NOT met'} (${held} of ${rounds} rounds)`;
}
//# sourceMappingURL=h2.js.map