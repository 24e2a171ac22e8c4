/**
 * What a starting process has opened so far, each entry with the function that closes it,
 * registered as the thing is opened. `closeAll` closes them last opened first (listeners before
 * the pools and the store they use), and the same list serves a start that fails half way and
 * the normal shutdown, so the two cannot drift apart.
 */
export class OpenedResources {
    #opened = [];
    #closing = null;
    /** Record that `what` is open; `close` undoes it (it may return a promise). */
    add(what, close) {
        // Nothing would ever close it: opening more once closing began is a wiring bug.
        if (this.#closing !== null)
            throw new TypeError(`${what} opened after closing began`);
        this.#opened.push({ what, close });
    }
    /**
     * Close everything, last opened first, each awaited before the next. A closer that throws or
     * rejects does not stop the others; the failures are returned, in the order they happened.
     * Idempotent: a second call returns the first call's promise.
     */
    closeAll() {
        this.#closing ??= this.#closeInReverse();
        return this.#closing;
    }
    async #closeInReverse() {
        const failures = [];
        for (let next = this.#opened.pop(); next !== undefined; next = this.#opened.pop()) {
            const failure = await closeOne(next);
            if (failure !== null)
                failures.push(failure);
        }
        return failures;
    }
}
async function closeOne(opened) {
    try {
        await opened.close();
        return null;
    }
    catch (error) {
        return { what: opened.what, error };
    }
}
//# sourceMappingURL=opened-resources.js.map