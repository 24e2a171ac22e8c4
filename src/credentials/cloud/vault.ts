import type { CredentialProvider, ObtainedCredential } from '../provider.js'
import type { SecretSource } from '../secret-source.js'
import type { FetchedToken, TokenCache } from '../token-cache.js'
import type { IdpTransport } from '../provider-http.js'
import { callProvider, jsonOf, providerFailure } from '../provider-http.js'

/**
 * HashiCorp Vault (and OpenBao, same API) as the source of a secret: sidekey logs in with the
 * Kubernetes auth method (the projected service-account token) or AppRole, keeps its Vault token
 * renewed (`renew-self` at two thirds of its TTL, a new login when that fails), and reads a KV v2
 * field or a dynamic secret. A dynamic secret's lease is renewed while Vault allows; when it will
 * not (not renewable, or max TTL reached) the secret is read again before it expires. The secret
 * is then injected by any template, like a static one.
 */

export type VaultAuth =
  | { readonly method: 'kubernetes'; readonly mount: string; readonly role: string; readonly jwt: SecretSource }
  | { readonly method: 'approle'; readonly mount: string; readonly roleId: SecretSource; readonly secretId: SecretSource }

export type VaultSecret =
  | { readonly engine: 'kv2'; readonly mount: string; readonly path: string; readonly field: string }
  | { readonly engine: 'dynamic'; readonly path: string; readonly field: string }

export interface VaultSettings {
  readonly address: string
  readonly namespace: string | null
  readonly auth: VaultAuth
  readonly secret: VaultSecret
  /** How long a KV value is used before it is read again (KV has no lease). */
  readonly kvRefreshS: number
  readonly refreshAt: number | undefined
}

interface Lease {
  readonly id: string
  readonly value: string
  readonly renewable: boolean
  /** The lease's first duration, in seconds. */
  readonly durationS: number
}

export class VaultProvider implements CredentialProvider {
  readonly type = 'vault'
  readonly #key: string
  #token: { value: string; issuedAt: number; expiresAt: number; renewable: boolean } | null = null
  #login: Promise<string> | null = null
  #lease: Lease | null = null
  /** Renewals and logins so far, for tests and debugging. */
  readonly stats = { logins: 0, tokenRenewals: 0, leaseRenewals: 0, reads: 0 }

  constructor(
    readonly name: string,
    readonly settings: VaultSettings,
    private readonly transport: IdpTransport,
    private readonly cache: TokenCache,
    fingerprint: string,
  ) {
    this.#key = `vault|${name}|${fingerprint}`
  }

