import { randomUUID } from 'node:crypto'
import { jose } from './jose.js'
import type { CredentialProvider, ObtainedCredential } from './provider.js'
import type { CredentialRuntime } from './runtime.js'
import { SIGNING_ALG } from './signing-keys.js'
import type { FetchedToken, TokenCache } from './token-cache.js'

/** What a minted JWT says. */
export interface JwtSettings {
  readonly audience: string
  readonly lifetimeS: number
  readonly refreshAt: number | undefined
}

/**
 * A short-lived JWT sidekey signs for the calling workload: `iss` is sidekey's issuer URL, `sub`
 * the workload, `aud` the destination's audience. Upstreams or identity providers verify it with
 * the JWKS sidekey serves at `/.well-known/jwks.json` on its admin listener.
 */
export class MintedJwtProvider implements CredentialProvider {
  readonly type = 'jwt'

  constructor(
    readonly name: string,
    readonly settings: JwtSettings,
    private readonly runtime: Pick<CredentialRuntime, 'keys' | 'issuer'>,
    private readonly cache: TokenCache,
    private readonly fingerprint: string,
  ) {}

  async obtain(workload: string | null): Promise<ObtainedCredential> {
    const token = await this.cache.get(this.#key(workload), () => this.mint(workload), this.settings.refreshAt)
    return { secret: token.value, source: token.source, expiresAt: token.expiresAt }
  }

  invalidate(workload: string | null, secret: string): boolean {
    return this.cache.invalidate(this.#key(workload), secret)
  }

  cached(workload: string | null): boolean {
    return this.cache.holds(this.#key(workload))
  }

  /** Sign a fresh token for `workload` (also the subject token of a token exchange). */
  async mint(workload: string | null): Promise<FetchedToken> {
    const { kid, key } = await this.runtime.keys.current()
    const now = Math.floor(Date.now() / 1000)
    const exp = now + this.settings.lifetimeS
    const value = await new (jose().SignJWT)({})
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'JWT' })
      .setIssuer(this.runtime.issuer)
      .setSubject(workload ?? 'anonymous')
      .setAudience(this.settings.audience)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(key)
    return { value, expiresAt: exp * 1000 }
  }

  #key(workload: string | null): string {
    return `jwt|${this.name}|${this.fingerprint}|${workload ?? ''}|${this.settings.audience}`
  }
}
