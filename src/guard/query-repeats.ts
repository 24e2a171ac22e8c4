import type { QueryReads } from '../policy/cel.js'

/**
 * Find a query parameter that a condition reads and that the query carries more than once. CEL's
 * `request.query` holds the first value; Go's `Query().Get` and Flask take the first too, but PHP
 * and Rails take the last, Express makes an array, ASP.NET joins them with a comma. One parameter
 * twice therefore means different things to the condition and to the upstream, so it is refused.
 *
 * "Twice" is judged the way the most lenient of those servers reads names: after percent-decoding
 * (`%61mount` is `amount`, `+` a space), ignoring letter case (ASP.NET), with PHP's and Rails'
 * array and hash forms (`amount[]`, `amount[x]`) counted as the name before the bracket, PHP's `.`
 * and space read as `_`, and `;` taken as a separator as well as `&` (older Rack, Python before
 * 3.9.2, and Go before 1.17 split on it).
 */

/** A parameter a condition reads that the query repeats. */
export interface RepeatedParam {
  /** The name as the condition reads it (or the first spelling, when conditions read the query as a whole). */
  readonly name: string
  /** Every spelling of it in the query, as written. */
  readonly spellings: readonly string[]
}

/** The first parameter `reads` covers that `query` (the raw query string, without `?`) repeats, or null. */
export function repeatedQueryParam(query: string, reads: QueryReads): RepeatedParam | null {
  if (query === '' || (reads !== 'any' && reads.size === 0)) return null
  const byName = new Map<string, string[]>()
  for (const { written, name } of paramNames(query)) {
    const spellings = byName.get(name)
    if (spellings === undefined) byName.set(name, [written])
    else spellings.push(written)
  }
  if (reads === 'any') {
    for (const spellings of byName.values()) if (spellings.length > 1) return { name: spellings[0]!, spellings }
    return null
  }
  for (const read of reads) {
    const spellings = byName.get(paramName(read, false))
    if (spellings !== undefined && spellings.length > 1) return { name: read, spellings }
  }
  return null
}

/**
 * Each parameter's name in a query or form text, as written and as `paramName` files it: split on
 * `&` and `;` (older Rack and Python split on both), a leading `?` dropped (URLSearchParams, and so
 * CEL, drops it from `/x??amount=1`; Go and PHP keep it), empty segments skipped.
 */
export function* paramNames(text: string): Generator<{ written: string; name: string }> {
  for (const segment of text.replace(/^\?+/, '').split(/[&;]/)) {
    if (segment === '') continue
    const eq = segment.indexOf('=')
    const written = eq < 0 ? segment : segment.slice(0, eq)
    yield { written, name: paramName(written) }
  }
}

/**
 * The name a lenient server files a parameter under: decoded, cut at a NUL and without leading
 * spaces (PHP: `amount%00x` and `+amount` are `amount`, found by a red-team run), before any `[`,
 * `.`/space as `_`, lower case.
 */
export function paramName(written: string, encoded = true): string {
  let name = (encoded ? decodeName(written) : written).split('\0', 1)[0]!.replace(/^ +/, '')
  const bracket = name.indexOf('[')
  if (bracket > 0 && name.indexOf(']', bracket) > 0) name = name.slice(0, bracket)
  return name.replace(/[. ]/g, '_').toLowerCase()
}

/** application/x-www-form-urlencoded name decoding (WHATWG URL section 5.1), as URLSearchParams does it. */
function decodeName(written: string): string {
  if (!written.includes('%') && !written.includes('+')) return written
  return new URLSearchParams(written).keys().next().value ?? written
}
