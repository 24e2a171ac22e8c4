import { callProvider, jsonOf, providerCode, providerFailure, type IdpTransport } from '../provider-http.js'
import type { ClientAuth } from '../token-endpoint.js'
import type { AuthorizationServer } from './authorization-server.js'
import type { GrantVault } from './grant-vault.js'

/** A client as the authorization server registered it, kept sealed beside the grants. */
interface RegisteredClient {
  readonly clientId: string
  readonly clientSecret: string | null
  readonly method: 'client_secret_basic' | 'client_secret_post' | 'none'
  /** The redirect URI it was registered with: a changed one registers again. */
  readonly redirectUri: string
}

/**
 * Dynamic client registration (RFC 7591) for a delegated credential without a `client_id`: on
 * first use sidekey registers itself at the authorization server's `registration_endpoint` with its
 * redirect URI, and keeps the answer sealed in the grant store, so every replica and every restart
 * uses one registration (a compare and set: of two replicas registering at once, one answer is
 * kept). A server that offers no registration endpoint, or only Client ID Metadata Documents, is
 * refused with what to do instead.
 */
export class DynamicClient {
  #current: Promise<Exclude<ClientAuth, { method: 'registered' }>> | null = null

  constructor(
    private readonly credential: string,
    private readonly server: AuthorizationServer,
    private readonly vault: GrantVault,
    private readonly transport: IdpTransport,
    private readonly redirectUri: () => string,
  ) {}

  /** The client authentication to use (`ClientAuth` of method `registered` resolves to this). */
  resolve(): Promise<Exclude<ClientAuth, { method: 'registered' }>> {
    this.#current ??= this.#registered().catch((err: unknown) => {
      this.#current = null
      throw err
    })
    return this.#current
  }

  async #registered(): Promise<Exclude<ClientAuth, { method: 'registered' }>> {
    const name = `oauth-client:${this.credential}`
    const redirectUri = this.redirectUri()
    const stored = await this.vault.readSealed(name)
    let client = stored.text === null ? null : (JSON.parse(stored.text) as RegisteredClient)
    if (client === null || client.redirectUri !== redirectUri) {
      const fresh = await this.#register(redirectUri)
      if (await this.vault.writeSealed(name, stored.raw, JSON.stringify(fresh))) client = fresh
      else client = JSON.parse((await this.vault.readSealed(name)).text!) as RegisteredClient
    }
    const secret = client.clientSecret
    if (client.method === 'none' || secret === null) return { method: 'none', clientId: client.clientId }
    return { method: client.method, clientId: client.clientId, secret: { describe: 'registered client secret', read: async () => secret } }
  }

  async #register(redirectUri: string): Promise<RegisteredClient> {
    const { registration, clientIdMetadataDocuments } = await this.server.endpoints()
    if (registration === null) {
      const why = clientIdMetadataDocuments
        ? 'the authorization server offers only Client ID Metadata Documents, which sidekey does not host; publish one and set client_id to its URL (docs/delegated-oauth.md)'
        : 'the authorization server offers no dynamic registration (RFC 7591); register a client and set client_id'
      throw providerFailure(this.credential, why)
    }
    const metadata = { client_name: 'sidekey', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }
    const { status, text } = await callProvider(this.transport, this.credential, 'registration endpoint', registration, { method: 'POST', body: JSON.stringify(metadata), headers: { 'content-type': 'application/json', accept: 'application/json' } })
    const answer = jsonOf<{ client_id?: unknown; client_secret?: unknown; token_endpoint_auth_method?: unknown; error?: unknown }>(this.credential, 'registration endpoint', status, text)
    if (status !== 201 && status !== 200) throw providerFailure(this.credential, `registration endpoint answered HTTP ${status}${providerCode(answer.error) !== null ? ` (${providerCode(answer.error)})` : ''}`)
    if (typeof answer.client_id !== 'string' || answer.client_id === '') throw providerFailure(this.credential, 'registration endpoint answered without a client_id')
    const secret = typeof answer.client_secret === 'string' && answer.client_secret !== '' ? answer.client_secret : null
    const method = answer.token_endpoint_auth_method === 'client_secret_post' ? 'client_secret_post' : secret === null || answer.token_endpoint_auth_method === 'none' ? 'none' : 'client_secret_basic'
    return { clientId: answer.client_id, clientSecret: secret, method, redirectUri }
  }
}
