import type { IncomingMessage, ServerResponse } from 'node:http'
import { SidekeyError } from '../errors.js'
import { isAdmin } from './token.js'

/**
 * The admin API as one table: each route's method, path, whether it needs the admin token, and
 * its handler. The token requirement is read from the table only, so a route is public because
 * its row says so, and a test can list every public one.
 */

/** Who may call a route: anyone who passes the Host check, or only a holder of the admin token. */
export type Access = 'public' | 'admin'

/** One call as a handler receives it. */
export interface AdminCall {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  readonly method: string
  /** The path as received (not decoded), without the query. */
  readonly path: string
  readonly url: URL
  /** The path's `:name` segments, by name. */
  readonly params: Readonly<Record<string, string>>
}

/** One row of the table; `C` is what the handlers read and change. */
export interface AdminRoute<C> {
  readonly method: 'GET' | 'POST' | 'DELETE'
  /**
   * Literal segments and `:name` segments; `:name` matches any one segment, `:name(regex)` only
   * what the regex matches (then a path that does not is no route's, and answers 404 to anyone).
   */
  readonly path: string
  readonly access: Access
  readonly handle: (ctx: C, call: AdminCall) => void | Promise<void>
}

/** A route found for a call, with its path parameters. */
export interface Admitted<C> {
  readonly route: AdminRoute<C>
  readonly params: Readonly<Record<string, string>>
}

/** The answer for a path or method no route serves (the same with and without the token). */
export function noEndpoint(method: string, path: string): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `no admin endpoint ${method} ${path}`)
}

/** The routes, compiled once, and the one place that decides whether a call needs the token. */
export class RouteTable<C> {
  readonly routes: readonly AdminRoute<C>[]
  readonly #patterns: readonly RegExp[]

  constructor(routes: readonly AdminRoute<C>[]) {
    this.routes = routes
    this.#patterns = routes.map((r) => pathPattern(r.path))
  }

  /**
   * The route that serves `method path`, or the refusal. A path any admin route serves needs the
   * token whatever the method, so without it an admin path answers 401 and a method it lacks
   * answers 404 only to a token holder; a path no route serves is 404 before any token check, so
   * that answer does not depend on holding the token.
   */
  admit(method: string, path: string, authorization: string | undefined, adminToken: string): Admitted<C> {
    let found: Admitted<C> | null = null
    let adminPath = false
    for (const [i, route] of this.routes.entries()) {
      const m = this.#patterns[i]!.exec(path)
      if (m === null) continue
      if (route.method === method) found ??= { route, params: { ...m.groups } }
      adminPath ||= route.access === 'admin'
    }
    const needsToken = found === null ? adminPath : found.route.access === 'admin'
    if (needsToken && !isAdmin(authorization, adminToken)) {
      throw new SidekeyError('SIDEKEY_ERR_ADMIN_UNAUTHORIZED', 'this admin call needs the admin token (Authorization: Bearer, from certs/admin.token)')
    }
    if (found === null) throw noEndpoint(method, path)
    return found
  }
}

/** The regular expression a route's path template stands for. */
export function pathPattern(template: string): RegExp {
  const segments = template.split('/').map((segment) => {
    const param = /^:(\w+)(?:\((.+)\))?$/.exec(segment)
    if (param === null) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    return `(?<${param[1]!}>${param[2] ?? '[^/]+'})`
  })
  return new RegExp(`^${segments.join('/')}$`)
}
