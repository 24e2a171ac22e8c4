import type { QueryReads } from '../policy/cel.js'
import { paramName, paramNames } from './query-repeats.js'

/**
 * One parameter in two places: the query and the body. Many servers hand a handler one merged map
 * of parameters, and disagree on which place wins: Rack's `params` and PHP's `$_REQUEST` take the
 * form field over the query parameter, Rails' `params` the query parameter over the body's field
 * (form or JSON), Laravel's `input()` the body's. A condition reads one place (`request.query.x`
 * or `body.x`), so a request that gives the same name in both passed a limit in one while the
 * upstream acted on the other (found by a red-team run, against real Rack and Rails: a refund of
 * 5000 through `int(request.query.amount) <= 1000` with `?amount=5` and a form field
 * `amount=5000`, and through `body.amount <= 1000` with `{"amount":5}` and `?amount=5000`).
 *
 * Names are compared as the most lenient of those servers files them (`paramName`: decoded, any
 * letter case, `amount[]` as `amount`).
 */

/**
 * Whether a body of `contentType` may carry fields a server merges with the query: a form,
 * multipart, JSON, or undeclared (Rack reads that as a form). Looked for anywhere in the field, not
 * in the media type as sidekey would cut it: PHP and Rack cut it at `,` and PHP at a space too
 * (`application/x-www-form-urlencoded, text/plain` is a form to them), and Laravel takes a body
 * for JSON when `/json` or `+json` is anywhere in the field (found by a red-team run).
 */
export function mayCarryParams(contentType: string | undefined): boolean {
  const field = (contentType ?? '').toLowerCase()
  return field.trim() === '' || /x-www-form-urlencoded|x-url-encoded|multipart\/|[/+]json/.test(field)
}

/** The top-level field names a server could read from the body, filed as `paramName` files them. */
export function bodyParamNames(contentType: string | undefined, body: Buffer, json: unknown): Set<string> {
  const names = new Set<string>()
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) for (const key of Object.keys(json)) names.add(paramName(key, false))
  if ((contentType ?? '').toLowerCase().includes('multipart/')) {
    // Each part names its field in its Content-Disposition (RFC 7578 section 4.2), read as
    // leniently as its readers do (found by a red-team run): every `name=` on the line counts (PHP
    // and Rack keep the last), quoted with `"` or `'` (PHP) or not, `name*=` too; and a part's
    // Content-ID, by which Rack names a part without a name.
    const text = body.toString('latin1')
    // A folded head (a next line that begins with a space) is part of it.
    for (const m of text.matchAll(/content-disposition:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*/gi)) {
      for (const n of m[0].matchAll(/\bname\*?\s*=\s*(?:"([^"\r\n]*)"|'([^'\r\n]*)'|([^;\s\r\n]*))/gi)) {
        const value = n[1] ?? n[2] ?? n[3] ?? ''
        // `name*=UTF-8''%61mount` (RFC 5987): the name after the charset and language, decoded.
        const extended = /^[^']*'[^']*'(.*)$/.exec(value)
        names.add(extended === null ? paramName(value, false) : paramName(extended[1]!))
      }
    }
    for (const m of text.matchAll(/content-id:[ \t]*[<"']?([^\s"'>;]*)/gi)) names.add(paramName(m[1] ?? '', false))
  } else if (json === undefined) {
    // A form, declared or not: the names before `=`, split as lenient servers split them.
    for (const { name } of paramNames(body.toString('latin1'))) names.add(name)
  }
  return names
}

/**
 * The first name given both in the query (raw, without `?`) and among `bodyNames` that a
 * condition reads: any common name when the body is read (`readsBody`), else those `queryReads`
 * covers; null when there is none.
 */
export function paramInBoth(query: string, bodyNames: ReadonlySet<string>, queryReads: QueryReads, readsBody: boolean): string | null {
  if (bodyNames.size === 0 || query === '') return null
  for (const { written, name } of paramNames(query)) {
    if (!bodyNames.has(name)) continue
    if (readsBody || queryReads === 'any') return written
    for (const read of queryReads) if (paramName(read, false) === name) return written
  }
  return null
}
