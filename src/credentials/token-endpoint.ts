import { randomUUID } from 'node:crypto'
import type { CryptoKey, KeyObject } from 'jose'
import { jose } from './jose.js'
import type { SidekeyError } from '../errors.js'
import type { SecretSource } from './secret-source.js'
import type { FetchedToken } from './token-cache.js'
import { callProvider, jsonOf, providerCode, providerFailure, type IdpTransport } from './provider-http.js'
import { noteDiscovered } from './discovered-hosts.js'

/** How sidekey authenticates to the token endpoint (RFC 6749 section 2.3, RFC 7523). */
export type ClientAuth =
  | { readonly method: 'client_secret_basic'; readonly clientId: string; readonly secret: SecretSource }
  | { readonly method: 'client_secret_post'; readonly clientId: string; readonly secret: SecretSource }
  | { readonly method: 'private_key_jwt'; readonly clientId: string; readonly key: SecretSource; readonly keyId: string | null; readonly alg: string }
  | { readonly method: 'none'; readonly clientId: string | null }
  /** A federated token (a projected Kubernetes token) as the client assertion: Azure workload identity. */
  | { readonly method: 'federated_token'; readonly clientId: string; readonly token: SecretSource }
  /** A client registered at run time (RFC 7591): one of the above, known once registered. */
  | { readonly method: 'registered'; readonly clientId: null; readonly resolve: () => Promise<Exclude<ClientAuth, { method: 'registered' }>> }

/**
 * Where the token endpoint is: given, discovered from the issuer (RFC 8414, OpenID Discovery), or
 * found by another discovery (a protected resource's metadata names the issuer, RFC 9728).
 */
export type EndpointSource = { readonly tokenEndpoint: string } | { readonly issuer: string } | { readonly discover: () => Promise<string> }

/** Successful token response fields sidekey uses (RFC 6749 section 5.1, RFC 8693 section 2.2.1). */
interface TokenResponse {
  access_token: string
  expires_in?: number
  token_type?: string
  refresh_token?: string
  scope?: string
}

/** A token endpoint's answer as sidekey keeps it. */
export interface GrantAnswer extends FetchedToken {
  /** The refresh token issued with it, or null when none was. */
  readonly refreshToken: string | null
  /** The scope granted (RFC 6749 section 5.1), or null when the answer did not say. */
  readonly scope: string | null
  /** The `token_type` the answer gave (RFC 6749 section 7.1), or null when it gave none. */
  readonly tokenType: string | null
}

/** Lifetime assumed when a token response has no `expires_in` (RFC 6749 makes it optional). */
const DEFAULT_LIFETIME_S = 300
/**
 * The longest a token is taken to live, whatever `expires_in` says: a day. It is fetched again
 * after that (a server's 1e13 made dates JavaScript cannot write and timers Node fires at once,
 * found by a red-team run).
 */
const MAX_LIFETIME_S = 86_400

/**
 * A token endpoint client: discovers the endpoint once, authenticates as configured, posts the
 * grant's form and validates the answer. Every failure becomes SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE
 * whose message names the credential and what the provider did wrong, never a token or secret.
 */
export class TokenEndpoint {
  #endpoint: string | null
  #discovering: Promise<string> | null = null

  constructor(
    readonly credential: string,
    readonly source: EndpointSource,
    readonly auth: ClientAuth,
    readonly transport: IdpTransport,
  ) {
    this.#endpoint = 'tokenEndpoint' in source ? source.tokenEndpoint : null
  }

  /** POST the grant (`form` holds grant_type and its parameters) and return the access token. */
  async requestToken(form: Record<string, string>): Promise<FetchedToken> {
    const { value, expiresAt } = await this.requestGrant(form)
    return { value, expiresAt }
  }

