import type { AuthorizationCodeV1 } from '../../policy/schema.js'
import { AuthorizationServer, type AuthorizationSource } from '../delegated/authorization-server.js'
import { DelegatedGrantProvider } from '../delegated/provider.js'
import { transportOf, type CredentialBuilder } from './context.js'
import { tokenEndpoint } from './oauth2.js'

/** Refresh at 80% of an access token's lifetime unless the definition says otherwise (as the token cache does). */
const DEFAULT_REFRESH_AT = 0.8

/**
 * A person's delegated grant (authorization code + PKCE): the token endpoint and client as for the
 * other OAuth grants; the authorization and revocation endpoints discovered from `issuer`, or
 * written beside `token_endpoint`.
 */
export const buildDelegated: CredentialBuilder<AuthorizationCodeV1> = (name, def, ctx, fingerprint) => {
  const endpoint = tokenEndpoint(name, def, ctx)
  if (def.issuer !== undefined && (def.authorization_endpoint !== undefined || def.revocation_endpoint !== undefined)) {
    ctx.problem(def.authorization_endpoint !== undefined ? 'authorization_endpoint' : 'revocation_endpoint', 'with issuer the endpoints are discovered; give them only with token_endpoint')
    return null
  }
  if (def.token_endpoint !== undefined && def.authorization_endpoint === undefined) {
    ctx.problem('authorization_endpoint', 'with token_endpoint, give authorization_endpoint too (or use issuer for discovery)')
    return null
  }
  if (endpoint === null) return null
  const source: AuthorizationSource = def.issuer !== undefined ? { issuer: def.issuer } : { authorizationEndpoint: def.authorization_endpoint!, revocationEndpoint: def.revocation_endpoint ?? null }
  const client = {
    name,
    endpoint,
    server: new AuthorizationServer(name, source, transportOf(def.timeout_ms, ctx)),
    scopes: def.scopes ?? [],
    resource: def.resource ?? null,
    params: def.params ?? {},
    refreshAt: def.refresh_at ?? DEFAULT_REFRESH_AT,
  }
  return new DelegatedGrantProvider(client, ctx.runtime.grants, ctx.runtime.cache, fingerprint)
}
