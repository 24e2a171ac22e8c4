import { SidekeyError } from '../errors.js'
import { cgiHeaderName } from '../http/header-name.js'
/**
 * Hop-by-hop headers (RFC 9110 section 7.6.1) describe one connection and are never forwarded.
 * `proxy-authorization` carries the run token and is consumed here; `expect` is answered by sidekey
 * itself (Node sends 100 Continue) and undici refuses to forward it.
 */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'host',
])

/**
 * Copy raw headers (name, value, name, value, ...) without hop-by-hop headers, without every name
 * the `Connection` header lists, and without `extraDrop`. Dropping what Connection names happens
 * before injection, so an agent sending `Connection: authorization` cannot remove the injected
 * credential (docs/architecture.md, rule 4). `host` is dropped too: the forwarder sets it from the destination.
 */
export function withoutHopByHop(rawHeaders: readonly string[], extraDrop: readonly string[] = []): string[] {
  // Most requests name nothing in Connection and drop nothing more: no set is made for them.
  let drop: Set<string> | null = extraDrop.length > 0 ? new Set(extraDrop.map(cgiHeaderName)) : null
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      for (const token of rawHeaders[i + 1]!.split(',')) {
        const name = cgiHeaderName(token.trim())
        if (name !== '') (drop ??= new Set()).add(name)
      }
    }
  }
  const out: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    // With `_` read as `-` (http/header-name.ts): a CGI-style upstream would read the agent's
    // `Proxy_Authorization` (its run token) as `Proxy-Authorization`.
    const lower = cgiHeaderName(rawHeaders[i]!)
    if (HOP_BY_HOP.has(lower) || drop?.has(lower) === true) continue
    out.push(rawHeaders[i]!, rawHeaders[i + 1]!)
  }
  return out
}

/** The same for a response's header object (undici gives lower-case names). */
export function responseWithoutHopByHop(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const connection = headers['connection']
  let drop: Set<string> | null = null
  if (connection !== undefined) {
    drop = new Set()
    for (const value of [connection].flat()) for (const token of value.split(',')) drop.add(token.trim().toLowerCase())
  }
  const out: Record<string, string | string[]> = {}
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || HOP_BY_HOP.has(name) || drop?.has(name) === true) continue
    out[name] = value
  }
  return out
}

/** Transfer codings in IANA's registry (RFC 9110 section 18.7, RFC 9112 section 7), named in a refusal as they are. */
const KNOWN_CODINGS = new Set(['chunked', 'compress', 'deflate', 'gzip', 'identity', 'trailers', 'x-compress', 'x-gzip', 'br', 'zstd'])

/**
 * Refuse a response framed with a transfer coding besides `chunked` (RFC 9112 section 6.1:
 * `Transfer-Encoding: gzip, chunked`). Both HTTP clients sidekey uses remove only the chunked
 * framing; the header is hop-by-hop and dropped, so the agent would get bytes it cannot know to
 * decode, and the response guard would read compressed bytes it cannot scrub or pin.
 */
export function refuseTransferCodings(headers: Record<string, string | string[] | undefined>): void {
  const value = headers['transfer-encoding']
  if (value === undefined) return
  const codings = [value].flat().join(',').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '')
  if (codings.every((c) => c === 'chunked')) return
  // Only registered coding names are quoted: the message reaches the agent, and an upstream may
  // echo a secret in the header (the refusal is masked too, pipeline/exchange.ts).
  const named = codings.map((c) => (KNOWN_CODINGS.has(c) ? c : 'an unregistered coding')).join(', ')
  throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `the upstream framed its answer with transfer coding "${named.slice(0, 80)}": sidekey relays only chunked framing, since it cannot inspect a body it would have to decode; nothing of it was relayed (the upstream can use Content-Encoding instead)`)
}
