import type { CredentialProvider, ObtainedCredential } from '../provider.js'
import type { TokenCache } from '../token-cache.js'
import type { DelegatedClient, DelegatedGrants } from './grants.js'

/**
 * A person's delegated OAuth grant as a route's credential: one access token per grant (it is the
 * person's, whichever workload policy lets use it), cached and refreshed ahead of expiry by the
 * token cache, one refresh in flight here and, through the grant keeper's lease, across replicas.
 * A grant that is missing, revoked or broken is refused before the cache is asked.
 */
export class DelegatedGrantProvider implements CredentialProvider {
  readonly type = 'oauth2-authorization-code'
  readonly retryAfter401 = true
  readonly #prefix: string

  constructor(
    readonly client: DelegatedClient,
    private readonly grants: DelegatedGrants,
    private readonly cache: TokenCache,
    fingerprint: string,
  ) {
    this.#prefix = `ac|${client.name}|${fingerprint}|`
  }

  get name(): string {
    return this.client.name
  }

  async obtain(): Promise<ObtainedCredential> {
    await this.grants.assertUsable(this.name)
    const token = await this.cache.get(this.#key(), () => this.grants.accessToken(this.client), this.client.refreshAt)
    return { secret: token.value, source: token.source, expiresAt: token.expiresAt }
  }

  /** An upstream answered 401 to `secret`: the next request refreshes the grant (once) instead of reusing it. */
  invalidate(_workload: string | null, secret: string): boolean {
    if (!this.cache.invalidate(this.#key(), secret)) return false
    this.grants.rejected(secret)
    return true
  }

  mayInvalidate(): boolean {
    return this.cache.mayInvalidate(this.#key())
  }

  cached(): boolean {
    return this.cache.holds(this.#key())
  }

  /** The cache key: a grant connected or revoked here starts a new entry, so no token of the old one is served. */
  #key(): string {
    return this.#prefix + this.grants.epoch(this.name)
  }
}
