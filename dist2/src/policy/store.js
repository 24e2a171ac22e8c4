import { watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { PolicyInvalidError, formatProblem } from '../errors.js';
import { compilePolicy, policySources, readPolicyFiles } from './load.js';
import { permissionWarnings } from './permissions.js';
import { replacementProblems } from './reload-acceptance.js';
import { readSettled, sameFiles } from './settle.js';
/** How long file events are gathered before a reload starts reading (editors write in several steps). */
const RELOAD_DEBOUNCE_MS = 150;
/** Why a reload was refused: the files could not be read, kept changing, were invalid, or lost their routes. */
export const RELOAD_FAILURE_REASONS = ['unreadable', 'unsettled', 'invalid', 'emptied'];
/**
 * Holds the policy in force. A reload reads the files until they stop changing, validates the new
 * set completely, checks that it may replace the one in force (`reload-acceptance.ts`) and only
 * then swaps the reference, so a request always sees one whole policy, never a mix or a file cut
 * short; a refused reload keeps the old policy running, logs every problem at error level and is
 * reported (`failure`, `/readyz`, metrics) until a reload succeeds.
 */
export class PolicyStore {
    path;
    log;
    runtime;
    #current;
    /** The bytes `#current` was compiled from: a file event that changed nothing reloads nothing. */
    #inForce;
    #failure = null;
    #watcher = null;
    #timer = null;
    #running = null;
    #queued = null;
    /** True when a reload asked for while one ran must compile even if the files did not change. */
    #queuedForced = false;
    #warned = new Set();
    /** Aborted by close(): a reload still reading stops there. */
    #closing = new AbortController();
    #listeners = [];
    #failureListeners = [];
    constructor(path, initial, files, log, runtime) {
        this.path = path;
        this.log = log;
        this.runtime = runtime;
        this.#current = initial;
        this.#inForce = files;
    }
    /** Load the policy at `path` (throws PolicyInvalidError when it is broken) and warn about its permissions. */
    static async open(path, log, runtime) {
        const files = await readPolicyFiles(path);
        const store = new PolicyStore(path, compilePolicy(policySources(files), runtime), files, log, runtime);
        await store.#warnAboutPermissions();
        return store;
    }
    /** The policy in force now. Read it once per request and keep the reference. */
    get current() {
        return this.#current;
    }
    /** The last refused reload while it is the latest word on the files; null once a reload succeeds. */
    get failure() {
        return this.#failure;
    }
    /**
     * Reload from disk (SIGHUP, the admin API): compiles even when the files did not change.
     * Resolves true when the policy read is in force, false when it was refused.
     */
    reload() {
        return this.#request(true);
    }
    #request(force) {
        if (this.#running === null) {
            this.#running = this.#doReload(force).finally(() => {
                this.#running = null;
            });
            return this.#running;
        }
        // The reload under way may have read the files before the change this request is about:
        // one more runs after it, for every request that arrives meanwhile.
        this.#queuedForced ||= force;
        this.#queued ??= this.#running.then(() => {
            const forced = this.#queuedForced;
            this.#queued = null;
            this.#queuedForced = false;
            return this.#request(forced);
        });
        return this.#queued;
    }
    async #doReload(force) {
        try {
            return await this.#reloadOnce(force);
        }
        catch (e) {
            if (this.#closing.signal.aborted)
                return false;
            // Never an unhandled rejection from a file event: an unexpected fault is a refused reload.
            return this.#refuse('invalid', [{ file: resolve(this.path), line: 0, path: '', message: `reload failed: ${e.message}` }]);
        }
    }
    async #reloadOnce(force) {
        const read = await readSettled(this.path, { signal: this.#closing.signal });
        if (!read.ok)
            return this.#refuse(read.reason, read.problems);
        if (!force && sameFiles(read.files, this.#inForce)) {
            // A change and its undo, an editor's swap file, a ConfigMap re-sync: the files say what the
            // policy in force says, so it is no longer stale.
            if (this.#failure !== null)
                this.log.info({ event: 'policy_files_match' }, 'the policy files match the policy in force again');
            this.#failure = null;
            return true;
        }
        let next;
        try {
            next = compilePolicy(policySources(read.files), this.runtime);
        }
        catch (e) {
            if (!(e instanceof PolicyInvalidError))
                throw e;
            return this.#refuse('invalid', e.problems);
        }
        if (this.#closing.signal.aborted)
            return false;
        const problems = replacementProblems(this.#current, next, resolve(this.path));
        if (problems.length > 0)
            return this.#refuse('emptied', problems);
        const previous = this.#current;
        this.#current = next;
        this.#inForce = read.files;
        this.#failure = null;
        this.log.info({ event: 'policy_reloaded', routes: next.routes.length, files: next.files.length }, 'policy reloaded');
        for (const listener of this.#listeners) {
            // The new policy is in force whatever a listener does; its fault is its own, not the reload's.
            try {
                listener(next, previous);
            }
            catch (err) {
                this.log.error({ event: 'policy_reload_listener_failed', err: err.message }, 'a reload listener failed');
            }
        }
        await this.#warnAboutPermissions();
        return true;
    }
    #refuse(reason, problems) {
        const failure = { at: new Date(), reason, problems: problems.map(formatProblem) };
        this.#failure = failure;
        this.log.error({ event: 'policy_reload_refused', reason, problems: failure.problems }, 'policy reload refused; the previous policy stays in force');
        for (const listener of this.#failureListeners)
            listener(failure);
        return false;
    }
    /** Warn once about each policy path another user could change (`permissions.ts`). */
    async #warnAboutPermissions() {
        for (const w of await permissionWarnings(this.path, this.#current.files)) {
            const key = `${w.path}\n${w.message}`;
            if (this.#warned.has(key))
                continue;
            this.#warned.add(key);
            this.log.warn({ event: 'policy_permissions', path: w.path, problem: w.message }, `policy path ${w.path} is ${w.message}`);
        }
    }
    /**
     * Call `listener` after every reload that put a new policy in force, with the new policy and
     * the one it replaced (for instance to close what the new one no longer allows).
     */
    onReload(listener) {
        this.#listeners.push(listener);
    }
    /** Call `listener` after every refused reload (metrics count them). */
    onReloadFailure(listener) {
        this.#failureListeners.push(listener);
    }
    /**
     * Reload when the policy changes on disk. The directory is watched, also when the policy path
     * names one file: a file replaced by rename (the safe way to write it) is a new file, and a
     * watch on the old one would hear nothing more.
     */
    async watch() {
        const root = resolve(this.path);
        const directory = (await stat(root).then((s) => s.isDirectory(), () => false)) ? root : dirname(root);
        if (this.#watcher !== null || this.#closing.signal.aborted)
            return;
        try {
            this.#watcher = watch(directory, { persistent: false }, () => {
                if (this.#timer !== null)
                    clearTimeout(this.#timer);
                this.#timer = setTimeout(() => {
                    this.#timer = null;
                    void this.#request(false);
                }, RELOAD_DEBOUNCE_MS);
                this.#timer.unref();
            });
            this.#watcher.on('error', (err) => this.log.warn({ event: 'policy_watch_error', err: err.message }, 'policy watch failed; SIGHUP still reloads'));
        }
        catch (err) {
            this.log.warn({ event: 'policy_watch_error', err: err.message }, 'cannot watch the policy path; SIGHUP still reloads');
        }
    }
    close() {
        this.#closing.abort();
        this.#watcher?.close();
        this.#watcher = null;
        if (this.#timer !== null)
            clearTimeout(this.#timer);
    }
}
//# sourceMappingURL=store.js.map