import type { IncomingHttpHeaders } from 'node:http'
import { callProvider, providerFailure, type IdpTransport } from '../provider-http.js'

/** What a protected resource says about itself (RFC 9728 section 2), as sidekey uses it. */
export interface ResourceMetadata {
  /** The resource identifier: what sidekey sends as the RFC 8707 resource indicator. */
  readonly resource: string
  /** The authorization servers that issue tokens for it (sidekey uses the first). */
  readonly authorizationServers: readonly string[]
  readonly scopesSupported: readonly string[]
}

/**
 * Discover a protected resource's metadata the way MCP clients do: ask the resource without a
 * token and follow the `resource_metadata` parameter of its `WWW-Authenticate` challenge (RFC 9728
 * section 5.1); failing that, the well-known URL with the resource's path, then at its root
 * (section 3.1). The metadata must name a resource on the same origin that the URL falls under
 * (section 3.3: metadata for another resource is not used), and at least one authorization server.
 */
export async function discoverResourceMetadata(transport: IdpTransport, credential: string, resourceUrl: string): Promise<ResourceMetadata> {
  const url = new URL(resourceUrl)
  const probe = await callProvider(transport, credential, `protected resource ${url.origin}`, resourceUrl, { method: 'GET' })
  const fromChallenge = probe.status === 401 ? challengeMetadataUrl(probe.headers) : null
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
  const candidates = [...(fromChallenge === null ? [] : [fromChallenge]), `${url.origin}/.well-known/oauth-protected-resource${path}`, `${url.origin}/.well-known/oauth-protected-resource`]
  for (const candidate of [...new Set(candidates)]) {
    const { status, text } = await callProvider(transport, credential, 'protected resource metadata', candidate, { method: 'GET' })
    if (status !== 200) continue
    const metadata = parse(text)
    if (metadata === null) continue
    if (!covers(metadata.resource, url)) throw providerFailure(credential, `the protected resource metadata at ${candidate} is for another resource (${metadata.resource.slice(0, 100)})`)
    return metadata
  }
  throw providerFailure(credential, `${resourceUrl} publishes no protected resource metadata (RFC 9728) naming an authorization server`)
}

/** The `resource_metadata` URL of a Bearer challenge (RFC 9728 section 5.1), or null. */
export function challengeMetadataUrl(headers: IncomingHttpHeaders): string | null {
  const raw = headers['www-authenticate']
  const challenge = Array.isArray(raw) ? raw.join(', ') : (raw ?? '')
  const m = /resource_metadata="([^"]+)"/i.exec(challenge) ?? /resource_metadata=([^\s,]+)/i.exec(challenge)
  return m !== null && /^https?:\/\//.test(m[1]!) ? m[1]! : null
}

function parse(text: string): ResourceMetadata | null {
  try {
    const m = JSON.parse(text) as { resource?: unknown; authorization_servers?: unknown; scopes_supported?: unknown }
    const servers = Array.isArray(m.authorization_servers) ? m.authorization_servers.filter((s): s is string => typeof s === 'string' && /^https?:\/\//.test(s)) : []
    if (typeof m.resource !== 'string' || servers.length === 0) return null
    const scopes = Array.isArray(m.scopes_supported) ? m.scopes_supported.filter((s): s is string => typeof s === 'string') : []
    return { resource: m.resource, authorizationServers: servers, scopesSupported: scopes }
  } catch {
    return null
  }
}

/** True when `resource` is `url` or a path above it on the same origin (an MCP server's canonical URI). */
export function covers(resource: string, url: URL): boolean {
  try {
    const r = new URL(resource)
    const base = r.pathname.replace(/\/$/, '')
    return r.origin === url.origin && (url.pathname === base || url.pathname.startsWith(`${base}/`) || base === '')
  } catch {
    return false
  }
}
