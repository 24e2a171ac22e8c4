import { ConditionRefusal } from '../errors.js'
import type { CelPredicate, QueryReads } from '../policy/cel.js'
import type { Route } from '../policy/types.js'
import { cgiHeaderName } from '../http/header-name.js'
import { findAmbiguousKeys, quoteKey } from './json-keys.js'
import { inexactNumber } from './json-numbers.js'
import { bodyParamNames, mayCarryParams, paramInBoth } from './merged-params.js'
import { paramName, repeatedQueryParam } from './query-repeats.js'
import { declaredCharsets } from './response-charset.js'

/**
 * Requests that a route's conditions (or the person approving them) would read one way and the
 * upstream another (docs/security.md). A condition is only worth what the upstream agrees it
 * checked, so on routes that read the query or the body such requests are refused, naming what is
 * ambiguous, before any condition is evaluated:
 * - a query parameter a condition reads, given more than once (see `query-repeats.ts`), or given
 *   in the body as well, and any name in both when a condition reads the body
 *   (servers that merge the two disagree on which wins: see `merged-params.ts`);
 * - a header a condition reads, given more than once, or spelled with `_` for `-` (which CGI-style
 *   servers read as the same header and others as another one: http/header-name.ts);
 * - a JSON body with a key twice, or two keys differing only in letter case (see `json-keys.ts`),
 *   or a number a double cannot hold exactly (see `json-numbers.ts`), when a condition or an
 *   approver reads the body;
 * - a JSON body declared as a form (url-encoded, any multipart type), or not declared as JSON (no
 *   Content-Type, which Rack reads as a form; another type) and holding a form separator, when a
 *   condition or an approver reads the body: the upstream may parse the form, which can carry other
 *   fields (found by a red-team run, against real Rack);
 * - a body that declares a charset other than UTF-8 (Express decodes `utf-7` into other JSON than
 *   the UTF-8 a condition read; found by a red-team run, against real Express).
 */

/** What a route's CEL reads, gathered once per route and remembered (routes are frozen at load). */
interface Reads {
  readonly query: QueryReads
  readonly headers: QueryReads
  /** CEL reads `body` (as JSON). */
  readonly celBody: boolean
  /** CEL or a person reads the body. */
  readonly body: boolean
}

const readsByRoute = new WeakMap<Route, Reads>()

function readsOf(route: Route): Reads {
  const known = readsByRoute.get(route)
  if (known !== undefined) return known
  const predicates: CelPredicate[] = [...(route.conditions?.cel ?? []), ...(route.approval?.when ? [route.approval.when] : [])]
  const union = (of: (p: CelPredicate) => QueryReads, spell: (name: string) => string = (n) => n): QueryReads => {
    const names = new Set<string>()
    for (const p of predicates) {
      const read = of(p)
      if (read === 'any') return 'any'
      for (const name of read) names.add(spell(name))
    }
    return names
  }
  const celBody = predicates.some((p) => p.usesBody)
  const reads = Object.freeze({ query: union((p) => p.queryReads), headers: union((p) => p.headerReads, cgiHeaderName), celBody, body: celBody || route.approval !== null })
  readsByRoute.set(route, reads)
  return reads
}

/**
 * Whether the guard must read the body of a request to `path` on `route` that declares
 * `contentType`, though nothing reads the body: a condition reads the query, the request has one,
 * and the body may carry a field of the same name (`merged-params.ts`).
 */
export function bodyMayOverrideQuery(route: Route, path: string, contentType: string | undefined): boolean {
  const query = readsOf(route).query
  return (query === 'any' || query.size > 0) && path.includes('?') && mayCarryParams(contentType)
}

/** The request parts the check looks at. */
export interface AmbiguityFacts {
  /** Origin-form path with query. */
  readonly path: string
  readonly contentType: string | undefined
  /** The agent's headers as they go upstream (celHeaders in request-guard.ts): what CEL reads. */
  readonly headers: readonly string[]
  /** The body as read, and as parsed JSON (undefined when it is not JSON). */
  readonly body: Buffer | null
  readonly json: unknown
}

/** Whether `body` holds what separates form fields (`&`; `;` too for older Rack and Werkzeug); searched as bytes, with no copy. */
function hasFormSeparator(body: Buffer): boolean {
  return body.includes(0x26) || body.includes(0x3b)
}

