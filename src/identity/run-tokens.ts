import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { SidekeyError } from '../errors.js'
import { workloadNameProblem } from './workload-name.js'

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
  readonly #revokeListeners = new Set<(info: RunTokenInfo) => void>()

  /**
   * Mint a token for `workload`. The returned token is shown once, to the caller. A name that
   * cannot identify a caller (malformed, or the reserved `anonymous`) is refused with
   * SIDEKEY_ERR_BAD_REQUEST: it arrives from the admin API and the CLI.
   */
  mint(workload: string): { token: string; info: RunTokenInfo } {
    const problem = workloadNameProblem(workload)
    if (problem !== null) throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', `no run token minted: ${problem}`)
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

  /** True while the token with this id is registered (not revoked). */
  isLive(id: string): boolean {
    return this.#digestById.has(id)
  }

  /**
   * Revoke by id. Returns false when there was no such token. Listeners hear of it at once, so
   * connections opened with the token (tunnels, WebSockets) are closed, not left running on it.
   */
  revoke(id: string): boolean {
    const digest = this.#digestById.get(id)
    if (digest === undefined) return false
    const info = this.#byDigest.get(digest)!
    this.#digestById.delete(id)
    this.#byDigest.delete(digest)
    for (const listener of this.#revokeListeners) listener(info)
    return true
  }

  /** Call `listener` with every token revoked from now on. Returns an unsubscribe. */
  onRevoke(listener: (info: RunTokenInfo) => void): () => void {
    this.#revokeListeners.add(listener)
    return () => this.#revokeListeners.delete(listener)
  }

  list(): RunTokenInfo[] {
    return [...this.#byDigest.values()]
  }
}

function digestOf(token: string): string {
  // Hashing before the lookup also keeps the Map comparison from leaking timing about the token.
  return createHash('sha256').update(token).digest('base64url')
}
