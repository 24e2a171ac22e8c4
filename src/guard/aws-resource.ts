import { ConditionRefusal } from '../errors.js'
import type { Route } from '../policy/types.js'

/**
 * What a request to S3 can do beyond the object its URL names. A route's paths say which URLs the
 * agent may reach, but with these a request to an allowed URL reached the rest (found by a
 * red-team run: a PUT to an allowed prefix with `x-amz-copy-source: /payroll/salaries.csv` was
 * signed and forwarded, and S3 copies any object the role can read):
 * - headers that make S3 act on another object (`x-amz-copy-source`, `x-amz-copy-source-*`:
 *   CopyObject, UploadPartCopy), or on who may read one (`x-amz-acl`, `x-amz-grant-*`: an object
 *   made public is read from the internet, past sidekey), or send readers elsewhere
 *   (`x-amz-website-redirect-location`);
 * - query subresources that change who may read a bucket or object, or where its objects go,
 *   when written (any method but GET and HEAD): `?acl`, `?policy`, `?publicAccessBlock`,
 *   `?ownershipControls`, `?website`, `?replication`.
 */
const RESOURCE_HEADER = /^x-amz-(?:copy-source(?:-.*)?|acl|grant-.*|website-redirect-location)$/
const SUBRESOURCES: ReadonlySet<string> = new Set(['acl', 'policy', 'publicAccessBlock', 'ownershipControls', 'website', 'replication'])

/** What `inject.sigv4.allow` may name, for messages: the headers, then the subresources. */
export const AWS_REACH_ITEMS = ['x-amz-copy-source', 'x-amz-copy-source-*', 'x-amz-acl', 'x-amz-grant-*', 'x-amz-website-redirect-location', ...[...SUBRESOURCES].map((s) => `?${s}`)].join(', ')

/** Whether `item` names one of the above: a header name (lower case) or a subresource as `?acl`. */
export function isAwsReach(item: string): boolean {
  return item.startsWith('?') ? SUBRESOURCES.has(item.slice(1)) : RESOURCE_HEADER.test(item)
}

/**
 * The refusal for a request on a SigV4 route that uses one of the above and the route does not
 * name in `inject.sigv4.allow` (a condition of the route, so report-only mode records it and lets
 * the request on unsigned), or null. `path` is the request target's path with its query.
 */
export function awsReachRefusal(route: Route, method: string, path: string, rawHeaders: readonly string[]): ConditionRefusal | null {
  const injection = route.injection
  if (injection?.kind !== 'sigv4') return null
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase()
    if (name.startsWith('x-amz-') && RESOURCE_HEADER.test(name) && !injection.allow.includes(name)) return refused(route, name, `${name} makes AWS act on another object than the URL's, or on who may read it`)
  }
  const query = path.indexOf('?')
  if (query < 0 || method === 'GET' || method === 'HEAD') return null
  for (const pair of path.slice(query + 1).split('&')) {
    const key = decodedKey(pair.split('=', 1)[0]!)
    if (SUBRESOURCES.has(key) && !injection.allow.includes(`?${key}`)) return refused(route, `?${key}`, `${method} ?${key} changes who may read the bucket or object, or where its objects go`)
  }
  return null
}

/** A query key as S3 reads it (percent-decoded); as written when it does not decode. */
function decodedKey(raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

function refused(route: Route, item: string, what: string): ConditionRefusal {
  return new ConditionRefusal('SIDEKEY_ERR_AWS_REACH_REFUSED', 'aws_reach', `${what}, and route "${route.name}" does not allow it: send the request without it, or ask for ${item} in the route's inject.sigv4.allow`)
}
