import { createHash, randomBytes, randomUUID } from 'node:crypto'

/** A registered run token, as the admin API shows it (never the token itself). */
export interface RunTokenInfo {
  readonly id: string
  readonly workload: string
  readonly createdAt: string
}

/**
 * Per-run tokens minted by `sidekey run`: each maps to one workload name and lives until revoked
 * (when the agent's process exits). Tokens are kept only as SHA-256 digests, so nothing in memory
 * or in the admin API can be turned back into a usable token.
 */
export class RunTokens {
  readonly #byDigest = new Map<string, RunTokenInfo>()
  readonly #digestById = new Map<string, string>()

  /** Mint a token for `workload`. The returned token is shown once, to the caller. */
  mint(workload: string): { token: string; info: RunTokenInfo } {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(workload)) throw new TypeError(`invalid workload name: ${workload}`)
    const token = `sk_run_${randomBytes(24).toString('base64url')}`
    const info: RunTokenInfo = Object.freeze({ id: randomUUID(), workload, createdAt: new Date().toISOString() })
    const digest = digestOf(token)
    this.#byDigest.set(digest, info)
    this.#digestById.set(info.id, digest)
    return { token, info }
  }

  /** The token's registration, or undefined when unknown or revoked. */
  lookup(token: string): RunTokenInfo | undefined {
    return this.#byDigest.get(digestOf(token))
  }

  /** Revoke by id. Returns false when there was no such token. */
  revoke(id: string): boolean {
    const digest = this.#digestById.get(id)
    if (digest === undefined) return false
    this.#digestById.delete(id)
    this.#byDigest.delete(digest)
    return true
  }

  list(): RunTokenInfo[] {
    return [...this.#byDigest.values()]
  }
}

function digestOf(token: string): string {
  // Hashing before the lookup also keeps the Map comparison from leaking timing about the token.
  return createHash('sha256').update(token).digest('base64url')
}
