import { randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SidekeyError } from '../../errors.js';
import { seal, unseal } from '../sealed-box.js';
/** The label sealed grants carry: a box made for anything else does not open as a grant. */
const LABEL = 'sidekey delegated grant v1';
const FLOW_LABEL = 'sidekey oauth authorization v1';
/**
 * Where delegated grants are kept, encrypted at rest (AES-256-GCM): in the shared store under the
 * key that protects the shared signing keys (many replicas), or in a local file under a key file of
 * its own, both mode 0600 (one sidekey). Every write is a compare and set, so two replicas that
 * change one grant at once cannot both win (a rotated refresh token is never overwritten by an
 * older one).
 */
export class GrantVault {
    values;
    key;
    unavailable;
    #key = null;
    /**
     * `key`: the key itself (shared), or the path of a local key file created on first use.
     * `unavailable`: why grants cannot be kept (shared state without an encryption key).
     */
    constructor(values, key, unavailable = null) {
        this.values = values;
        this.key = key;
        this.unavailable = unavailable;
    }
    async read(name) {
        this.#usable();
        const raw = await this.values.getBlob(blobName(name));
        if (raw === null)
            return { record: null, raw };
        try {
            return { record: JSON.parse(unseal(raw, await this.#keyBytes(), LABEL)), raw };
        }
        catch (cause) {
            throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${name}": the stored grant cannot be decrypted (is the encryption key the same on every replica?)`, { cause });
        }
    }
    /** Replace the grant if it is still `expected`; the new stored text, or null when another write came first. */
    async write(name, expected, record) {
        this.#usable();
        const raw = seal(JSON.stringify(record), await this.#keyBytes(), LABEL);
        return (await this.values.casBlob(blobName(name), expected, raw)) ? raw : null;
    }
    /** A value kept sealed beside the grants under `name` (a registered client), with its stored text. */
    async readSealed(name) {
        this.#usable();
        const raw = await this.values.getBlob(name);
        return { text: raw === null ? null : unseal(raw, await this.#keyBytes(), name), raw };
    }
    /** Replace a sealed value if it is still `expected`; false when another write came first. */
    async writeSealed(name, expected, text) {
        this.#usable();
        return this.values.casBlob(name, expected, seal(text, await this.#keyBytes(), name));
    }
    /** Seal an authorization in progress for the state store (it holds the PKCE verifier). */
    async sealFlow(text) {
        this.#usable();
        return seal(text, await this.#keyBytes(), FLOW_LABEL);
    }
    async openFlow(box) {
        return unseal(box, await this.#keyBytes(), FLOW_LABEL);
    }
    #usable() {
        if (this.unavailable !== null)
            throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', this.unavailable);
    }
    #keyBytes() {
        const key = this.key;
        if (Buffer.isBuffer(key))
            return Promise.resolve(key);
        this.#key ??= loadOrCreateKey(key.file).catch((err) => {
            this.#key = null;
            throw err;
        });
        return this.#key;
    }
}
function blobName(credential) {
    return `oauth-grant:${credential}`;
}
/** The local key file: 32 random bytes, created with mode 0600 on first use. */
async function loadOrCreateKey(path) {
    let existing;
    try {
        existing = await open(path, 'r');
    }
    catch (err) {
        if (err.code !== 'ENOENT')
            throw err;
    }
    if (existing !== undefined) {
        try {
            // As for the CA key: a key others can read opens every grant sealed with it, so it is not used.
            const { mode } = await existing.stat();
            if ((mode & 0o077) !== 0)
                throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `${path} (the key that seals delegated grants) is readable by group or others (mode ${(mode & 0o777).toString(8)}); run chmod 600 on it`);
            const key = Buffer.from((await existing.readFile('utf8')).trim(), 'base64');
            if (key.length !== 32)
                throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `${path} (the key that seals delegated grants) does not hold 32 base64 bytes`);
            return key;
        }
        finally {
            await existing.close();
        }
    }
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const key = randomBytes(32);
    // `wx`: of two processes creating it at once, the second fails instead of replacing the first's key.
    const handle = await open(path, 'wx', 0o600);
    try {
        await handle.writeFile(`${key.toString('base64')}\n`);
    }
    finally {
        await handle.close();
    }
    return key;
}
//# sourceMappingURL=grant-vault.js.map