import { readFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { ADMIN_TOKEN_FILE } from '../admin/token.js';
import { dialableHost } from '../config.js';
import { SidekeyError } from '../errors.js';
/** The admin listener's base URL for a configuration. */
export function adminUrl(config) {
    return `http://${dialableHost(config.admin.host)}:${config.admin.port}`;
}
/** Read the admin token from the certs directory (only sidekey's user can). */
export async function readAdminToken(config) {
    const path = join(config.certsDir, ADMIN_TOKEN_FILE);
    try {
        return (await readFile(path, 'utf8')).trim();
    }
    catch (cause) {
        throw new SidekeyError('SIDEKEY_ERR_ADMIN_UNAUTHORIZED', `cannot read the admin token ${path}; pass --certs, or run as sidekey's user`, { cause });
    }
}
/** Call the running sidekey's admin API with the admin token; returns the parsed JSON answer. */
export async function adminCall(config, method, path, body) {
    const token = await readAdminToken(config);
    let res;
    try {
        res = await request(`${adminUrl(config)}${path}`, {
            method,
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
            headersTimeout: 5000,
            bodyTimeout: 5000,
        });
    }
    catch (cause) {
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `no sidekey answers at ${adminUrl(config)} (is it running? pass --admin)`, { cause });
    }
    const text = await res.body.text();
    return { status: res.statusCode, body: text === '' ? {} : JSON.parse(text) };
}
/** Print an admin API refusal as the CLI reports it; the exit code 1. */
export function failed(status, body) {
    console.error(`sidekey: ${body.error?.message ?? `admin API answered ${status}`}`);
    return 1;
}
/** This machine's user name as an admin API actor name accepts it (`cli:NAME`). */
export function cliUser() {
    try {
        return userInfo().username.replace(/[^\w.@-]/g, '').slice(0, 40) || 'unknown';
    }
    catch {
        return 'unknown';
    }
}
//# sourceMappingURL=admin-client.js.map