/** Whether `contentType` names a type servers parse as a form: url-encoded (and Werkzeug's `x-url-encoded`), or any multipart type (Rack parses `multipart/mixed` too). */
function formType(contentType: string | undefined): boolean {
  return /^\s*(application\/x-www-form-urlencoded|application\/x-url-encoded|multipart\/)/i.test(contentType ?? '')
}

/** Whether `contentType` names JSON: `application/json` or a `+json` type (RFC 6839). */
function isJsonMediaType(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  return type === 'application/json' || /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+\+json$/.test(type)
}

/**
 * What a Content-Type declares besides UTF-8, as it would be named in a refusal: a `charset` other
 * than utf-8 (quoted or not, any case), or more than one; null when it declares UTF-8 or nothing.
 */
function foreignCharset(contentType: string | undefined): string | null {
  if (contentType === undefined) return null
  const charsets = declaredCharsets(contentType)
  if (charsets.length > 1) return `charset ${charsets.length} times`
  if (charsets.length === 1 && charsets[0] !== 'utf-8' && charsets[0] !== 'utf8') return `charset=${charsets[0]!.slice(0, 40)}`
  return null
}

/** The refusal for the first ambiguity in the request, or null when the route reads it one way only. */
export function ambiguity(route: Route, f: AmbiguityFacts): ConditionRefusal | null {
  const reads = readsOf(route)
  const q = f.path.indexOf('?')
  if (q >= 0) {
    const repeated = repeatedQueryParam(f.path.slice(q + 1), reads.query)
    if (repeated !== null) {
      const spelled = repeated.spellings.slice(0, 5).map(quoteKey).join(', ')
      return new ConditionRefusal(
        'SIDEKEY_ERR_AMBIGUOUS_QUERY',
        'ambiguous_query',
        `the query parameter ${quoteKey(repeated.name)} is given ${repeated.spellings.length} times (${spelled}); route "${route.name}" has a condition that reads it, and servers disagree on which value counts (the first, the last, or all of them). Send it once, in one spelling`,
      )
    }
  }
  const cookie = cookieNamedLikeQueryRead(f.headers, reads.query)
  if (cookie !== null) {
    return new ConditionRefusal(
      'SIDEKEY_ERR_AMBIGUOUS_QUERY',
      'ambiguous_query',
      `a cookie is named ${quoteKey(cookie)}, like a query parameter route "${route.name}" has a condition on; PHP's $_REQUEST (with cookies in request_order or variables_order) lets the cookie's value win over the query's. Leave the cookie out of this request`,
    )
  }
  if (q >= 0 && f.body !== null && f.body.length > 0) {
    const both = paramInBoth(f.path.slice(q + 1), bodyParamNames(f.contentType, f.body, f.json), reads.query, reads.celBody)
    if (both !== null) {
      return new ConditionRefusal(
        'SIDEKEY_ERR_AMBIGUOUS_QUERY',
        'ambiguous_query',
        `the parameter ${quoteKey(both)} is given in the query and in the body; route "${route.name}" has a condition that reads one of them, and servers that merge the two disagree on which counts (Rack and PHP take the body's, Rails the query's). Give it in one place only`,
      )
    }
  }
  const header = ambiguousHeader(f.headers, reads.headers)
  if (header !== null) {
    return new ConditionRefusal(
      'SIDEKEY_ERR_AMBIGUOUS_HEADER',
      'ambiguous_header',
      `the header ${quoteKey(header.name)} is given ${header.spellings.length === 1 ? `as ${quoteKey(header.spellings[0]!)}` : `${header.spellings.length} times (${header.spellings.slice(0, 5).map(quoteKey).join(', ')})`}; route "${route.name}" has a condition that reads it, and servers disagree on ${header.spellings.length === 1 ? 'whether that is the same header (CGI-style servers read "_" as "-", others do not)' : 'which value counts (the first, or all of them joined)'}. Send it once, spelled with "-"`,
    )
  }
  if (!reads.body || f.body === null || f.body.length === 0) return null
  const charset = foreignCharset(f.contentType)
  if (charset !== null) {
    return new ConditionRefusal(
      'SIDEKEY_ERR_AMBIGUOUS_BODY',
      'ambiguous_body',
      `the body declares ${charset}; route "${route.name}" reads the body as UTF-8 (its conditions, or the person approving it), while the upstream may decode it by the declared charset into other text (Express decodes utf-7). Send it in UTF-8, with charset=utf-8 or none`,
    )
  }
  if (f.json === undefined) return null
  // Read as a form, JSON text yields fields only after a separator (its first "key" begins with
  // `{` or `[`). Where CEL reads the body, a form or multipart type is refused whatever the text
  // (CEL would check fields the upstream never reads); a person reads the text as it is.
  if (!isJsonMediaType(f.contentType) && ((reads.celBody && formType(f.contentType)) || hasFormSeparator(f.body))) {
    const declared = f.contentType === undefined || f.contentType.trim() === '' ? 'sent without a Content-Type' : `declared as ${f.contentType.split(';')[0]!.trim().toLowerCase().slice(0, 40)}`
    return new ConditionRefusal(
      'SIDEKEY_ERR_AMBIGUOUS_BODY',
      'ambiguous_body',
      `the body is JSON but is ${declared}; route "${route.name}" reads it as JSON while the upstream may parse it as something else (a form: Rack reads a body without a Content-Type as one, Werkzeug application/x-url-encoded, and a form can carry other fields). Send it with Content-Type: application/json`,
    )
  }
  const text = f.body.toString('utf8')
  const number = inexactNumber(text)
  if (number !== null) {
    return new ConditionRefusal(
      'SIDEKEY_ERR_AMBIGUOUS_BODY',
      'ambiguous_body',
      `the JSON body has the number ${number.slice(0, 40)}, which a double cannot hold exactly: route "${route.name}" reads the body as doubles, while the upstream may read it exactly (Go's int64, Python's int). Send integers within ±2^53, or larger ones as strings`,
    )
  }
  // Only objects can hold keys.
  if (typeof f.json !== 'object' || f.json === null) return null
  const keys = findAmbiguousKeys(text)
  if (keys === null) return null
  const what =
    keys.kind === 'duplicate'
      ? `has the key ${quoteKey(keys.first)} twice in ${keys.at}; parsers disagree on which value counts (JavaScript and Go keep the last, others the first or refuse)`
      : keys.kind === 'case'
        ? `has the keys ${quoteKey(keys.first)} and ${quoteKey(keys.second)} in ${keys.at}, which differ only in letter case; Go's encoding/json takes them for one field and keeps the last, so the upstream may act on a value other than the one checked`
        : `has a "__proto__" key in ${keys.at}; a JavaScript server that copies the object (Object.assign, a deep merge) takes it for the prototype and reads the fields under it as the object's own, values a condition never saw`
  return new ConditionRefusal('SIDEKEY_ERR_AMBIGUOUS_BODY', 'ambiguous_body', `the JSON body ${what}. Route "${route.name}" reads the body, so send each key once, in one spelling`)
}

