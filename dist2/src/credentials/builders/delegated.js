import { AuthorizationServer } from '../delegated/authorization-server.js';
import { redirectUriOf } from '../delegated/authorization-flow.js';
import { DelegatedGrantProvider } from '../delegated/provider.js';
import { DynamicClient } from '../delegated/registration.js';
import { providerFailure } from '../provider-http.js';
import { DEFAULT_REFRESH_AT } from '../token-cache.js';
import { metadataUrls, TokenEndpoint } from '../token-endpoint.js';
import { transportOf } from './context.js';
import { clientAuth, tokenEndpoint } from './oauth2.js';
/**
 * A person's delegated grant (authorization code + PKCE). Where its authorization server is: the
 * issuer's metadata; endpoints written beside `token_endpoint`; or a protected resource (an MCP
 * server) whose RFC 9728 metadata names the issuer. The client is pre-registered (`client_id`), or
 * without one registers itself dynamically (RFC 7591).
 */
export const buildDelegated = (name, def, ctx, fingerprint) => {
    const source = authorizationSource(def, ctx);
    if (source === null)
        return null;
    const transport = transportOf(def.timeout_ms, ctx);
    const server = new AuthorizationServer(name, source, transport, def.resource ?? null);
    const discovered = { discover: async () => (await server.endpoints()).token ?? Promise.reject(providerFailure(name, 'discovery found no token endpoint')) };
    let endpoint;
    if (def.client_id === undefined) {
        // No client_id: sidekey registers itself (RFC 7591) at the server discovery finds.
        if (def.client_secret !== undefined || def.private_key !== undefined || def.client_auth !== undefined || 'authorizationEndpoint' in source) {
            ctx.problem('client_id', 'without client_id sidekey registers itself dynamically: give issuer or protected_resource, and no client_secret, private_key or client_auth');
            return null;
        }
        const runtime = ctx.runtime;
        const dynamic = new DynamicClient(name, server, runtime.grants.vault, transport, () => redirectUriOf(runtime.issuer));
        endpoint = new TokenEndpoint(name, discovered, { method: 'registered', clientId: null, resolve: () => dynamic.resolve() }, transport);
    }
    else if ('authorizationEndpoint' in source)
        endpoint = tokenEndpoint(name, def, ctx);
    else {
        // A pre-registered secret or key belongs to one authorization server. Without a pin, the
        // resource's metadata (the MCP server's word) would choose where sidekey sends it.
        if ('protectedResource' in source && source.pinnedIssuer === null && (def.client_secret !== undefined || def.private_key !== undefined)) {
            ctx.problem('issuer', 'a pre-registered client secret or key belongs to one authorization server: with protected_resource, give the issuer it is registered at (the resource\'s metadata must name it)');
            return null;
        }
        // Discovered (an issuer, or a protected resource's): the token endpoint is the one the
        // authorization server's checked metadata names (no downgrade, nothing inward), read once.
        const auth = clientAuth(def, ctx);
        endpoint = auth === null ? null : new TokenEndpoint(name, discovered, auth, transport);
    }
    if (endpoint === null)
        return null;
    const client = { name, endpoint, server, scopes: def.scopes ?? [], params: def.params ?? {}, refreshAt: def.refresh_at ?? DEFAULT_REFRESH_AT };
    return new DelegatedGrantProvider(client, ctx.runtime.grants, ctx.runtime.cache, fingerprint);
};
/** Where the definition says its authorization server is, or null after reporting what does not fit. */
function authorizationSource(def, ctx) {
    const written = def.authorization_endpoint !== undefined || def.revocation_endpoint !== undefined;
    const writtenField = def.authorization_endpoint !== undefined ? 'authorization_endpoint' : 'revocation_endpoint';
    if (def.protected_resource !== undefined) {
        if (def.token_endpoint !== undefined || written) {
            ctx.problem('protected_resource', 'with protected_resource everything is discovered; give no token_endpoint or other endpoint (issuer only to pin a pre-registered client)');
            return null;
        }
        return { protectedResource: def.protected_resource, pinnedIssuer: def.issuer ?? null };
    }
    if (def.issuer !== undefined && metadataUrls(def.issuer) === null) {
        ctx.problem('issuer', `"${def.issuer}" is not an http(s) URL without query or fragment`);
        return null;
    }
    if (def.issuer !== undefined) {
        if (written) {
            ctx.problem(writtenField, 'with issuer the endpoints are discovered; give them only with token_endpoint');
            return null;
        }
        return { issuer: def.issuer };
    }
    if (def.token_endpoint !== undefined && def.authorization_endpoint === undefined) {
        ctx.problem('authorization_endpoint', 'with token_endpoint, give authorization_endpoint too (or use issuer or protected_resource for discovery)');
        return null;
    }
    if (def.authorization_endpoint === undefined) {
        ctx.problem(null, 'give one of issuer, protected_resource, or token_endpoint with authorization_endpoint');
        return null;
    }
    return { authorizationEndpoint: def.authorization_endpoint, revocationEndpoint: def.revocation_endpoint ?? null };
}
//# sourceMappingURL=delegated.js.map