  async obtain(): Promise<ObtainedCredential> {
    const token = await this.cache.get(this.#key, () => this.#fetch(), this.settings.refreshAt)
    return { secret: token.value, source: token.source, expiresAt: token.expiresAt }
  }

  invalidate(_workload: string | null, secret: string): boolean {
    return this.cache.invalidate(this.#key, secret)
  }

  cached(): boolean {
    return this.cache.holds(this.#key)
  }

  /** Renew the current lease when Vault allows, else read the secret (again). */
  async #fetch(): Promise<FetchedToken> {
    const lease = this.#lease
    if (lease !== null && lease.renewable) {
      const renewed = await this.#call<{ lease_duration?: number; renewable?: boolean }>('PUT', '/v1/sys/leases/renew', 'lease renewal', { lease_id: lease.id }).catch(() => null)
      // A renewal granting half the lease or less means its max TTL is near: read a new secret instead.
      if (renewed !== null && typeof renewed.lease_duration === 'number' && renewed.lease_duration > lease.durationS / 2) {
        this.stats.leaseRenewals++
        this.#lease = { ...lease, renewable: renewed.renewable !== false }
        return { value: lease.value, expiresAt: Date.now() + renewed.lease_duration * 1000 }
      }
    }
    return this.#read()
  }

  async #read(): Promise<FetchedToken> {
    const s = this.settings.secret
    const path = s.engine === 'kv2' ? `/v1/${s.mount}/data/${s.path}` : `/v1/${s.path}`
    const answer = await this.#call<{ data?: Record<string, unknown>; lease_id?: string; lease_duration?: number; renewable?: boolean }>('GET', path, 'secret read')
    this.stats.reads++
    const data = s.engine === 'kv2' ? (answer.data?.data as Record<string, unknown> | undefined) : answer.data
    const value = data?.[s.field]
    if (typeof value !== 'string' || value === '') throw providerFailure(this.name, `Vault secret ${path} has no string field "${s.field}"`)
    if (s.engine === 'kv2') {
      this.#lease = null
      return { value, expiresAt: Date.now() + this.settings.kvRefreshS * 1000 }
    }
    const ttl = typeof answer.lease_duration === 'number' && answer.lease_duration > 0 ? answer.lease_duration : 300
    this.#lease = typeof answer.lease_id === 'string' && answer.lease_id !== '' ? { id: answer.lease_id, value, renewable: answer.renewable === true, durationS: ttl } : null
    return { value, expiresAt: Date.now() + ttl * 1000 }
  }

  /** A Vault API call with the current token; one new login when Vault says the token is no good. */
  async #call<T>(method: 'GET' | 'PUT', path: string, what: string, body?: unknown, retried = false): Promise<T> {
    const token = await this.#vaultToken()
    const { status, text } = await callProvider(this.transport, this.name, `Vault ${what}`, this.#url(path), {
      method,
      headers: { 'x-vault-token': token, accept: 'application/json', ...(this.settings.namespace !== null ? { 'x-vault-namespace': this.settings.namespace } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    })
    if (status === 403 && !retried) {
      // Forget the token this call used, not one a renewal or login got meanwhile (forgetting
      // that would cost a second login for one revocation).
      if (this.#token?.value === token) this.#token = null
      return this.#call(method, path, what, body, true)
    }
    const answer = jsonOf<T & { errors?: unknown }>(this.name, `Vault ${what}`, status, text || '{}')
    if (status !== 200) throw providerFailure(this.name, `Vault ${what} answered HTTP ${status}`, vaultError(answer.errors))
    return answer
  }

  /** A valid Vault token: the current one, renewed at two thirds of its TTL, or a new login. */
  async #vaultToken(): Promise<string> {
    const t = this.#token
    const now = Date.now()
    if (t !== null && now < t.expiresAt) {
      if (t.renewable && now >= t.issuedAt + ((t.expiresAt - t.issuedAt) * 2) / 3 && this.#login === null) {
        // Renewed in the background; the current token stays valid meanwhile.
        this.#login = this.#renewSelf(t.value).finally(() => (this.#login = null))
        this.#login.catch(() => undefined)
      }
      return t.value
    }
    this.#login ??= this.#logIn().finally(() => (this.#login = null))
    return this.#login
  }

  async #renewSelf(token: string): Promise<string> {
    const { status, text } = await callProvider(this.transport, this.name, 'Vault token renewal', this.#url('/v1/auth/token/renew-self'), { method: 'POST', headers: { 'x-vault-token': token, ...(this.settings.namespace !== null ? { 'x-vault-namespace': this.settings.namespace } : {}) } })
    const auth = status === 200 ? jsonOf<{ auth?: { client_token?: string; lease_duration?: number; renewable?: boolean } }>(this.name, 'Vault token renewal', status, text).auth : undefined
    if (auth?.client_token === undefined || typeof auth.lease_duration !== 'number') {
      // Not renewable any more: the next call logs in again.
      this.#token = null
      return this.#logIn()
    }
    this.stats.tokenRenewals++
    this.#token = { value: auth.client_token, issuedAt: Date.now(), expiresAt: Date.now() + auth.lease_duration * 1000, renewable: auth.renewable === true }
    return auth.client_token
  }

  async #logIn(): Promise<string> {
    const a = this.settings.auth
    const read = async (source: SecretSource, what: string): Promise<string> => {
      try {
        return await source.read(true)
      } catch (cause) {
        throw providerFailure(this.name, `Vault ${what}: ${(cause as Error).message}`, cause)
      }
    }
    const body = a.method === 'kubernetes' ? { role: a.role, jwt: await read(a.jwt, 'Kubernetes service-account token') } : { role_id: await read(a.roleId, 'AppRole role_id'), secret_id: await read(a.secretId, 'AppRole secret_id') }
    const { status, text } = await callProvider(this.transport, this.name, `Vault ${a.method} login`, this.#url(`/v1/auth/${a.mount}/login`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(this.settings.namespace !== null ? { 'x-vault-namespace': this.settings.namespace } : {}) },
      body: JSON.stringify(body),
    })
    const answer = jsonOf<{ auth?: { client_token?: unknown; lease_duration?: unknown; renewable?: unknown }; errors?: unknown }>(this.name, `Vault ${a.method} login`, status, text)
    if (status !== 200) throw providerFailure(this.name, `Vault ${a.method} login answered HTTP ${status}`, vaultError(answer.errors))
    const token = answer.auth?.client_token
    if (typeof token !== 'string' || token === '') throw providerFailure(this.name, `Vault ${a.method} login answered without auth.client_token`)
    const ttl = typeof answer.auth?.lease_duration === 'number' && answer.auth.lease_duration > 0 ? answer.auth.lease_duration : 3600
    this.stats.logins++
    this.#token = { value: token, issuedAt: Date.now(), expiresAt: Date.now() + ttl * 1000, renewable: answer.auth?.renewable === true }
    return token
  }

  #url(path: string): string {
    return `${this.settings.address.replace(/\/$/, '')}${path}`
  }
}

/**
 * Vault's `{"errors": [...]}` as the cause of the failure: for the operator's log (the obtain
 * stage writes it as `provider_said`), not for the agent, which is told the HTTP status only. Its
 * messages are the server's free text (paths, roles, whatever a plugin says).
 */
function vaultError(errors: unknown): Error | undefined {
  return Array.isArray(errors) && typeof errors[0] === 'string' ? new Error(errors[0].slice(0, 200)) : undefined
}
