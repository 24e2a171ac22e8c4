import { hkdfSync } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { SidekeyError } from '../errors.js'

/**
 * Where sidekey keeps state that replicas share (`--state FILE`, a small YAML file): the in-memory
 * store (the default: one process, nothing to run) or Redis, standalone, behind Sentinel, or a
 * Cluster. Secrets (passwords, the key that encrypts shared signing keys) are read from files, so
 * they come from mounted Kubernetes Secrets and never sit in the file or the environment.
 */

/** The state file as written. */
export interface StateFileV1 {
  store: 'memory' | 'redis'
  redis?: {
    mode?: 'standalone' | 'sentinel' | 'cluster'
    url?: string
    nodes?: string[]
    sentinel_master?: string
    username?: string
    password_file?: string
    sentinel_password_file?: string
    tls?: { ca_file?: string; cert_file?: string; key_file?: string; servername?: string }
    key_prefix?: string
    command_timeout_ms?: number
    connect_timeout_ms?: number
    quarantine_refresh_ms?: number
    unknown_quarantine?: 'refuse' | 'serve'
    allow_unauthenticated?: boolean
  }
  signing_keys?: { encryption_key_file: string }
}

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
        unknown_quarantine: { enum: ['refuse', 'serve'] },
        allow_unauthenticated: { type: 'boolean' },
      },
    },
    signing_keys: {
      type: 'object',
      additionalProperties: false,
      required: ['encryption_key_file'],
      properties: { encryption_key_file: { type: 'string', minLength: 1 } },
    },
  },
} as const

const validate = new Ajv({ allErrors: true, strict: true }).compile<StateFileV1>(schema)

/** Redis connection settings, resolved (secrets read from their files). */
export interface RedisSettings {
  readonly mode: 'standalone' | 'sentinel' | 'cluster'
  readonly url: string | null
  /** Cluster seed nodes or Sentinels. */
  readonly nodes: readonly { host: string; port: number }[]
  readonly sentinelMaster: string | null
  readonly username: string | null
  readonly password: string | null
  readonly sentinelPassword: string | null
  readonly tls: { ca?: string; cert?: string; key?: string; servername?: string } | null
  readonly keyPrefix: string
  /** A command not answered in this long fails (the request it serves does not hang). */
  readonly commandTimeoutMs: number
  readonly connectTimeoutMs: number
  /** How often the local view of quarantines is re-read (pub/sub makes it immediate; this is the backstop). */
  readonly quarantineRefreshMs: number
  /**
   * What a replica does before it has read the quarantine list once (Redis unreachable since it
   * started): `refuse` every caller (503), or `serve` without knowing who is quarantined.
   */
  readonly unknownQuarantine: 'refuse' | 'serve'
  /** Set when the file says Redis needs no password or client certificate (`sidekey start` warns). */
  readonly unauthenticated: boolean
}

/** The resolved state settings. */
export interface StateSettings {
  readonly store: 'memory' | 'redis'
  readonly redis: RedisSettings | null
  /** Key (32 bytes, derived from the file) that encrypts the shared JWT signing keys; null: keys stay per process. */
  readonly signingKeysKey: Buffer | null
  /** Absolute paths of the files secrets were read from (passwords, TLS key, encryption key): `sidekey run`'s sandbox hides them. */
  readonly secretFiles: readonly string[]
}

export const MEMORY_STATE: StateSettings = Object.freeze({ store: 'memory', redis: null, signingKeysKey: null, secretFiles: [] })

/** Read and check a state file; every problem is reported at once as SIDEKEY_ERR_CONFIG. */
export async function loadStateSettings(path: string): Promise<StateSettings> {
  let doc: unknown
  try {
    doc = parse(await readFile(path, 'utf8'))
  } catch (cause) {
    throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--state ${path}: ${(cause as Error).message}`, { cause })
  }
  if (!validate(doc)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '(top)'} ${e.message ?? 'is invalid'}${e.params && 'allowedValues' in e.params ? ` (${(e.params.allowedValues as string[]).join(', ')})` : ''}`)
    throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--state ${path}: ${problems.join('; ')}`)
  }
  const file = doc
  if (file.store === 'memory') return MEMORY_STATE
  const r = file.redis ?? {}
  const mode = r.mode ?? 'standalone'
  const problems: string[] = []
  if (mode === 'standalone' && r.url === undefined) problems.push('redis.url is required in standalone mode')
  if (mode !== 'standalone' && (r.nodes === undefined || r.nodes.length === 0)) problems.push(`redis.nodes is required in ${mode} mode`)
  if (mode === 'sentinel' && r.sentinel_master === undefined) problems.push('redis.sentinel_master is required in sentinel mode')
  // Whoever can write to this Redis can approve, grant, release and count for every workload, and
  // an agent reaches what its pod reaches (found by a red-team run: an agent wrote itself a grant).
  const authenticated = r.password_file !== undefined || r.tls?.cert_file !== undefined || urlHasPassword(r.url)
  if (!authenticated && r.allow_unauthenticated !== true) problems.push('redis needs password_file (a Redis password or ACL user) or a TLS client certificate (tls.cert_file): whoever can write to it can approve requests, grant routes and lift quarantines, and an agent reaches whatever its pod reaches; for a Redis nothing but sidekey can reach, set redis.allow_unauthenticated: true')
  if (problems.length > 0) throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--state ${path}: ${problems.join('; ')}`)
  const secretFiles: string[] = []
  const secret = async (file: string | undefined, what: string): Promise<string | null> => {
    if (file === undefined) return null
    secretFiles.push(resolve(file))
    try {
      return (await readFile(file, 'utf8')).replace(/\r?\n$/, '')
    } catch (cause) {
      throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--state ${path}: cannot read ${what} ${file} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause })
    }
  }
  const tls = r.tls === undefined ? null : {
    ...(r.tls.ca_file !== undefined ? { ca: (await secret(r.tls.ca_file, 'tls.ca_file'))! } : {}),
    ...(r.tls.cert_file !== undefined ? { cert: (await secret(r.tls.cert_file, 'tls.cert_file'))! } : {}),
    ...(r.tls.key_file !== undefined ? { key: (await secret(r.tls.key_file, 'tls.key_file'))! } : {}),
    ...(r.tls.servername !== undefined ? { servername: r.tls.servername } : {}),
  }
  const keyText = await secret(file.signing_keys?.encryption_key_file, 'signing_keys.encryption_key_file')
  if (keyText !== null && keyText.length < 16) throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--state ${path}: signing_keys.encryption_key_file must hold at least 16 characters of random data`)
  return Object.freeze({
    store: 'redis',
    redis: Object.freeze({
      mode,
      url: r.url ?? null,
      nodes: (r.nodes ?? []).map((n) => {
        const i = n.lastIndexOf(':')
        return { host: n.slice(0, i), port: Number(n.slice(i + 1)) }
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
      unknownQuarantine: r.unknown_quarantine ?? 'refuse',
      unauthenticated: !authenticated,
    }),
    signingKeysKey: keyText === null ? null : deriveKey(keyText),
    secretFiles: Object.freeze(secretFiles),
  })
}

/** Whether a Redis URL carries a password itself (`redis://:pw@host`, accepted as before). */
function urlHasPassword(url: string | undefined): boolean {
  if (url === undefined) return false
  try {
    return new URL(url).password !== ''
  } catch {
    return false
  }
}

/** 32 bytes for AES-256-GCM from the mounted secret (HKDF-SHA256 with a fixed label). */
function deriveKey(text: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(text, 'utf8'), Buffer.alloc(0), 'sidekey shared signing keys v1', 32))
}
