import { setTimeout as sleep } from 'node:timers/promises';
import { formatProblem, PolicyInvalidError } from '../errors.js';
import { readPolicyFiles } from './load.js';
/** How long the files must stay byte-for-byte the same before a reload reads them as final. */
export const SETTLE_INTERVAL_MS = 300;
/** How long a reload waits for the files to stop changing before it gives up (and keeps the old policy). */
export const SETTLE_LIMIT_MS = 5_000;
/**
 * Read the policy files until two reads `intervalMs` apart give the same names and the same bytes.
 *
 * `cp`, shell redirection and many editors write a file in place: truncate, then write, possibly in
 * several writes with pauses between. A read in between sees a file cut short, and a YAML file cut
 * at a line end is usually still valid YAML, only with fewer routes (docs/security.md). Waiting
 * until the bytes stop changing closes that window for every writer whose pauses are shorter than
 * the interval; writing a new file and renaming it over the old one (atomic on POSIX) closes it
 * for every writer, which is why the docs recommend it.
 */
export async function readSettled(path, options = {}) {
    const { signal, intervalMs = SETTLE_INTERVAL_MS, limitMs = SETTLE_LIMIT_MS } = options;
    const deadline = Date.now() + limitMs;
    let previous = await readOnce(path);
    for (;;) {
        // Rejects with an AbortError when sidekey closes meanwhile.
        await sleep(intervalMs, undefined, { signal });
        const current = await readOnce(path);
        if (sameRead(previous, current)) {
            return current.ok ? { ok: true, files: current.files } : { ok: false, reason: 'unreadable', problems: current.problems };
        }
        if (Date.now() >= deadline) {
            const message = `the policy files kept changing for ${Math.round(limitMs / 1000)} s, so no complete version could be read; write a new file and rename it over the old one`;
            return { ok: false, reason: 'unsettled', problems: [{ file: path, line: 0, path: '', message }] };
        }
        previous = current;
    }
}
async function readOnce(path) {
    try {
        return { ok: true, files: await readPolicyFiles(path) };
    }
    catch (e) {
        if (e instanceof PolicyInvalidError)
            return { ok: false, problems: e.problems };
        throw e;
    }
}
function sameRead(a, b) {
    if (!a.ok || !b.ok)
        return !a.ok && !b.ok && a.problems.map(formatProblem).join('\n') === b.problems.map(formatProblem).join('\n');
    return sameFiles(a.files, b.files);
}
/** True when both lists name the same files, in the same order, with the same bytes. */
export function sameFiles(a, b) {
    return a.length === b.length && a.every((f, i) => f.file === b[i].file && f.bytes.equals(b[i].bytes));
}
//# sourceMappingURL=settle.js.map