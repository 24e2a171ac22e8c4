import { SidekeyError } from '../errors.js'
import type { Route } from '../policy/types.js'

/**
 * S3 request headers by which a request signed for one URL acts on another object, or on who may
 * read one: `x-amz-copy-source` (CopyObject, UploadPartCopy: the source is any object the role can
 * read, whatever the route's paths), `x-amz-copy-source-*`, `x-amz-acl` and `x-amz-grant-*` (an
 * object made public is read from the internet, past sidekey), and
 * `x-amz-website-redirect-location`. A route's paths say which URLs the agent may reach; with these
 * a request to an allowed URL reached the rest (found by a red-team run: a PUT to an allowed prefix
 * with `x-amz-copy-source: /payroll/salaries.csv` was signed and forwarded).
 */
const RESOURCE_HEADER = /^x-amz-(?:copy-source(?:-.*)?|acl|grant-.*|website-redirect-location)$/

/** Whether `name` (lower case) is one of the headers above. */
export function isAwsResourceHeader(name: string): boolean {
  return RESOURCE_HEADER.test(name)
}

/**
 * Refuse a request on a SigV4 route that carries one of the headers above and the route does not
 * name in `inject.sigv4.allow_headers`; before anything is read, held or obtained for it.
 */
export function refuseAwsResourceHeaders(route: Route, rawHeaders: readonly string[]): void {
  const injection = route.injection
  if (injection?.kind !== 'sigv4') return
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase()
    if (!name.startsWith('x-amz-') || !RESOURCE_HEADER.test(name) || injection.allowHeaders.includes(name)) continue
    throw new SidekeyError(
      'SIDEKEY_ERR_AWS_HEADER_REFUSED',
      `${name} makes AWS act on another object than the URL's, or on who may read it, and route "${route.name}" does not allow it: send the request without it, or ask for ${name} in the route's inject.sigv4.allow_headers`,
    )
  }
}
