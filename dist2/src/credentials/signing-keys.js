import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jose } from './jose.js';
import { writePrivate } from './private-file.js';
import { seal, unseal } from './sealed-box.js';
/** The file beside the CA that holds the minting keys (mode 0600). */
export const SIGNING_KEYS_FILE = 'jwt-keys.json';
/** The algorithm of minted JWTs: ECDSA P-256 (small keys, fast signatures, universally verified). */
export const SIGNING_ALG = 'ES256';
/** The shared value's name, and how often a replica re-reads it (to publish keys others made). */
const SHARED_NAME = 'jwt-keys';
const SHARED_REFRESH_MS = 10_000;
/**
 * The keys sidekey signs minted JWTs with. Created on first use with mode 0600; a new key is
 * made every `rotateAfterMs` and the previous ones stay published in the JWKS for `overlapMs`, so
 * a token signed just before a rotation still verifies (rotation with overlap).
 *
 * With a shared store and an encryption key (many replicas), the key set lives in the store,
 * encrypted with AES-256-GCM, instead of the file: every replica signs with the same keys and
 * serves the same JWKS, and a rotation is a compare-and-set, so two replicas rotating at once
 * agree on one new key.
 */
export class SigningKeys {
    rotateAfterMs;
    overlapMs;
    #keys = [];
    #loading = null;
    #loadedAt = 0;
    #path;
    #shared;
    /** The shared value as last read (compare-and-set expects it). */
    #sharedRaw = null;
    constructor(certsDir, rotateAfterMs = 24 * 60 * 60 * 1000, overlapMs = 24 * 60 * 60 * 1000, shared = null) {
        this.rotateAfterMs = rotateAfterMs;
        this.overlapMs = overlapMs;
        this.#path = join(certsDir, SIGNING_KEYS_FILE);
        this.#shared = shared;
    }
    /** The newest key, rotating first when it is due. */
    async current() {
        await this.#ready();
        const newest = this.#keys.at(-1);
        if (newest === undefined || Date.now() - newest.created >= this.rotateAfterMs) {
            this.#loading ??= this.#rotate().finally(() => (this.#loading = null));
            await this.#loading;
        }
        const key = this.#keys.at(-1);
        return { kid: key.kid, key: (await jose().importJWK(key.jwk, SIGNING_ALG)) };
    }
    /** The public JWK Set: every key still inside its overlap window. Never a private part. */
    async jwks() {
        await this.#ready();
        return {
            keys: this.#keys.map(({ kid, jwk }) => ({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: SIGNING_ALG, use: 'sig' })),
        };
    }
    async #ready() {
        const stale = this.#shared !== null && Date.now() - this.#loadedAt >= SHARED_REFRESH_MS;
        if (this.#keys.length > 0 && !stale)
            return;
        this.#loading ??= this.#load().finally(() => (this.#loading = null));
        await this.#loading;
    }
    async #load() {
        if (this.#shared !== null) {
            await this.#readShared();
            if (this.#keys.length === 0)
                await this.#rotate();
            return;
        }
        try {
            const stored = JSON.parse(await readFile(this.#path, 'utf8'));
            this.#keys = Array.isArray(stored.keys) ? stored.keys : [];
        }
        catch (err) {
            if (err.code !== 'ENOENT')
                throw err;
        }
        if (this.#keys.length === 0)
            await this.#rotate();
    }
    async #readShared() {
        const { store, key } = this.#shared;
        const raw = await store.getBlob(SHARED_NAME);
        this.#keys = raw === null ? [] : decryptKeys(raw, key);
        this.#sharedRaw = raw;
        this.#loadedAt = Date.now();
    }
    async #rotate() {
        const { privateKey } = await jose().generateKeyPair(SIGNING_ALG, { extractable: true });
        const now = Date.now();
        const retireBefore = now - this.rotateAfterMs - this.overlapMs;
        const next = [...this.#keys.filter((k) => k.created > retireBefore), { kid: randomUUID(), created: now, jwk: await jose().exportJWK(privateKey) }];
        if (this.#shared !== null) {
            const raw = encryptKeys(next, this.#shared.key);
            if (await this.#shared.store.casBlob(SHARED_NAME, this.#sharedRaw, raw)) {
                this.#keys = next;
                this.#sharedRaw = raw;
                this.#loadedAt = Date.now();
            }
            else {
                // Another replica rotated first: use its key set.
                await this.#readShared();
            }
            return;
        }
        this.#keys = next;
        await writePrivate(this.#path, JSON.stringify({ keys: this.#keys }));
    }
}
/** The key set as the shared store keeps it (the label binds the box to its use). */
function encryptKeys(keys, key) {
    return seal(JSON.stringify({ keys }), key, SHARED_NAME);
}
function decryptKeys(raw, key) {
    try {
        const keys = JSON.parse(unseal(raw, key, SHARED_NAME)).keys;
        return Array.isArray(keys) ? keys : [];
    }
    catch (cause) {
        // Never fall back to a key of our own: replicas would then disagree silently.
        throw new Error('the shared signing keys cannot be decrypted (is signing_keys.encryption_key_file the same on every replica?)', { cause });
    }
}
//# sourceMappingURL=signing-keys.js.map