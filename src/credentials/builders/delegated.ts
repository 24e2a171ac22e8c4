import type { AuthorizationCodeV1 } from '../../policy/schema.js'
import { AuthorizationServer, type AuthorizationSource } from '../delegated/authorization-server.js'
import { DelegatedGrantProvider } from '../delegated/provider.js'
import { providerFailure } from '../provider-http.js'
import { TokenEndpoint } from '../token-endpoint.js'
import { transportOf, type BuildContext, type CredentialBuilder } from './context.js'
import { clientAuth, tokenEndpoint } from './oauth2.js'

/** Refresh at 80% of an access token's lifetime unless the definition says otherwise (as the token cache does). */
const DEFAULT_REFRESH_AT = 0.8

/**
 * A person's delegated grant (authorization code + PKCE). Where its authorization server is: the
 * issuer's metadata; endpoints written beside `token_endpoint`; or a protected resource (an MCP
 * server) whose RFC 9728 metadata names the issuer. The client is pre-registered (`client_id`).
 */
export const buildDelegated: CredentialBuilder<AuthorizationCodeV1> = (name, def, ctx, fingerprint) => {
  const source = authorizationSource(def, ctx)
  if (source === null) return null
  const transport = transportOf(def.timeout_ms, ctx)
  const server = new AuthorizationServer(name, source, transport, def.resource ?? null)
  let endpoint: TokenEndpoint | null
  if ('protectedResource' in source) {
    const auth = clientAuth(def, ctx)
    endpoint = auth === null ? null : new TokenEndpoint(name, { discover: async () => (await server.endpoints()).token ?? Promise.reject(providerFailure(name, 'discovery found no token endpoint')) }, auth, transport)
  } else endpoint = tokenEndpoint(name, def, ctx)
  if (endpoint === null) return null
  const client = { name, endpoint, server, scopes: def.scopes ?? [], params: def.params ?? {}, refreshAt: def.refresh_at ?? DEFAULT_REFRESH_AT }
  return new DelegatedGrantProvider(client, ctx.runtime.grants, ctx.runtime.cache, fingerprint)
}

/** Where the definition says its authorization server is, or null after reporting what does not fit. */
function authorizationSource(def: AuthorizationCodeV1, ctx: BuildContext): AuthorizationSource | null {
  const written = def.authorization_endpoint !== undefined || def.revocation_endpoint !== undefined
  const writtenField = def.authorization_endpoint !== undefined ? 'authorization_endpoint' : 'revocation_endpoint'
  if (def.protected_resource !== undefined) {
    if (def.issuer !== undefined || def.token_endpoint !== undefined || written) {
      ctx.problem('protected_resource', 'with protected_resource everything is discovered; give no issuer, token_endpoint or other endpoint')
      return null
    }
    return { protectedResource: def.protected_resource }
  }
  if (def.issuer !== undefined) {
    if (written) {
      ctx.problem(writtenField, 'with issuer the endpoints are discovered; give them only with token_endpoint')
      return null
    }
    return { issuer: def.issuer }
  }
  if (def.token_endpoint !== undefined && def.authorization_endpoint === undefined) {
    ctx.problem('authorization_endpoint', 'with token_endpoint, give authorization_endpoint too (or use issuer or protected_resource for discovery)')
    return null
  }
  if (def.authorization_endpoint === undefined) {
    ctx.problem(null, 'give one of issuer, protected_resource, or token_endpoint with authorization_endpoint')
    return null
  }
  return { authorizationEndpoint: def.authorization_endpoint, revocationEndpoint: def.revocation_endpoint ?? null }
}
