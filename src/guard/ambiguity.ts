import { ConditionRefusal } from '../errors.js'
import type { CelPredicate, QueryReads } from '../policy/cel.js'
import type { Route } from '../policy/types.js'
import { findAmbiguousKeys, quoteKey } from './json-keys.js'
import { repeatedQueryParam } from './query-repeats.js'

/**
 * Requests that a route's conditions (or the person approving them) would read one way and the
 * upstream another (docs/security.md). A condition is only worth what the upstream agrees it
 * checked, so on routes that read the query or the body such requests are refused, naming what is
 * ambiguous, before any condition is evaluated:
 * - a query parameter a condition reads, given more than once (see `query-repeats.ts`);
 * - a JSON body with a key twice, or two keys differing only in letter case (see `json-keys.ts`),
 *   when a condition or an approver reads the body;
 * - a JSON body sent as a form (`application/x-www-form-urlencoded`, `multipart/form-data`) when a
 *   condition reads it as JSON: the upstream parses the form, which can carry other fields.
 */

/** What a route's CEL reads, gathered once per route and remembered (routes are frozen at load). */
interface Reads {
  readonly query: QueryReads
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
  let query: Set<string> | 'any' = new Set()
  for (const p of predicates) {
    if (p.queryReads === 'any') query = 'any'
    else if (query !== 'any') for (const name of p.queryReads) query.add(name)
  }
  const celBody = predicates.some((p) => p.usesBody)
  const reads = Object.freeze({ query, celBody, body: celBody || route.approval !== null })
  readsByRoute.set(route, reads)
  return reads
}

/** The request parts the check looks at. */
export interface AmbiguityFacts {
  /** Origin-form path with query. */
  readonly path: string
  readonly contentType: string | undefined
  /** The body as read, and as parsed JSON (undefined when it is not JSON). */
  readonly body: Buffer | null
  readonly json: unknown
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
  if (!reads.body || f.json === undefined || f.body === null) return null
  if (reads.celBody && f.contentType !== undefined && /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(f.contentType)) {
    return new ConditionRefusal(
      'SIDEKEY_ERR_AMBIGUOUS_BODY',
      'ambiguous_body',
      `the body is JSON but is declared as ${f.contentType.split(';')[0]!.trim().toLowerCase().slice(0, 40)}; route "${route.name}" checks it as JSON while the upstream would parse it as a form. Send it with Content-Type: application/json`,
    )
  }
  // Only objects can hold keys.
  if (typeof f.json !== 'object' || f.json === null) return null
  const keys = findAmbiguousKeys(f.body.toString('utf8'))
  if (keys === null) return null
  const what =
    keys.kind === 'duplicate'
      ? `has the key ${quoteKey(keys.first)} twice in ${keys.at}; parsers disagree on which value counts (JavaScript and Go keep the last, others the first or refuse)`
      : `has the keys ${quoteKey(keys.first)} and ${quoteKey(keys.second)} in ${keys.at}, which differ only in letter case; Go's encoding/json takes them for one field and keeps the last, so the upstream may act on a value other than the one checked`
  return new ConditionRefusal('SIDEKEY_ERR_AMBIGUOUS_BODY', 'ambiguous_body', `the JSON body ${what}. Route "${route.name}" reads the body, so send each key once, in one spelling`)
}
