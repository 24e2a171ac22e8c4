import { internalHost, noteDiscovered } from '../discovered-hosts.js';
import { discoverServerMetadata } from '../token-endpoint.js';
import { providerFailure } from '../provider-http.js';
import { discoverResourceMetadata } from './resource-metadata.js';
/**
 * The authorization server of a delegated credential: its authorization and revocation endpoints,
 * as written or discovered once from the issuer's metadata (RFC 8414, OpenID Connect Discovery).
 * A server whose metadata lists PKCE methods without S256 is refused: sidekey sends only S256
 * (RFC 7636 section 4.2; OAuth 2.1 drops `plain`).
 */
export class AuthorizationServer {
    credential;
    source;
    transport;
    resource;
    #endpoints = null;
    constructor(credential, source, transport, 
    /** The definition's RFC 8707 resource indicator, or null. */
    resource) {
        this.credential = credential;
        this.source = source;
        this.transport = transport;
        this.resource = resource;
    }
    /** The issuer, the protected resource, or the authorization endpoint's origin: what the console names as the provider. */
    get provider() {
        const source = this.source;
        return 'issuer' in source ? source.issuer : 'protectedResource' in source ? source.protectedResource : new URL(source.authorizationEndpoint).origin;
    }
    endpoints() {
        const source = this.source;
        if ('authorizationEndpoint' in source)
            return Promise.resolve({ authorization: source.authorizationEndpoint, revocation: source.revocationEndpoint, token: null, resource: this.resource, registration: null, clientIdMetadataDocuments: false, issuer: null, issParameter: false });
        this.#endpoints ??= this.#discover(source).catch((err) => {
            // A failed discovery is tried again on the next connect, not remembered.
            this.#endpoints = null;
            throw err;
        });
        return this.#endpoints;
    }
    async #discover(source) {
        let issuer;
        let resource = this.resource;
        if ('protectedResource' in source) {
            const described = await discoverResourceMetadata(this.transport, this.credential, source.protectedResource);
            const pinned = source.pinnedIssuer;
            // The issuer a pre-registered client is registered at: the resource must name it among its servers.
            if (pinned !== null && !described.authorizationServers.some((s) => s.replace(/\/$/, '') === pinned.replace(/\/$/, ''))) {
                throw providerFailure(this.credential, `${source.protectedResource} names other authorization servers than ${pinned}, where this client is registered; refused`);
            }
            issuer = pinned ?? described.authorizationServers[0];
            resource ??= described.resource;
            noteDiscovered(this.transport, source.protectedResource, issuer);
            if (reachesInward(source.protectedResource, issuer))
                throw providerFailure(this.credential, `the resource ${source.protectedResource} names an authorization server on an internal address (${issuer.slice(0, 100)}); refused`);
            if (downgrades(source.protectedResource, issuer))
                throw providerFailure(this.credential, `the HTTPS resource ${source.protectedResource} names an authorization server without HTTPS (${issuer.slice(0, 100)}); refused`);
        }
        else
            issuer = source.issuer;
        const metadata = await discoverServerMetadata(this.transport, this.credential, issuer);
        if (typeof metadata.authorization_endpoint !== 'string' || !/^https?:\/\//.test(metadata.authorization_endpoint)) {
            throw providerFailure(this.credential, `the metadata of ${issuer} names no authorization_endpoint`);
        }
        const methods = metadata.code_challenge_methods_supported;
        if (Array.isArray(methods) && !methods.includes('S256'))
            throw providerFailure(this.credential, `${issuer} does not support PKCE with S256`);
        const revocation = typeof metadata.revocation_endpoint === 'string' ? metadata.revocation_endpoint : null;
        const registration = typeof metadata.registration_endpoint === 'string' ? metadata.registration_endpoint : null;
        for (const [what, endpoint] of [['authorization_endpoint', metadata.authorization_endpoint], ['token_endpoint', metadata.token_endpoint], ['revocation_endpoint', revocation], ['registration_endpoint', registration]]) {
            if (endpoint !== null && downgrades(issuer, endpoint))
                throw providerFailure(this.credential, `the metadata of ${issuer} names a ${what} without HTTPS; refused`);
            if (endpoint !== null && reachesInward(issuer, endpoint))
                throw providerFailure(this.credential, `the metadata of ${issuer} names a ${what} on an internal address; refused`);
            if (endpoint !== null)
                noteDiscovered(this.transport, issuer, endpoint);
        }
        const clientIdMetadataDocuments = metadata.client_id_metadata_document_supported === true;
        const issParameter = metadata.authorization_response_iss_parameter_supported === true;
        const named = typeof metadata.issuer === 'string' ? metadata.issuer : issuer;
        return { authorization: metadata.authorization_endpoint, revocation, token: metadata.token_endpoint, resource, registration, clientIdMetadataDocuments, issuer: named, issParameter };
    }
}
/**
 * True when `named` leaves HTTPS that `namer` had: an HTTPS resource naming a plain-HTTP
 * authorization server, or an HTTPS issuer's metadata naming a plain-HTTP endpoint. sidekey would
 * send codes, verifiers, client secrets and refresh tokens there in clear (OAuth 2.1 and RFC 9728
 * require TLS). Plain HTTP stays possible where the operator wrote it (an `http://` issuer or
 * resource in the definition, as on a loopback test server).
 */
export function downgrades(namer, named) {
    return schemeOf(namer) === 'https:' && schemeOf(named) !== 'https:';
}
/**
 * True when `named` is written as an internal address (a loopback, private, link-local such as the
 * cloud metadata service 169.254.169.254, or other range the SSRF guard blocks; or `localhost`)
 * and `namer` is not: a server's metadata must not turn sidekey's requests inward. A server that
 * is itself internal (the operator wrote it, as on a loopback test server) may name internal
 * endpoints. Names that resolve to internal addresses are caught when connecting
 * (`DiscoveredHosts`, marked by `noteDiscovered`).
 */
export function reachesInward(namer, named) {
    return internalHost(named) && !internalHost(namer);
}
function schemeOf(url) {
    try {
        return new URL(url).protocol;
    }
    catch {
        return '';
    }
}
//# sourceMappingURL=authorization-server.js.map