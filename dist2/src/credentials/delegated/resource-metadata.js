import { callProvider, providerFailure } from '../provider-http.js';
/**
 * Discover a protected resource's metadata the way MCP clients do: ask the resource without a
 * token and follow the `resource_metadata` parameter of its `WWW-Authenticate` challenge (RFC 9728
 * section 5.1); failing that, the well-known URL with the resource's path, then at its root
 * (section 3.1). The metadata must name a resource on the same origin that the URL falls under
 * (section 3.3: metadata for another resource is not used), and at least one authorization server.
 */
export async function discoverResourceMetadata(transport, credential, resourceUrl) {
    const url = new URL(resourceUrl);
    const probe = await callProvider(transport, credential, `protected resource ${url.origin}`, resourceUrl, { method: 'GET' });
    // Only a challenge naming metadata on the resource's own origin is followed: the resource's answer
    // must not be able to point sidekey's fetch at another host (an internal address, a cloud metadata
    // service: SSRF). Metadata elsewhere is still found through the well-known URLs below.
    const named = probe.status === 401 ? challengeMetadataUrl(probe.headers) : null;
    const fromChallenge = named !== null && new URL(named).origin === url.origin ? named : null;
    const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
    const candidates = [...(fromChallenge === null ? [] : [fromChallenge]), `${url.origin}/.well-known/oauth-protected-resource${path}`, `${url.origin}/.well-known/oauth-protected-resource`];
    for (const candidate of [...new Set(candidates)]) {
        const { status, text } = await callProvider(transport, credential, 'protected resource metadata', candidate, { method: 'GET' });
        if (status !== 200)
            continue;
        const metadata = parse(text);
        if (metadata === null)
            continue;
        if (!covers(metadata.resource, url))
            throw providerFailure(credential, `the protected resource metadata at ${candidate} is for another resource (${metadata.resource.slice(0, 100)})`);
        return metadata;
    }
    throw providerFailure(credential, `${resourceUrl} publishes no protected resource metadata (RFC 9728) naming an authorization server`);
}
/**
 * The `resource_metadata` URL of a Bearer challenge (RFC 9728 section 5.1), or null. The header is
 * read as auth-params (RFC 9110 section 11.2): a quoted string is one value, so a
 * `resource_metadata=` written inside another parameter's quoted value (an error_description the
 * server echoes) is not taken for the parameter, nor is a longer name that ends with it.
 */
export function challengeMetadataUrl(headers) {
    const raw = headers['www-authenticate'];
    const challenge = Array.isArray(raw) ? raw.join(', ') : (raw ?? '');
    for (const m of challenge.matchAll(AUTH_PARAM)) {
        if (m[1] === undefined || m[1].toLowerCase() !== 'resource_metadata')
            continue;
        const value = m[2].startsWith('"') ? m[2].slice(1, -1).replace(/\\(.)/g, '$1') : m[2];
        return /^https?:\/\/[^\s"\\]+$/.test(value) ? value : null;
    }
    return null;
}
/** One auth-param `name=value` (value a token or a whole quoted string), or any other token or quoted string, skipped whole. */
const AUTH_PARAM = /([!#$%&'*+.^_`|~\w-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,"]+)|"(?:[^"\\]|\\.)*"|[^\s,="]+|[\s,="]/g;
function parse(text) {
    try {
        const m = JSON.parse(text);
        const servers = Array.isArray(m.authorization_servers) ? m.authorization_servers.filter((s) => typeof s === 'string' && /^https?:\/\//.test(s)) : [];
        if (typeof m.resource !== 'string' || servers.length === 0)
            return null;
        const scopes = Array.isArray(m.scopes_supported) ? m.scopes_supported.filter((s) => typeof s === 'string') : [];
        return { resource: m.resource, authorizationServers: servers, scopesSupported: scopes };
    }
    catch {
        return null;
    }
}
/** True when `resource` is `url` or a path above it on the same origin (an MCP server's canonical URI). */
export function covers(resource, url) {
    try {
        const r = new URL(resource);
        const base = r.pathname.replace(/\/$/, '');
        return r.origin === url.origin && (url.pathname === base || url.pathname.startsWith(`${base}/`) || base === '');
    }
    catch {
        return false;
    }
}
//# sourceMappingURL=resource-metadata.js.map