import type { CredentialProvider, ObtainedCredential } from '../provider.js'
import type { FetchedToken, TokenCache } from '../token-cache.js'
import type { IdpTransport } from '../provider-http.js'
import { callProvider, jsonOf, providerCode, providerFailure } from '../provider-http.js'

/**
 * Google Cloud workload identity federation, second step: the federated token from Google's STS
 * (an RFC 8693 exchange of the projected token, done by the wrapped provider) is used to
 * impersonate a service account with IAM Credentials `generateAccessToken`, whose access token is
 * what `*.googleapis.com` routes get. Without a service account the federated token is used as is.
 */
export class GcpImpersonationProvider implements CredentialProvider {
  readonly type = 'gcp-workload-identity'
  readonly #key: string

  constructor(
    readonly name: string,
    private readonly federated: CredentialProvider,
    private readonly settings: { serviceAccount: string; scopes: readonly string[]; lifetimeS: number; iamEndpoint: string; refreshAt: number | undefined },
    private readonly transport: IdpTransport,
    private readonly cache: TokenCache,
    fingerprint: string,
  ) {
    this.#key = `gcp-sa|${name}|${fingerprint}`
  }

  async obtain(workload: string | null): Promise<ObtainedCredential> {
    const token = await this.cache.get(this.#key + (workload ?? ''), () => this.#impersonate(workload), this.settings.refreshAt)
    return { secret: token.value, source: token.source, expiresAt: token.expiresAt }
  }

  invalidate(workload: string | null, secret: string): boolean {
    return this.cache.invalidate(this.#key + (workload ?? ''), secret)
  }

  cached(workload: string | null): boolean {
    return this.cache.holds(this.#key + (workload ?? ''))
  }

  async #impersonate(workload: string | null): Promise<FetchedToken> {
    const federated = (await this.federated.obtain(workload)).secret
    const url = `${this.settings.iamEndpoint.replace(/\/$/, '')}/v1/projects/-/serviceAccounts/${encodeURIComponent(this.settings.serviceAccount)}:generateAccessToken`
    const { status, text } = await callProvider(this.transport, this.name, 'IAM Credentials generateAccessToken', url, {
      method: 'POST',
      headers: { authorization: `Bearer ${federated}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ scope: this.settings.scopes, lifetime: `${this.settings.lifetimeS}s` }),
    })
    const answer = jsonOf<{ accessToken?: unknown; expireTime?: unknown; error?: { status?: unknown; code?: unknown } }>(this.name, 'IAM Credentials', status, text)
    if (status !== 200) {
      // Google's error shape: {"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED"}}.
      const code = providerCode(answer.error?.status)
      const why = code !== null ? ` (${code})` : ''
      throw providerFailure(this.name, `IAM Credentials generateAccessToken answered HTTP ${status}${why}`)
    }
    const expiresAt = typeof answer.expireTime === 'string' ? Date.parse(answer.expireTime) : NaN
    if (typeof answer.accessToken !== 'string' || answer.accessToken === '' || !Number.isFinite(expiresAt)) {
      throw providerFailure(this.name, 'IAM Credentials generateAccessToken answered without accessToken and expireTime')
    }
    return { value: answer.accessToken, expiresAt }
  }
}
