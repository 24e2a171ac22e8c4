import type { IncomingMessage } from 'node:http'
import { SidekeyError } from '../errors.js'
import { parseAuthority, type Authority } from '../policy/host.js'
import type { Tunnel } from './tunnel.js'

/**
 * An origin-form target the WHATWG URL parser would leave untouched: printable ASCII without
 * `\`, `#`, `%` or spaces, and no `.` or `..` segment.
 */
const SIMPLE_PATH = /^(?!.*\/\.\.?(?:[/?]|$))\/[!$&-;=?-[\]-~]*$/

/** `http(s)://host[:port]` (lower case, no user info) and an optional origin-form rest. */
const SIMPLE_ABSOLUTE = /^(https?):\/\/([a-z0-9.-]+(?::[0-9]{1,5})?)(\/.*)?$/

/** Where a request is going, as sidekey will decide and forward it. */
export interface RequestTarget extends Authority {
  readonly scheme: 'http' | 'https'
  /** Normalised origin-form path with query (dot segments resolved), exactly what is forwarded. */
  readonly path: string
  /** The path without query, for matching. */
  readonly pathname: string
}

/**
 * Work out the destination of a request. Outside a tunnel it is the absolute-form request target.
 * Inside a tunnel it is the CONNECT authority and nothing else: a Host header (or absolute-form
 * target) naming another host or port is refused (DESIGN rule 2). The path is normalised once,
 * here, so the path policy decides on is the path the upstream receives.
 */
export function requestTarget(req: IncomingMessage, tunnel: Tunnel | null): RequestTarget {
  const raw = req.url ?? ''
  if (tunnel === null) {
    if (raw.startsWith('/')) {
      throw new SidekeyError('SIDEKEY_ERR_NOT_PROXY_REQUEST', 'this is the sidekey proxy port: send absolute-form requests (http://host/path) or CONNECT')
    }
    // Fast path: a canonical authority and a path the URL parser would not change.
    const simple = SIMPLE_ABSOLUTE.exec(raw)
    if (simple !== null && (simple[3] === undefined || SIMPLE_PATH.test(simple[3]))) {
      const scheme = simple[1] as 'http' | 'https'
      const authority = parseAuthority(simple[2]!, scheme === 'https' ? 443 : 80)
      if (authority !== null) {
        const path = simple[3] ?? '/'
        const q = path.indexOf('?')
        return { ...authority, scheme, path, pathname: q < 0 ? path : path.slice(0, q) }
      }
    }
    let url: URL
    try {
      url = new URL(raw)
    } catch {
      throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the request target is not an absolute URL')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new SidekeyError('SIDEKEY_ERR_UNSUPPORTED_SCHEME', `scheme ${url.protocol.slice(0, -1)} is not proxied`)
    }
    if (url.username !== '' || url.password !== '') {
      throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'credentials in the request URL are refused; sidekey injects credentials')
    }
    const scheme = url.protocol === 'https:' ? 'https' : 'http'
    const authority = parseAuthority(url.host, scheme === 'https' ? 443 : 80)
    if (authority === null) throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the request target names no valid host')
    return { ...authority, scheme, path: url.pathname + url.search, pathname: url.pathname }
  }

  const scheme = tunnel.tls ? 'https' : 'http'
  const defaultPort = scheme === 'https' ? 443 : 80
  const hostHeader = req.headers.host
  const claimed = hostHeader === undefined ? null : parseAuthority(hostHeader, defaultPort)
  // Another host, or an explicit other port, is what a smuggled second destination looks like.
  if (claimed === null || claimed.host !== tunnel.authority.host || !samePort(claimed, tunnel.authority, hostHeader!)) {
    throw new SidekeyError('SIDEKEY_ERR_HOST_MISMATCH', `the Host header does not name the tunnel's destination ${tunnel.authority.host}:${tunnel.authority.port}`)
  }
  if (raw.startsWith('/') && SIMPLE_PATH.test(raw)) {
    // Fast path: nothing the URL parser would change (no dot segments, no escapes of dots, no
    // backslashes, no fragment), so the path is forwarded and decided exactly as sent.
    const q = raw.indexOf('?')
    return { ...tunnel.authority, scheme, path: raw, pathname: q < 0 ? raw : raw.slice(0, q) }
  }
  let url: URL
  try {
    url = raw.startsWith('/') ? new URL(raw, `${scheme}://placeholder.invalid`) : new URL(raw)
  } catch {
    throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the request target is not a valid path')
  }
  if (!raw.startsWith('/')) {
    const inner = parseAuthority(url.host, defaultPort)
    if (inner === null || inner.host !== tunnel.authority.host || inner.port !== tunnel.authority.port) {
      throw new SidekeyError('SIDEKEY_ERR_HOST_MISMATCH', "the request target does not name the tunnel's destination")
    }
  }
  return { ...tunnel.authority, scheme, path: url.pathname + url.search, pathname: url.pathname }
}

function samePort(claimed: Authority, tunnel: Authority, hostHeader: string): boolean {
  if (claimed.port === tunnel.port) return true
  // "Host: name" with no port is accepted for any tunnel port: clients omit the port when it is
  // the default for the scheme they think they speak, and the tunnel's port is what is dialled.
  return !/:[0-9]+$/.test(hostHeader.replace(/^\[.*\]/, ''))
}
