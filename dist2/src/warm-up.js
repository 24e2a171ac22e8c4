/**
 * Runs first, before any other module of sidekey is evaluated (imported first by `sidekey.ts` and
 * the CLI). It calls `process.nextTick` once with each argument count Node's own streams use.
 *
 * Why: Node's `nextTick` reads its extra arguments in a switch on how many there are. If V8
 * optimizes it before every branch has run, the first call through an unseen branch throws the
 * optimized code away, and after enough of that during start-up V8 stops optimizing it for the
 * life of the process. Measured on Node 24.21: `nextTick` then costs about 700 ns instead of
 * about 70 ns, and every request pays it dozens of times through the stream machinery (40% more
 * CPU in an in-process benchmark of the keep-alive path). Which module order trips it is an
 * accident of the import graph; running every branch before anything is optimized removes the
 * accident.
 */
const noop = () => undefined;
for (let i = 0; i < 8; i++) {
    process.nextTick(noop);
    process.nextTick(noop, 1);
    process.nextTick(noop, 1, 2);
    process.nextTick(noop, 1, 2, 3);
    process.nextTick(noop, 1, 2, 3, 4);
}
export {};
//# sourceMappingURL=warm-up.js.map