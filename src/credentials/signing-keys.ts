import { randomUUID } from 'node:crypto'
import { open, readFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose'

/** The file beside the CA that holds the minting keys (mode 0600). */
export const SIGNING_KEYS_FILE = 'jwt-keys.json'

/** The algorithm of minted JWTs: ECDSA P-256 (small keys, fast signatures, universally verified). */
export const SIGNING_ALG = 'ES256'

interface StoredKey {
  kid: string
  /** Epoch ms the key was created. */
  created: number
  jwk: JWK
}

/** A key ready to sign, with its id. */
export interface SigningKey {
  readonly kid: string
  readonly key: CryptoKey
}

/**
 * The keys sidekey signs minted JWTs with. Created on first use with mode 0600; a new key is
 * made every `rotateAfterMs` and the previous ones stay published in the JWKS for `overlapMs`, so
 * a token signed just before a rotation still verifies (rotation with overlap).
 */
export class SigningKeys {
  #keys: StoredKey[] = []
  #loading: Promise<void> | null = null
  readonly #path: string

  constructor(
    certsDir: string,
    readonly rotateAfterMs = 24 * 60 * 60 * 1000,
    readonly overlapMs = 24 * 60 * 60 * 1000,
  ) {
    this.#path = join(certsDir, SIGNING_KEYS_FILE)
  }

  /** The newest key, rotating first when it is due. */
  async current(): Promise<SigningKey> {
    await this.#ready()
    const newest = this.#keys.at(-1)
    if (newest === undefined || Date.now() - newest.created >= this.rotateAfterMs) {
      this.#loading ??= this.#rotate().finally(() => (this.#loading = null))
      await this.#loading
    }
    const key = this.#keys.at(-1)!
    return { kid: key.kid, key: (await importJWK(key.jwk, SIGNING_ALG)) as CryptoKey }
  }

  /** The public JWK Set: every key still inside its overlap window. Never a private part. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.#ready()
    return {
      keys: this.#keys.map(({ kid, jwk }) => ({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: SIGNING_ALG, use: 'sig' })),
    }
  }

  async #ready(): Promise<void> {
    if (this.#keys.length > 0) return
    this.#loading ??= this.#load().finally(() => (this.#loading = null))
    await this.#loading
  }

  async #load(): Promise<void> {
    try {
      const stored = JSON.parse(await readFile(this.#path, 'utf8')) as { keys?: StoredKey[] }
      this.#keys = Array.isArray(stored.keys) ? stored.keys : []
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (this.#keys.length === 0) await this.#rotate()
  }

  async #rotate(): Promise<void> {
    const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true })
    const now = Date.now()
    const retireBefore = now - this.rotateAfterMs - this.overlapMs
    this.#keys = [...this.#keys.filter((k) => k.created > retireBefore), { kid: randomUUID(), created: now, jwk: await exportJWK(privateKey) }]
    // Written to a temporary file created with mode 0600, then renamed over the old one.
    const tmp = `${this.#path}.${process.pid}.tmp`
    const handle = await open(tmp, 'w', 0o600)
    try {
      await handle.writeFile(JSON.stringify({ keys: this.#keys }))
    } finally {
      await handle.close()
    }
    await rename(tmp, this.#path)
  }
}
