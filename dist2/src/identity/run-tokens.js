import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SidekeyError } from '../errors.js';
import { workloadNameProblem } from './workload-name.js';
/**
 * Per-run tokens minted by `sidekey run`: each maps to one workload name and lives until revoked
 * (when the agent's process exits). Tokens are kept only as SHA-256 digests, so nothing in memory
 * or in the admin API can be turned back into a usable token.
 */
export class RunTokens {
    #byDigest = new Map();
    #digestById = new Map();
    #revokeListeners = new Set();
    /**
     * Mint a token for `workload`. The returned token is shown once, to the caller. A name that
     * cannot identify a caller (malformed, or the reserved `anonymous`) is refused with
     * SIDEKEY_ERR_BAD_REQUEST: it arrives from the admin API and the CLI.
     */
    mint(workload) {
        const problem = workloadNameProblem(workload);
        if (problem !== null)
            throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', `no run token minted: ${problem}`);
        const token = `sk_run_${randomBytes(24).toString('base64url')}`;
        const info = Object.freeze({ id: randomUUID(), workload, createdAt: new Date().toISOString() });
        const digest = digestOf(token);
        this.#byDigest.set(digest, info);
        this.#digestById.set(info.id, digest);
        return { token, info };
    }
    /** The token's registration, or undefined when unknown or revoked. */
    lookup(token) {
        return this.#byDigest.get(digestOf(token));
    }
    /** True while the token with this id is registered (not revoked). */
    isLive(id) {
        return this.#digestById.has(id);
    }
    /**
     * Revoke by id. Returns false when there was no such token. Listeners hear of it at once, so
     * connections opened with the token (tunnels, WebSockets) are closed, not left running on it.
     */
    revoke(id) {
        const digest = this.#digestById.get(id);
        if (digest === undefined)
            return false;
        const info = this.#byDigest.get(digest);
        this.#digestById.delete(id);
        this.#byDigest.delete(digest);
        for (const listener of this.#revokeListeners)
            listener(info);
        return true;
    }
    /** Call `listener` with every token revoked from now on. Returns an unsubscribe. */
    onRevoke(listener) {
        this.#revokeListeners.add(listener);
        return () => this.#revokeListeners.delete(listener);
    }
    list() {
        return [...this.#byDigest.values()];
    }
}
function digestOf(token) {
    // Hashing before the lookup also keeps the Map comparison from leaking timing about the token.
    return createHash('sha256').update(token).digest('base64url');
}
//# sourceMappingURL=run-tokens.js.map