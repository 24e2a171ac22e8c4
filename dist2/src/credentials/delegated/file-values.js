import { readFile } from 'node:fs/promises';
import { writePrivate } from '../private-file.js';
/**
 * Named values in one local file (mode 0600, replaced whole by rename), for a single sidekey that
 * keeps delegated grants across restarts without a shared store. Compare and set works as the
 * shared store's does; writes are serialized so a slower write never lands over a newer one.
 */
export class FileValues {
    path;
    #values = null;
    #writing = Promise.resolve();
    constructor(path) {
        this.path = path;
    }
    async getBlob(name) {
        return (await this.#load()).get(name) ?? null;
    }
    async casBlob(name, expected, next) {
        const values = await this.#load();
        if ((values.get(name) ?? null) !== expected)
            return false;
        values.set(name, next);
        const snapshot = JSON.stringify(Object.fromEntries(values));
        this.#writing = this.#writing.then(() => writePrivate(this.path, snapshot));
        await this.#writing;
        return true;
    }
    async #load() {
        if (this.#values !== null)
            return this.#values;
        let loaded = new Map();
        try {
            loaded = new Map(Object.entries(JSON.parse(await readFile(this.path, 'utf8'))));
        }
        catch (err) {
            if (err.code !== 'ENOENT')
                throw err;
        }
        // Two first calls at once read the file twice; the first to finish is the one kept.
        this.#values ??= loaded;
        return this.#values;
    }
}
//# sourceMappingURL=file-values.js.map