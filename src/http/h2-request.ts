import type { IncomingHttpHeaders } from 'node:http'
import { METHODS } from './node-http.js'
import { hasRawNonUrlByte } from './raw-url-bytes.js'
import { parseAuthority } from '../policy/host.js'

/**
 * The methods Node's HTTP/1.1 parser (llhttp) accepts, every method an HTTP/1.1 agent can send,
 * all in upper case. An HTTP/2 stream may carry these, CONNECT aside (a tunnel inside an
 * intercepted tunnel is not proxied, as on HTTP/1.1). HTTP/2 itself allows any token in `:method`,
 * and nghttp2 and undici pass it on as written: a lowercase `delete` walked past a
 * `methods: [DELETE]` deny (policy matches methods exactly, as RFC 9110 says they are case-sensitive)
 * to a server that reads methods without case (Werkzeug, Express), and a `:method` holding a managed
 * secret went upstream, since the head scan reads the target and fields, not the method.
 */
const HTTP1_METHODS: ReadonlySet<string> = new Set(METHODS)

/** True for a method an HTTP/1.1 agent can send (Node's parser's list), CONNECT included. */
export function isHttp1Method(method: string): boolean {
  return HTTP1_METHODS.has(method)
}

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
 *   it is never forwarded;
 * - `:method` must be one HTTP/1.1 could carry (`methodRefused` otherwise), and `:path` a target it
 *   could (`pathRefused` otherwise: http/raw-url-bytes.ts).
 */
export interface H2RequestHead {
  /** `:method`, as sent. */
  readonly method: string | undefined
  /** `:path`, as sent (none for CONNECT). */
  readonly path: string | undefined
  readonly headers: IncomingHttpHeaders
  readonly rawHeaders: string[]
  /** The `:authority` and `host` fields disagree: the request names two destinations. */
  readonly authorityConflict: boolean
  /** `:method` is not one sidekey forwards (`isHttp1Method`, CONNECT aside): the stream is refused before it is decided. */
  readonly methodRefused: boolean
  /** `:path` holds a byte HTTP/1.1's parser refuses raw in a target (non-ASCII text): refused before it is decided. */
  readonly pathRefused: boolean
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
  let method: string | undefined
  let path: string | undefined
  let pathRefused = false
  /** Where the one Cookie field's value is in `rawHeaders`, once there is one. */
  let cookieAt = -1
  for (let i = 0; i < source.length; i += 2) {
    const name = source[i]!
    const value = source[i + 1]!
    if (name.charCodeAt(0) === 0x3a) {
      if (name === ':authority') authority = value
      else if (name === ':method') method = value
      else if (name === ':path') {
        path = value
        pathRefused = hasRawNonUrlByte(value)
      }
      continue
    }
    if (name === 'host') {
      host = value
      continue
    }
    const seen = headers[name]
    // Repeated fields read as Node's HTTP/1.1 parser joins them (set-cookie never comes in a request).
    headers[name] = seen === undefined ? value : name === 'cookie' ? `${String(seen)}; ${value}` : `${String(seen)}, ${value}`
    // HTTP/2 may split Cookie into many fields; they go on as one, joined with "; " (RFC 9113
    // section 8.2.3): an HTTP/1.1 server that keeps only the first Cookie line would read another
    // value than sidekey (found by a red-team run).
    if (name === 'cookie') {
      if (cookieAt < 0) {
        cookieAt = rawHeaders.length + 1
        rawHeaders.push(name, value)
      } else rawHeaders[cookieAt] = String(headers.cookie)
      continue
    }
    rawHeaders.push(name, value)
  }
  const named = authority ?? host
  if (named !== undefined) {
    headers.host = named
    rawHeaders.push('host', named)
  }
  if (!endAfterHeaders && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked'
  return { method, path, headers, rawHeaders, authorityConflict: authority !== undefined && host !== undefined && !sameDestination(authority, host), methodRefused: method === undefined || method === 'CONNECT' || !HTTP1_METHODS.has(method), pathRefused }
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
