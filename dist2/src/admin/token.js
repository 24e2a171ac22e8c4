import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
/** File holding the admin token, beside the CA (mode 0600). */
export const ADMIN_TOKEN_FILE = 'admin.token';
/**
 * The admin token guards every admin call that changes state (run tokens, reload). Generated on
 * first start with mode 0600 so that only sidekey's user, not the agent, can read it.
 */
export async function loadOrCreateAdminToken(certsDir) {
    const path = join(certsDir, ADMIN_TOKEN_FILE);
    try {
        return (await readFile(path, 'utf8')).trim();
    }
    catch (err) {
        if (err.code !== 'ENOENT')
            throw err;
    }
    await mkdir(certsDir, { recursive: true, mode: 0o700 });
    const token = `sk_admin_${randomBytes(24).toString('base64url')}`;
    const handle = await open(path, 'wx', 0o600);
    try {
        await handle.writeFile(`${token}\n`);
    }
    finally {
        await handle.close();
    }
    return token;
}
/** Constant-time comparison of a presented `Authorization: Bearer` value with the admin token. */
export function isAdmin(authorization, adminToken) {
    if (authorization === undefined || !authorization.startsWith('Bearer '))
        return false;
    const a = createHash('sha256').update(authorization.slice(7).trim()).digest();
    const b = createHash('sha256').update(adminToken).digest();
    return timingSafeEqual(a, b);
}
//# sourceMappingURL=token.js.map