import type { IncomingMessage } from 'node:http'
import { SidekeyError } from '../errors.js'

/** Methods a browser sends cross-site without asking first, that change nothing here. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Refuse a call that changes something and that a browser sent from another site. A page the
 * operator visits may POST a form or a `text/plain` fetch to `http://127.0.0.1:PORT` without a
 * CORS preflight; its Host names the listener, so the Host check lets it by. Calls guarded by the
 * admin token are safe already (a page cannot set `Authorization` without a preflight, which this
 * listener never grants); this is for the public ones that change state (`POST /v1/shutdown`,
 * found by a red-team run: any page could stop sidekey). A browser says where a request came from
 * in `Sec-Fetch-Site` (Fetch Metadata) and `Origin`; a client that is not a browser sends neither.
 */
export function refuseCrossSite(req: IncomingMessage): void {
  if (SAFE.has(req.method ?? 'GET')) return
  const site = req.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') throw crossSite(`Sec-Fetch-Site: ${site.slice(0, 20)}`)
  const origin = req.headers.origin
  if (origin === undefined) return
  let host: string | null = null
  try {
    const url = new URL(origin)
    if (url.protocol === 'http:' || url.protocol === 'https:') host = url.host
  } catch {
    // "null" (a sandboxed frame, a file: page) and anything unparseable: not this listener.
  }
  if (host === null || host !== req.headers.host?.toLowerCase()) throw crossSite(`Origin ${origin.slice(0, 100)}`)
}

function crossSite(what: string): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_ADMIN_CROSS_SITE', `a browser sent this call from another site (${what}); the admin API takes calls that change state only from its own pages and from clients that are not browsers`)
}