/**
 * The first cookie whose name (filed as `paramName` files a parameter) a query condition reads, or
 * null: PHP's `$_REQUEST` merges cookies over the query where `request_order` (or, without it,
 * `variables_order`) has `C` (found by a red-team run).
 */
function cookieNamedLikeQueryRead(headers: readonly string[], reads: QueryReads): string | null {
  // Names only: a condition over the query as a whole would refuse every cookie.
  if (reads === 'any' || reads.size === 0) return null
  const wanted = new Set([...reads].map((r) => paramName(r, false)))
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() !== 'cookie') continue
    for (const pair of headers[i + 1]!.split(';')) {
      const eq = pair.indexOf('=')
      const name = (eq < 0 ? pair : pair.slice(0, eq)).trim()
      if (name === '') continue
      if (wanted.has(paramName(name))) return name
    }
  }
  return null
}

/**
 * The first header `reads` names (all of them for `any`) that is given more than once, or spelled
 * with an underscore, counting spellings as CGI-style servers read them; null when none is.
 */
function ambiguousHeader(headers: readonly string[], reads: QueryReads): { name: string; spellings: string[] } | null {
  if (reads !== 'any' && reads.size === 0) return null
  let seen: Map<string, string[]> | null = null
  for (let i = 0; i < headers.length; i += 2) {
    const name = cgiHeaderName(headers[i]!)
    if (reads !== 'any' && !reads.has(name)) continue
    seen ??= new Map()
    const spellings = seen.get(name)
    if (spellings === undefined) seen.set(name, [headers[i]!])
    else spellings.push(headers[i]!)
  }
  if (seen === null) return null
  for (const [name, spellings] of seen) if (spellings.length > 1 || spellings[0]!.includes('_')) return { name, spellings }
  return null
}