  /**
   * POST the grant and return the whole answer sidekey keeps: the access token and, for a
   * delegated grant, the refresh token the server issued (RFC 6749 section 6: a new one replaces
   * the old) and the scope it granted. A refusal's RFC 6749 `error` code is the thrown error's
   * `details.provider_error` (`invalid_grant` means the grant is gone).
   */
  async requestGrant(form: Record<string, string>): Promise<GrantAnswer> {
    const requestedAt = Date.now()
    const { status, text } = await this.#post(await this.endpoint(), 'token endpoint', form)
    const parsed = jsonOf<unknown>(this.credential, 'token endpoint', status, text)
    if (status !== 200) {
      // RFC 6749 section 5.2: the error code is safe to repeat; error_description is the provider's
      // text and is kept short.
      const code = providerCode((parsed as { error?: unknown }).error)
      throw providerFailure(this.credential, `token endpoint answered HTTP ${status}${code !== null ? ` (${code})` : ''}`, undefined, code === null ? undefined : { provider_error: code })
    }
    const token = parsed as Partial<TokenResponse>
    if (typeof token.access_token !== 'string' || token.access_token === '') throw this.#fail('token endpoint answered without an access_token')
    const lifetime = typeof token.expires_in === 'number' && token.expires_in > 0 ? Math.min(token.expires_in, MAX_LIFETIME_S) : DEFAULT_LIFETIME_S
    return {
      value: token.access_token,
      expiresAt: requestedAt + lifetime * 1000,
      refreshToken: typeof token.refresh_token === 'string' && token.refresh_token !== '' ? token.refresh_token : null,
      scope: typeof token.scope === 'string' ? token.scope : null,
      tokenType: typeof token.token_type === 'string' ? token.token_type : null,
    }
  }

  /**
   * RFC 7009: ask the server to revoke `token` at `revocationEndpoint`, authenticated as the client
   * is at the token endpoint. True when the server answered 200 (which it also does for a token it
   * no longer knows, section 2.2).
   */
  async revoke(revocationEndpoint: string, token: string, hint: 'refresh_token' | 'access_token'): Promise<boolean> {
    const { status } = await this.#post(revocationEndpoint, 'revocation endpoint', { token, token_type_hint: hint })
    return status === 200
  }

  /** POST a form to one of the server's endpoints with the client's authentication. */
  async #post(url: string, what: string, form: Record<string, string>): Promise<{ status: number; text: string }> {
    const body = new URLSearchParams(form)
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }
    await this.#authenticate(url, body, headers)
    return callProvider(this.transport, this.credential, what, url, { method: 'POST', body: body.toString(), headers })
  }

  /** The token endpoint URL, discovering it from the issuer's metadata on first use. */
  endpoint(): Promise<string> {
    if (this.#endpoint !== null) return Promise.resolve(this.#endpoint)
    this.#discovering ??= this.#discover().finally(() => (this.#discovering = null))
    return this.#discovering
  }

  async #discover(): Promise<string> {
    const source = this.source
    if ('discover' in source) this.#endpoint = await source.discover()
    else {
      const { issuer } = source as { issuer: string }
      this.#endpoint = (await discoverServerMetadata(this.transport, this.credential, issuer)).token_endpoint
      noteDiscovered(this.transport, issuer, this.#endpoint)
    }
    return this.#endpoint
  }

  /** The client id sent to the authorization server (a registered client's once registered). */
  async clientId(): Promise<string | null> {
    return this.auth.method === 'registered' ? (await this.auth.resolve()).clientId : this.auth.clientId
  }

  async #authenticate(endpoint: string, body: URLSearchParams, headers: Record<string, string>): Promise<void> {
    const auth = this.auth.method === 'registered' ? await this.auth.resolve() : this.auth
    if (auth.method === 'none') {
      if (auth.clientId !== null) body.set('client_id', auth.clientId)
      return
    }
    if (auth.method === 'client_secret_basic') {
      // RFC 6749 section 2.3.1: both parts form-urlencoded before Basic encoding.
      const secret = await this.#read(auth.secret, 'client secret')
      const pair = `${encodeURIComponent(auth.clientId)}:${encodeURIComponent(secret)}`
      headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`
      return
    }
    if (auth.method === 'client_secret_post') {
      body.set('client_id', auth.clientId)
      body.set('client_secret', await this.#read(auth.secret, 'client secret'))
      return
    }
    if (auth.method === 'federated_token') {
      // RFC 7523 section 2.2 with a token another issuer signed (Microsoft Entra workload identity federation).
      body.set('client_id', auth.clientId)
      body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
      body.set('client_assertion', await this.#read(auth.token, 'federated token'))
      return
    }
    // private_key_jwt (RFC 7523 section 2.2, OpenID Connect Core section 9).
    const pem = await this.#read(auth.key, 'private key', false)
    let key: CryptoKey | KeyObject
    try {
      key = await jose().importPKCS8(pem, auth.alg)
    } catch (cause) {
      throw this.#fail(`private key is not a PKCS#8 PEM key for ${auth.alg}`, cause)
    }
    const now = Math.floor(Date.now() / 1000)
    const assertion = await new (jose().SignJWT)({})
      .setProtectedHeader({ alg: auth.alg, typ: 'JWT', ...(auth.keyId ? { kid: auth.keyId } : {}) })
      .setIssuer(auth.clientId)
      .setSubject(auth.clientId)
      .setAudience(endpoint)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(key)
    body.set('client_id', auth.clientId)
    body.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
    body.set('client_assertion', assertion)
  }

  async #read(source: SecretSource, what: string, oneLine = true): Promise<string> {
    try {
      return await source.read(oneLine)
    } catch (cause) {
      throw this.#fail(`${what}: ${(cause as Error).message}`, cause)
    }
  }

  #fail(why: string, cause?: unknown): SidekeyError {
    return providerFailure(this.credential, why, cause)
  }
}

