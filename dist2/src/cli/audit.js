import { createReadStream, fstatSync, unwatchFile, watchFile } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { auditLogPath, configFrom } from '../config.js';
import { SidekeyError } from '../errors.js';
import { parse } from './args.js';
import { AuditView, COLOURS, PLAIN } from './audit-view.js';
const USAGE = 'usage: sidekey audit [--follow] [FILE | -] [--workload W] [--route R] [--decision allow|deny|tunnel|intercept|error] [--status 403|4xx]';
/** How much of an existing file `--follow` shows before it waits for new lines, like `tail -f`. */
const FOLLOW_BACKLOG_BYTES = 64 * 1024;
/**
 * `sidekey audit [--follow] [FILE | -]`: sidekey's JSON log lines as one readable line per exchange.
 * It reads a file (sidekey's log is standard output, so `sidekey start >> FILE` or a log shipper's
 * file), or standard input (`-`, or when piped: `sidekey start | sidekey audit`), or by default the
 * log a sidekey started by `sidekey run` writes (`certs/audit.log` in the home). It reads log lines,
 * not the admin API's event stream, because only the audit line has the tunnel ids, bytes and
 * timings, and because it needs no admin token. Colour on a terminal, unless NO_COLOR is set.
 */
export async function audit(argv) {
    const { flags, positionals } = parse(argv, ['workload', 'route', 'decision', 'status', 'home', 'certs'], ['follow']);
    if (positionals.length > 1) {
        console.error(USAGE);
        return 2;
    }
    const filter = {
        workload: flags.workload,
        route: flags.route,
        decision: flags.decision,
        status: flags.status,
    };
    if (filter.status !== undefined && !/^([1-5][0-9]{2}|[1-5]xx)$/i.test(filter.status)) {
        console.error(`sidekey audit: --status takes a status such as 403 or a class such as 4xx, not "${filter.status}"`);
        return 2;
    }
    const colour = process.stdout.isTTY === true && (process.env.NO_COLOR ?? '') === '' ? COLOURS : PLAIN;
    const view = new AuditView(filter, colour);
    const print = (text) => {
        const shown = view.line(text);
        if (shown !== null)
            process.stdout.write(`${shown}\n`);
    };
    const source = positionals[0] ?? (stdinIsPiped() ? '-' : auditLogPath(configFrom({ home: flags.home, certs: flags.certs })));
    if (source === '-') {
        for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity }))
            print(text);
        return 0;
    }
    const info = await stat(source).catch((cause) => {
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `cannot read the log ${source} (${cause.code ?? 'error'}): name a file, pipe sidekey's output in (sidekey start | sidekey audit), or set SIDEKEY_HOME`);
    });
    if (flags.follow !== true) {
        for await (const text of createInterface({ input: createReadStream(source), crlfDelay: Infinity }))
            print(text);
        return 0;
    }
    await follow(source, Math.max(0, info.size - FOLLOW_BACKLOG_BYTES), print);
    return 0;
}
/** True when standard input is a pipe or a file: `sidekey start | sidekey audit` (a terminal or /dev/null is not). */
function stdinIsPiped() {
    try {
        const info = fstatSync(0);
        return info.isFIFO() || info.isFile();
    }
    catch {
        return false;
    }
}
/**
 * Print each line appended to `path` from `from` on, until SIGINT or SIGTERM. The size is polled
 * (fs.watchFile): it works on every file system, where change events do not. A file that shrinks
 * was truncated or replaced (log rotation) and is read again from its start.
 */
async function follow(path, from, print) {
    let offset = from;
    let partial = '';
    let skipFirst = from > 0;
    let reading = Promise.resolve();
    const readMore = async () => {
        const size = (await stat(path).catch(() => null))?.size ?? offset;
        if (size < offset)
            offset = 0;
        if (size === offset)
            return;
        const handle = await open(path, 'r');
        try {
            const buffer = Buffer.alloc(size - offset);
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
            offset += bytesRead;
            const lines = (partial + buffer.subarray(0, bytesRead).toString('utf8')).split('\n');
            partial = lines.pop() ?? '';
            // Started mid-file: the first piece is the tail of a line already cut.
            if (skipFirst)
                lines.shift();
            skipFirst = false;
            for (const text of lines)
                print(text);
        }
        finally {
            await handle.close();
        }
    };
    await readMore();
    const changed = () => {
        reading = reading.then(readMore);
    };
    watchFile(path, { interval: 200 }, changed);
    // The watcher's first look at the file is its baseline: lines appended after the read above and
    // before that look would change nothing it compares, and would wait for the next append. Read
    // once more now that it is watching (seen in CI under load: appended lines never printed).
    changed();
    await new Promise((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
    });
    unwatchFile(path, changed);
    await reading;
}
//# sourceMappingURL=audit.js.map