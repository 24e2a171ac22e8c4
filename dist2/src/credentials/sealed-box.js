import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
/**
 * Authenticated encryption (AES-256-GCM, a fresh 96-bit IV per box) of a secret kept outside the
 * process: the shared signing keys in Redis, delegated OAuth grants in Redis or a local file. The
 * label is the additional authenticated data, so a box made for one use does not open as another.
 */
export function seal(plain, key, label) {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(label));
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return JSON.stringify({ v: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') });
}
/** The plain text of a box made by `seal` with the same key and label; throws when it does not open. */
export function unseal(box, key, label) {
    const parsed = JSON.parse(box);
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parsed.iv, 'base64'));
    decipher.setAAD(Buffer.from(label));
    decipher.setAuthTag(Buffer.from(parsed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(parsed.data, 'base64')), decipher.final()]).toString('utf8');
}
/** A 32-byte key for one use, derived from a key for another (HKDF-SHA256 with the use as label). */
export function subkey(key, use) {
    return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), use, 32));
}
//# sourceMappingURL=sealed-box.js.map