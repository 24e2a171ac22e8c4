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
 * credential (DESIGN rule 4). `host` is dropped too: the forwarder sets it from the destination.
 */
export function withoutHopByHop(rawHeaders: readonly string[], extraDrop: readonly string[] = []): string[] {
  const drop = new Set(extraDrop)
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') {
      for (const token of rawHeaders[i + 1]!.split(',')) {
        const name = token.trim().toLowerCase()
        if (name !== '') drop.add(name)
      }
    }
  }
  const out: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const lower = rawHeaders[i]!.toLowerCase()
    if (HOP_BY_HOP.has(lower) || drop.has(lower)) continue
    out.push(rawHeaders[i]!, rawHeaders[i + 1]!)
  }
  return out
}

/** The same for a response's header object (undici gives lower-case names). */
export function responseWithoutHopByHop(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const drop = new Set<string>()
  const connection = headers['connection']
  for (const value of [connection ?? []].flat()) {
    for (const token of value.split(',')) drop.add(token.trim().toLowerCase())
  }
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name)) continue
    out[name] = value
  }
  return out
}
