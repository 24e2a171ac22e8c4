import type { MintedJwtProvider } from './jwt.js'
import type { CredentialProvider, ObtainedCredential } from './provider.js'
import type { SecretSource } from './secret-source.js'
import type { TokenCache } from './token-cache.js'
import type { TokenEndpoint } from './token-endpoint.js'

/** RFC 8693 section 3 token type for a JWT. */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'

/** Request parameters shared by both grants. */
export interface TokenRequestSettings {
  readonly scopes: readonly string[]
  readonly audience: string | null
  readonly resource: string | null
  /** Extra form parameters, sent as written. */
  readonly params: Readonly<Record<string, string>>
  readonly refreshAt: number | undefined
}

function commonForm(s: TokenRequestSettings): Record<string, string> {
  const form: Record<string, string> = { ...s.params }
  if (s.scopes.length > 0) form.scope = s.scopes.join(' ')
  if (s.audience !== null) form.audience = s.audience
  if (s.resource !== null) form.resource = s.resource
  return form
}

/** The cache key prefix of a provider (everything but the workload), built once. */
function keyPrefix(kind: string, name: string, fingerprint: string, s: TokenRequestSettings): string {
  return `${kind}|${name}|${fingerprint}|${s.scopes.join(' ')}|${s.audience ?? ''}|${s.resource ?? ''}|`
}

/**
 * OAuth 2.0 client credentials grant (RFC 6749 section 4.4): sidekey is the client, the token
 * is cached and refreshed ahead of expiry, and a 401 from the upstream drops it once.
 */
export class ClientCredentialsProvider implements CredentialProvider {
  readonly type = 'oauth2-client-credentials'
  readonly #prefix: string

  constructor(
    readonly name: string,
    private readonly endpoint: TokenEndpoint,
    readonly settings: TokenRequestSettings,
    private readonly cache: TokenCache,
    fingerprint: string,
  ) {
    this.#prefix = keyPrefix('cc', name, fingerprint, settings)
  }

  async obtain(workload: string | null): Promise<ObtainedCredential> {
    const key = this.#prefix + (workload ?? '')
    const token = await this.cache.get(key, () => this.endpoint.requestToken({ grant_type: 'client_credentials', ...commonForm(this.settings) }), this.settings.refreshAt)
    return { secret: token.value, source: token.source, expiresAt: token.expiresAt }
  }

  invalidate(workload: string | null, secret: string): boolean {
    return this.cache.invalidate(this.#prefix + (workload ?? ''), secret)
  }

  cached(workload: string | null): boolean {
    return this.cache.holds(this.#prefix + (workload ?? ''))
  }
}

/** The subject (or actor) token of an exchange: a projected token file, or a JWT sidekey mints. */
export type ExchangeSubject =
  | { readonly kind: 'file'; readonly source: SecretSource; readonly tokenType: string }
  | { readonly kind: 'minted'; readonly provider: MintedJwtProvider; readonly tokenType: string }

/** Token exchange settings beyond the common ones (RFC 8693 section 2.1). */
export interface ExchangeSettings extends TokenRequestSettings {
  readonly subject: ExchangeSubject
  readonly actor: ExchangeSubject | null
  readonly requestedTokenType: string | null
}

/**
 * OAuth 2.0 token exchange (RFC 8693): the workload's identity (a Kubernetes projected
 * service-account token, re-read on every exchange because the kubelet rotates it, or a JWT sidekey
 * minted for the workload) is exchanged for an access token for the destination.
 */
export class TokenExchangeProvider implements CredentialProvider {
  readonly type = 'oauth2-token-exchange'
  readonly #prefix: string

  constructor(
    readonly name: string,
    private readonly endpoint: TokenEndpoint,
    readonly settings: ExchangeSettings,
    private readonly cache: TokenCache,
    fingerprint: string,
  ) {
    this.#prefix = keyPrefix('tx', name, fingerprint, settings)
  }

  async obtain(workload: string | null): Promise<ObtainedCredential> {
    const key = this.#prefix + (workload ?? '')
    const token = await this.cache.get(key, () => this.#exchange(workload), this.settings.refreshAt)
    return { secret: token.value, source: token.source, expiresAt: token.expiresAt }
  }

  invalidate(workload: string | null, secret: string): boolean {
    return this.cache.invalidate(this.#prefix + (workload ?? ''), secret)
  }

  cached(workload: string | null): boolean {
    return this.cache.holds(this.#prefix + (workload ?? ''))
  }

  async #exchange(workload: string | null) {
    const form: Record<string, string> = {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      ...commonForm(this.settings),
      subject_token: await this.#tokenOf(this.settings.subject, workload),
      subject_token_type: this.settings.subject.tokenType,
    }
    if (this.settings.actor !== null) {
      form.actor_token = await this.#tokenOf(this.settings.actor, workload)
      form.actor_token_type = this.settings.actor.tokenType
    }
    if (this.settings.requestedTokenType !== null) form.requested_token_type = this.settings.requestedTokenType
    return this.endpoint.requestToken(form)
  }

  async #tokenOf(subject: ExchangeSubject, workload: string | null): Promise<string> {
    if (subject.kind === 'minted') return (await subject.provider.mint(workload)).value
    return subject.source.read(true)
  }
}
