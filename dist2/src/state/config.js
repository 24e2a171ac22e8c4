import { hkdfSync } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { SidekeyError } from '../errors.js';
const schema = {
    type: 'object',
    additionalProperties: false,
    required: ['store'],
    properties: {
        store: { enum: ['memory', 'redis'] },
        redis: {
            type: 'object',
            additionalProperties: false,
            properties: {
                mode: { enum: ['standalone', 'sentinel', 'cluster'] },
                url: { type: 'string', pattern: '^rediss?://' },
                nodes: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[^:\\s]+:[0-9]{1,5}$' } },
                sentinel_master: { type: 'string', minLength: 1 },
                username: { type: 'string', minLength: 1 },
                password_file: { type: 'string', minLength: 1 },
                sentinel_password_file: { type: 'string', minLength: 1 },
                tls: {
                    type: 'object',
                    additionalProperties: false,
                    properties: { ca_file: { type: 'string' }, cert_file: { type: 'string' }, key_file: { type: 'string' }, servername: { type: 'string' } },
                },
                key_prefix: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
                command_timeout_ms: { type: 'integer', minimum: 50, maximum: 60000 },
                connect_timeout_ms: { type: 'integer', minimum: 100, maximum: 120000 },
                quarantine_refresh_ms: { type: 'integer', minimum: 100, maximum: 60000 },
            },
        },
        signing_keys: {
            type: 'object',
            additionalProperties: false,
            required: ['encryption_key_file'],
            properties: { encryption_key_file: { type: 'string', minLength: 1 } },
        },
    },
};
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
export const MEMORY_STATE = Object.freeze({ store: 'memory', redis: null, signingKeysKey: null, secretFiles: [] });
/** Read and check a state file; every problem is reported at once as SIDEKEY_ERR_CONFIG. */
export async function loadStateSettings(path) {
    let doc;
    try {
        doc = parse(await readFile(path, 'utf8'));
    }
    catch (cause) {
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--state ${path}: ${cause.message}`, { cause });
    }
    if (!validate(doc)) {
        const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '(top)'} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? ` (${e.params.allowedValues.join(', ')})` : ''}`);
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--state ${path}: ${problems.join('; ')}`);
    }
    const file = doc;
    if (file.store === 'memory')
        return MEMORY_STATE;
    const r = file.redis ?? {};
    const mode = r.mode ?? 'standalone';
    const problems = [];
    if (mode === 'standalone' && r.url === undefined)
        problems.push('redis.url is required in standalone mode');
    if (mode !== 'standalone' && (r.nodes === undefined || r.nodes.length === 0))
        problems.push(`redis.nodes is required in ${mode} mode`);
    if (mode === 'sentinel' && r.sentinel_master === undefined)
        problems.push('redis.sentinel_master is required in sentinel mode');
    if (problems.length > 0)
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--state ${path}: ${problems.join('; ')}`);
    const secretFiles = [];
    const secret = async (file, what) => {
        if (file === undefined)
            return null;
        secretFiles.push(resolve(file));
        try {
            return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
        }
        catch (cause) {
            throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--state ${path}: cannot read ${what} ${file} (${cause.code ?? 'error'})`, { cause });
        }
    };
    const tls = r.tls === undefined ? null : {
        ...(r.tls.ca_file !== undefined ? { ca: (await secret(r.tls.ca_file, 'tls.ca_file')) } : {}),
        ...(r.tls.cert_file !== undefined ? { cert: (await secret(r.tls.cert_file, 'tls.cert_file')) } : {}),
        ...(r.tls.key_file !== undefined ? { key: (await secret(r.tls.key_file, 'tls.key_file')) } : {}),
        ...(r.tls.servername !== undefined ? { servername: r.tls.servername } : {}),
    };
    const keyText = await secret(file.signing_keys?.encryption_key_file, 'signing_keys.encryption_key_file');
    if (keyText !== null && keyText.length < 16)
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--state ${path}: signing_keys.encryption_key_file must hold at least 16 characters of random data`);
    return Object.freeze({
        store: 'redis',
        redis: Object.freeze({
            mode,
            url: r.url ?? null,
            nodes: (r.nodes ?? []).map((n) => {
                const i = n.lastIndexOf(':');
                return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
            }),
            sentinelMaster: r.sentinel_master ?? null,
            username: r.username ?? null,
            password: await secret(r.password_file, 'redis.password_file'),
            sentinelPassword: await secret(r.sentinel_password_file, 'redis.sentinel_password_file'),
            // rediss:// means TLS even without a tls block (system roots).
            tls: tls ?? (r.url?.startsWith('rediss://') === true ? {} : null),
            keyPrefix: r.key_prefix ?? 'sidekey:',
            commandTimeoutMs: r.command_timeout_ms ?? 1000,
            connectTimeoutMs: r.connect_timeout_ms ?? 5000,
            quarantineRefreshMs: r.quarantine_refresh_ms ?? 1000,
        }),
        signingKeysKey: keyText === null ? null : deriveKey(keyText),
        secretFiles: Object.freeze(secretFiles),
    });
}
/** 32 bytes for AES-256-GCM from the mounted secret (HKDF-SHA256 with a fixed label). */
function deriveKey(text) {
    return Buffer.from(hkdfSync('sha256', Buffer.from(text, 'utf8'), Buffer.alloc(0), 'sidekey shared signing keys v1', 32));
}
//# sourceMappingURL=config.js.map