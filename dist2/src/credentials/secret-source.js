import { readFile, stat } from 'node:fs/promises';
/** How often a file is checked for change (mounted Kubernetes Secrets and tokens rotate in place). */
const FILE_RECHECK_MS = 1000;
/** A value in sidekey's environment, read on every use. */
export class EnvSource {
    envName;
    describe;
    constructor(envName) {
        this.envName = envName;
        this.describe = `environment variable ${envName}`;
    }
    async read(oneLine = true) {
        const raw = process.env[this.envName] ?? '';
        const value = oneLine ? stripLineBreaks(raw) : raw;
        // The agent's copy is a placeholder, so the variable must be set where sidekey itself starts.
        if (value.trim() === '')
            throw new Error(`${this.describe} is not set in sidekey's environment; set it where sidekey starts (the agent's own copy does not count)`);
        return value;
    }
}
/**
 * A file's contents, re-read when its modification time or size changes (checked at most once
 * a second), or on every read with `alwaysReread` (projected tokens, which rotate).
 */
export class FileSource {
    path;
    alwaysReread;
    describe;
    #cached = null;
    #checkedAt = 0;
    constructor(path, alwaysReread = false) {
        this.path = path;
        this.alwaysReread = alwaysReread;
        this.describe = `file ${path}`;
    }
    async read(oneLine = true) {
        const now = Date.now();
        if (this.#cached === null || this.alwaysReread || now - this.#checkedAt >= FILE_RECHECK_MS) {
            try {
                const info = await stat(this.path);
                if (this.#cached === null || this.alwaysReread || info.mtimeMs !== this.#cached.mtimeMs || info.size !== this.#cached.size) {
                    this.#cached = { raw: await readFile(this.path, 'utf8'), mtimeMs: info.mtimeMs, size: info.size };
                }
                this.#checkedAt = now;
            }
            catch (cause) {
                this.#cached = null;
                throw new Error(`cannot read ${this.describe} (${cause.code ?? 'error'})`, { cause });
            }
        }
        const value = oneLine ? stripLineBreaks(this.#cached.raw) : this.#cached.raw;
        if (value.trim() === '')
            throw new Error(`${this.describe} is empty`);
        return value;
    }
}
/** CR and LF removed, ends trimmed: a trailing newline in a Secret is the commonest broken header. */
export function stripLineBreaks(value) {
    return value.replace(/[\r\n]+/g, '').trim();
}
//# sourceMappingURL=secret-source.js.map