/** Authorization server metadata as sidekey reads it (RFC 8414 section 2): the endpoints it calls. */
export interface ServerMetadata {
  readonly issuer?: unknown
  readonly token_endpoint: string
  readonly authorization_endpoint?: unknown
  readonly revocation_endpoint?: unknown
  readonly registration_endpoint?: unknown
  readonly code_challenge_methods_supported?: unknown
}

/**
 * An authorization server's metadata: RFC 8414 section 3 first, then OpenID Connect Discovery 1.0
 * section 4, at the URLs `metadataUrls` gives. An answer that is not metadata moves on to the next;
 * an issuer that does not answer, or is unreachable, fails at once (the provider call's timeout and
 * message): asking the same host again would only wait twice.
 */
export async function discoverServerMetadata(transport: IdpTransport, credential: string, issuerUrl: string): Promise<ServerMetadata> {
  const issuer = issuerUrl.replace(/\/$/, '')
  const urls = metadataUrls(issuer)
  // From a policy this was checked at load; from a protected resource's metadata it is the network's word.
  if (urls === null) throw providerFailure(credential, `the issuer ${issuer.slice(0, 100)} is not an http(s) URL without query or fragment (RFC 8414 section 2)`)
  for (const url of urls) {
    const { status, text } = await callProvider(transport, credential, `issuer ${issuer}`, url, { method: 'GET' })
    if (status !== 200) continue
    const metadata = metadataOf(text)
    if (metadata === null || typeof metadata.token_endpoint !== 'string') continue
    // RFC 8414 section 3.3: the metadata must name the issuer it was fetched for.
    if (typeof metadata.issuer === 'string' && metadata.issuer.replace(/\/$/, '') !== issuer) {
      throw providerFailure(credential, `discovery at ${issuer} names another issuer`)
    }
    return metadata as ServerMetadata
  }
  throw providerFailure(credential, `cannot discover the token endpoint of ${issuer}`)
}

/**
 * The URLs of an issuer's metadata, in the order they are asked (the MCP authorization spec's
 * order). At the root: `/.well-known/oauth-authorization-server`, then
 * `/.well-known/openid-configuration`. An issuer with a path (`https://idp.example/tenant1`, as
 * multi-tenant servers have) has its well-known suffix inserted between host and path, RFC 8414
 * section 3.1 (`/.well-known/oauth-authorization-server/tenant1`), then OpenID Connect's the same
 * way, then OpenID Connect Discovery 1.0's own form, appended (`/tenant1/.well-known/openid-configuration`).
 * Null for what cannot be an issuer: not an http(s) URL, or one with a query or fragment.
 */
export function metadataUrls(issuer: string): string[] | null {
  const url = URL.parse(issuer)
  if (url === null || !/^https?:$/.test(url.protocol) || url.search !== '' || url.hash !== '' || issuer.includes('?') || issuer.includes('#')) return null
  const path = url.pathname.replace(/\/$/, '')
  if (path === '') return [`${url.origin}/.well-known/oauth-authorization-server`, `${url.origin}/.well-known/openid-configuration`]
  return [`${url.origin}/.well-known/oauth-authorization-server${path}`, `${url.origin}/.well-known/openid-configuration${path}`, `${url.origin}${path}/.well-known/openid-configuration`]
}

/** Authorization server metadata (RFC 8414 section 2), or null when `text` is not a JSON object. */
function metadataOf(text: string): { issuer?: unknown; token_endpoint?: unknown } | null {
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === 'object' && parsed !== null ? parsed : null
  } catch {
    return null
  }
}
