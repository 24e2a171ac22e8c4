/**
 * `node dist/bench/pool.js FILE...`: issue #15's goals over the rounds of several bench runs at once.
 *
 * One run's three rounds cannot tell a goal met from one missed on this shared machine: its speed
 * moves by a quarter or more between the measurements of one round, and the HTTP/2 goal compares
 * two shares that sit within a few hundredths of each other. Each run keeps its rounds in its
 * results file (`BENCH_RESULTS=FILE npm run bench`, default bench/results.json); this pools them:
 *
 * - HTTP/2: round by round, the HTTP/2 share less the same round's HTTP/1.1 share (h2load rows),
 *   for sidekey and for the minimal relay beside it; the goal is met when the median difference
 *   is not below zero.
 * - gRPC: every round's share; the goal is met when the median is at least 0.5.
 *
 * Medians and counts only: the rounds are not independent enough for more (a slow spell spans
 * several), and the printout says how many runs and rounds each figure stands on.
 */
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
/** How bench/h2.ts's row names begin; results files are matched on them. */
export const ROW_PREFIX = { h1: 'HTTP/1.1 keep-alive, h2load', h2: 'HTTP/2, h2load', grpc: 'gRPC unary' };
/** The relay's figures, from the rounds it ran in. */
function relay(rounds, pick) {
    return rounds.flatMap((r) => (r[pick] === undefined ? [] : [r[pick]]));
}
/** The median of `values` (NaN for none). */
export function median(values) {
    if (values.length === 0)
        return NaN;
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
/** The pooled figures of the #15 rows over `runs` (each a results file's `results`). */
export function pool(runs) {
    const out = { h2: { sidekey: [], relay: [], runs: 0 }, grpc: { shares: [], relay: [], runs: 0 }, cpu: { h1: [], h2: [], grpc: [], relayH1: [], relayH2: [], relayGrpc: [] } };
    for (const results of runs) {
        const row = (prefix) => results.find((r) => r.scenario?.startsWith(prefix) === true)?.rounds;
        const h1 = row(ROW_PREFIX.h1);
        const h2 = row(ROW_PREFIX.h2);
        const grpc = row(ROW_PREFIX.grpc);
        if (h1 !== undefined && h2 !== undefined && h1.length === h2.length) {
            out.h2.runs++;
            h2.forEach((r, i) => {
                out.h2.sidekey.push(r.share - h1[i].share);
                if (r.floorShare !== undefined && h1[i].floorShare !== undefined)
                    out.h2.relay.push(r.floorShare - h1[i].floorShare);
            });
            out.cpu.h1.push(median(h1.map((r) => r.cpuMs)));
            out.cpu.h2.push(median(h2.map((r) => r.cpuMs)));
            const [relayH1, relayH2] = [relay(h1, 'floorCpuMs'), relay(h2, 'floorCpuMs')];
            if (relayH1.length > 0 && relayH2.length > 0) {
                out.cpu.relayH1.push(median(relayH1));
                out.cpu.relayH2.push(median(relayH2));
            }
        }
        if (grpc !== undefined) {
            out.grpc.runs++;
            out.grpc.shares.push(...grpc.map((r) => r.share));
            out.grpc.relay.push(...relay(grpc, 'floorShare'));
            out.cpu.grpc.push(median(grpc.map((r) => r.cpuMs)));
            const relayCpu = relay(grpc, 'floorCpuMs');
            if (relayCpu.length > 0)
                out.cpu.relayGrpc.push(median(relayCpu));
        }
    }
    return out;
}
const f2 = (x) => (Number.isNaN(x) ? '-' : x.toFixed(2));
const signed = (x) => (Number.isNaN(x) ? '-' : `${x >= 0 ? '+' : ''}${x.toFixed(3)}`);
const ratios = (a, b) => a.map((x, i) => f2(x / b[i])).join(', ');
async function main() {
    const files = process.argv.slice(2);
    if (files.length === 0) {
        console.error('usage: node dist/bench/pool.js RESULTS.json... (each written by `BENCH_RESULTS=FILE npm run bench`)');
        process.exit(2);
    }
    const runs = await Promise.all(files.map(async (f) => JSON.parse(await readFile(f, 'utf8')).results));
    const { h2, grpc, cpu } = pool(runs);
    if (h2.runs > 0) {
        const held = h2.sidekey.filter((d) => d >= 0).length;
        const relayHeld = h2.relay.filter((d) => d >= 0).length;
        console.log(`HTTP/2 share less HTTP/1.1 share, ${h2.sidekey.length} rounds of ${h2.runs} runs: sidekey median ${signed(median(h2.sidekey))} (>= 0 in ${held} of ${h2.sidekey.length}) | goal: ${median(h2.sidekey) >= 0 ? 'met' : 'NOT met'}`);
        if (h2.relay.length > 0)
            console.log(`  the minimal relay: median ${signed(median(h2.relay))} (>= 0 in ${relayHeld} of ${h2.relay.length})`);
        console.log(`  CPU per request, HTTP/2 / HTTP/1.1, run by run: sidekey ${ratios(cpu.h2, cpu.h1)}${cpu.relayH2.length > 0 ? ` | relay ${ratios(cpu.relayH2, cpu.relayH1)}` : ''}`);
    }
    if (grpc.runs > 0) {
        const met = grpc.shares.filter((s) => s >= 0.5).length;
        console.log(`gRPC unary share, ${grpc.shares.length} rounds of ${grpc.runs} runs: sidekey median ${f2(median(grpc.shares))} (>= 0.50 in ${met} of ${grpc.shares.length}) | goal: ${median(grpc.shares) >= 0.5 ? 'met' : 'NOT met'}`);
        if (grpc.relay.length > 0)
            console.log(`  the minimal relay: median ${f2(median(grpc.relay))} (>= 0.50 in ${grpc.relay.filter((s) => s >= 0.5).length} of ${grpc.relay.length})`);
        if (cpu.relayGrpc.length === cpu.grpc.length)
            console.log(`  CPU per call, sidekey / relay, run by run: ${ratios(cpu.grpc, cpu.relayGrpc)}`);
    }
    if (h2.runs === 0 && grpc.runs === 0)
        console.log('none of the files has the HTTP/2 or gRPC rows (run `BENCH_ONLY=h2 npm run bench`)');
}
// Run as a script (not when a test imports `pool`).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href)
    await main();
//# sourceMappingURL=pool.js.map