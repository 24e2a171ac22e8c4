import { SidekeyError } from '../errors.js'
import { cgiHeaderName } from '../http/header-name.js'

/**
 * Fields a request may carry once (RFC 9110: a sender must not send them as a list) whose value
 * sidekey decides on. `Content-Type` says how the body is read: as a form, JSON or multipart for
 * `_method` and CEL conditions, as MCP's JSON-RPC. Sent twice, sidekey and the upstream could each
 * read another one (Node keeps the first, gunicorn's `CONTENT_TYPE` the last), and a body decided
 * on as one kind would run as another.
 */
const SINGLETONS: readonly string[] = ['content-type']

/**
 * Fields that say how the body is read. `Connection` may name any field as hop-by-hop, and sidekey
 * then drops it before forwarding: named there, Content-Type was read by sidekey's checks (JSON, so
 * no form `_method`; CEL's JSON body) and never reached the upstream, which read the body as a form
 * (found by a red-team run: Rack ran `x=1&_method=DELETE` as DELETE past `deny DELETE`).
 */
const BODY_FIELDS: ReadonlySet<string> = new Set(['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location', 'content-range', 'content-disposition'])

/** Throw SIDEKEY_ERR_BAD_REQUEST when the request carries a singleton field more than once, or its `Connection` names a field that says how the body is read. */
export function refuseRepeatedSingletons(rawHeaders: readonly string[]): void {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.length !== 10 || rawHeaders[i]!.toLowerCase() !== 'connection') continue
    for (const token of rawHeaders[i + 1]!.split(',')) {
      const named = cgiHeaderName(token.trim())
      if (BODY_FIELDS.has(named) || named.startsWith('content-')) {
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', `the request's Connection header names ${token.trim().slice(0, 40)}, which says how the body is read: sidekey would drop it before forwarding (Connection names hop-by-hop fields), so it and the upstream would read the body differently. Leave it out of Connection`)
      }
    }
  }
  for (const name of SINGLETONS) {
    let seen = 0
    for (let i = 0; i < rawHeaders.length; i += 2) {
      // `Content_Type` too: Puma before 6.4.3 and CGI-style servers read it as Content-Type.
      if (rawHeaders[i]!.length === name.length && cgiHeaderName(rawHeaders[i]!) === name && ++seen > 1) {
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', `the request has more than one ${rawHeaders[i]} header, and servers disagree on which one counts (the first, the last, both joined), so sidekey would decide on one reading of the body while another runs: send one`)
      }
    }
  }
}
