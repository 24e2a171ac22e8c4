import { discoverServerMetadata } from '../token-endpoint.js'
import { providerFailure, type IdpTransport } from '../provider-http.js'

/** Where a person is sent to consent, and where grants are revoked. */
export interface AuthorizationEndpoints {
  readonly authorization: string
  /** RFC 7009 revocation endpoint, or null when the server advertises none. */
  readonly revocation: string | null
}

/** Where the endpoints come from: written in the definition, or the issuer's metadata. */
export type AuthorizationSource = { readonly issuer: string } | { readonly authorizationEndpoint: string; readonly revocationEndpoint: string | null }

/**
 * The authorization server of a delegated credential: its authorization and revocation endpoints,
 * as written or discovered once from the issuer's metadata (RFC 8414, OpenID Connect Discovery).
 * A server whose metadata lists PKCE methods without S256 is refused: sidekey sends only S256
 * (RFC 7636 section 4.2; OAuth 2.1 drops `plain`).
 */
export class AuthorizationServer {
  #endpoints: Promise<AuthorizationEndpoints> | null = null

  constructor(
    readonly credential: string,
    readonly source: AuthorizationSource,
    private readonly transport: IdpTransport,
  ) {}

  /** The issuer, or the authorization endpoint's origin: what the console names as the provider. */
  get provider(): string {
    return 'issuer' in this.source ? this.source.issuer : new URL(this.source.authorizationEndpoint).origin
  }

  endpoints(): Promise<AuthorizationEndpoints> {
    const source = this.source
    if (!('issuer' in source)) return Promise.resolve({ authorization: source.authorizationEndpoint, revocation: source.revocationEndpoint })
    this.#endpoints ??= this.#discover(source.issuer).catch((err: unknown) => {
      // A failed discovery is tried again on the next connect, not remembered.
      this.#endpoints = null
      throw err
    })
    return this.#endpoints
  }

  async #discover(issuer: string): Promise<AuthorizationEndpoints> {
    const metadata = await discoverServerMetadata(this.transport, this.credential, issuer)
    if (typeof metadata.authorization_endpoint !== 'string' || !/^https?:\/\//.test(metadata.authorization_endpoint)) {
      throw providerFailure(this.credential, `the metadata of ${issuer} names no authorization_endpoint`)
    }
    const methods = metadata.code_challenge_methods_supported
    if (Array.isArray(methods) && !methods.includes('S256')) throw providerFailure(this.credential, `${issuer} does not support PKCE with S256`)
    const revocation = typeof metadata.revocation_endpoint === 'string' ? metadata.revocation_endpoint : null
    return { authorization: metadata.authorization_endpoint, revocation }
  }
}
