import { openSync, writeSync } from 'node:fs';
/** A batch this large is written at once rather than at the end of the event loop's turn. */
const BATCH_CHARS = 64 * 1024;
/**
 * Standard output (or `file`), written in batches: the lines logged during one turn of the event
 * loop (under load, the audit lines of every request that finished in it) go out in one write
 * when the turn ends, instead of one write per line. Nothing may be lost and nothing waits long:
 * the batch is written before the next turn starts (so `tail -f` and log shippers stay current),
 * at once when it reaches 64 KiB, and by `flushNow`, which `sidekey start` calls on SIGTERM,
 * SIGINT, an uncaught error and at exit.
 *
 * Why not pino's own asynchronous destination (sonic-boom with `minLength`): it measures the byte
 * length of its whole pending buffer on every line, which made the audit write about a tenth of
 * sidekey's CPU per request in the benchmark (docs/benchmarks.md). The writes here are
 * synchronous, as pino's default destination is: a write of a batch to a file or a pipe costs
 * microseconds, and has no in-flight state that an exit could lose or write twice.
 */
export function bufferedStdout(options = {}) {
    // `file`: appended to instead (`sidekey start` on a terminal), readable by sidekey's user only.
    const fd = options.file === undefined ? 1 : openSync(options.file, 'a', 0o600);
    const batch = new LineBatch(fd);
    return {
        destination: batch,
        flushNow: () => batch.flush(),
        close() {
            batch.flush();
            batch.unbuffered = true;
        },
    };
}
/** Lines gathered in memory and written to one file descriptor a batch at a time. */
class LineBatch {
    fd;
    #lines = [];
    #chars = 0;
    #scheduled = false;
    #stopped = false;
    /** Write each line as it comes: set once the process is stopping, when no later turn may come. */
    unbuffered = false;
    #flushSoon = () => {
        this.#scheduled = false;
        this.flush();
    };
    constructor(fd) {
        this.fd = fd;
    }
    write(line) {
        if (this.#stopped)
            return;
        this.#lines.push(line);
        this.#chars += line.length;
        if (this.#chars >= BATCH_CHARS || this.unbuffered)
            this.flush();
        else if (!this.#scheduled) {
            this.#scheduled = true;
            setImmediate(this.#flushSoon);
        }
    }
    /** Write every pending line now. A reader that went away (EPIPE) ends logging, not sidekey. */
    flush() {
        if (this.#lines.length === 0 || this.#stopped)
            return;
        const data = Buffer.from(this.#lines.length === 1 ? this.#lines[0] : this.#lines.join(''));
        this.#lines = [];
        this.#chars = 0;
        try {
            writeFully(this.fd, data);
        }
        catch {
            // Standard output closed under us: nothing more can be written; keep serving.
            this.#stopped = true;
        }
    }
}
/** Nothing ever wakes it: waiting on it is a 1 ms sleep. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));
/** One buffer, all of it: a non-blocking pipe that is full (EAGAIN) is waited on, briefly, and retried. */
function writeFully(fd, data) {
    let offset = 0;
    while (offset < data.length) {
        try {
            offset += writeSync(fd, data, offset, data.length - offset);
        }
        catch (err) {
            if (err.code !== 'EAGAIN')
                throw err;
            Atomics.wait(PAUSE, 0, 0, 1);
        }
    }
}
//# sourceMappingURL=log-destination.js.map