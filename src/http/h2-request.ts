import type { IncomingHttpHeaders } from 'node:http'
import { parseAuthority } from '../policy/host.js'

/**
 * An HTTP/2 request as the stages read an HTTP/1.1 one. They read `headers` and `rawHeaders` (to
 * decide, scan, strip and forward), so an HTTP/2 request is given the same facts in the same
 * places, once, as its stream arrives:
 * - pseudo-header fields (`:method`, `:path`, `:scheme`, `:authority`) are not header fields and
 *   are left out (method and path are `req.method` and `req.url` already);
 * - `:authority` is the request's Host (RFC 9113 section 8.3.1), checked against the tunnel like
 *   any Host header; a `host` field that names something else is refused (`authorityConflict`);
 * - HTTP/2 has no Transfer-Encoding: a body is announced by a HEADERS frame without END_STREAM.
 *   One of unannounced length reads, in `headers` only, as `transfer-encoding: chunked` does on
 *   HTTP/1.1 ("has a body, length unknown": src/http/message.ts). It is never in `rawHeaders`, so
 *   it is never forwarded.
 */
export interface H2RequestHead {
  readonly headers: IncomingHttpHeaders
  readonly rawHeaders: string[]
  /** The `:authority` and `host` fields disagree: the request names two destinations. */
  readonly authorityConflict: boolean
}

/**
 * The head of a request (`source`: its fields as received, pseudo-headers included) without
 * pseudo-headers, with Host from `:authority`, and body presence as HTTP/1.1 reads it;
 * `endAfterHeaders` is true when its HEADERS frame ended the stream (no body).
 */
export function h2RequestHead(source: readonly string[], endAfterHeaders: boolean): H2RequestHead {
  const rawHeaders: string[] = []
  const headers: IncomingHttpHeaders = Object.create(null) as IncomingHttpHeaders
  let authority: string | undefined
  let host: string | undefined
  for (let i = 0; i < source.length; i += 2) {
    const name = source[i]!
    const value = source[i + 1]!
    if (name.charCodeAt(0) === 0x3a) {
      if (name === ':authority') authority = value
      continue
    }
    if (name === 'host') {
      host = value
      continue
    }
    rawHeaders.push(name, value)
    const seen = headers[name]
    // Repeated fields read as Node's HTTP/1.1 parser joins them (set-cookie never comes in a request).
    headers[name] = seen === undefined ? value : name === 'cookie' ? `${String(seen)}; ${value}` : `${String(seen)}, ${value}`
  }
  const named = authority ?? host
  if (named !== undefined) {
    headers.host = named
    rawHeaders.push('host', named)
  }
  if (!endAfterHeaders && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked'
  return { headers, rawHeaders, authorityConflict: authority !== undefined && host !== undefined && !sameDestination(authority, host) }
}

/**
 * Whether `:authority` and `host` name one destination, read as the Host check reads a Host header
 * (policy/host.ts): `API.x` and `api.x`, or `api.x` and `api.x:443`, are the same; a value that
 * does not parse is a conflict.
 */
function sameDestination(authority: string, host: string): boolean {
  const a = parseAuthority(authority, 443)
  const b = parseAuthority(host, 443)
  return a !== null && b !== null && a.host === b.host && a.port === b.port
}
