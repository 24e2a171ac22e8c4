import { createSecureContext } from 'node:tls';
import { createLeafKey, LEAF_LIFETIME_MS, mintLeaf } from './leaf.js';
/** Default bound on cached leaf contexts. */
export const DEFAULT_LEAF_CACHE_SIZE = 1000;
/**
 * Leaf TLS contexts per host: minted on first use, bounded (least recently used goes first),
 * expired well before the certificate does, and shared by concurrent first handshakes for one host
 * so a burst of connections mints once.
 */
export class LeafCache {
    #ca;
    #leafKey;
    #max;
    #ttlMs;
    #entries = new Map();
    #pending = new Map();
    /** Mints performed and their durations, for the benchmark and metrics. */
    stats = { mints: 0, hits: 0, lastMintMs: 0, maxMintMs: 0 };
    constructor(ca, options = {}) {
        this.#ca = ca;
        this.#leafKey = createLeafKey();
        this.#max = options.max ?? DEFAULT_LEAF_CACHE_SIZE;
        this.#ttlMs = options.ttlMs ?? LEAF_LIFETIME_MS / 2;
    }
    /** The TLS context presenting a leaf for `host` (normalised). */
    get(host) {
        const hit = this.#entries.get(host);
        if (hit !== undefined && hit.expiresAt > Date.now()) {
            // Re-insert to mark it most recently used (Map keeps insertion order).
            this.#entries.delete(host);
            this.#entries.set(host, hit);
            this.stats.hits++;
            return Promise.resolve(hit.context);
        }
        let pending = this.#pending.get(host);
        if (pending === undefined) {
            pending = this.#mint(host).finally(() => this.#pending.delete(host));
            this.#pending.set(host, pending);
        }
        return pending;
    }
    async #mint(host) {
        const started = performance.now();
        const certPem = await mintLeaf(this.#ca, this.#leafKey, host);
        const context = createSecureContext({ key: this.#leafKey.privateKeyPem, cert: certPem });
        const ms = performance.now() - started;
        this.stats.mints++;
        this.stats.lastMintMs = ms;
        this.stats.maxMintMs = Math.max(this.stats.maxMintMs, ms);
        this.#entries.delete(host);
        this.#entries.set(host, { context, expiresAt: Date.now() + this.#ttlMs });
        while (this.#entries.size > this.#max) {
            const oldest = this.#entries.keys().next().value;
            this.#entries.delete(oldest);
        }
        return context;
    }
    get size() {
        return this.#entries.size;
    }
}
//# sourceMappingURL=cache.js.map