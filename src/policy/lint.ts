import type { Policy, Route } from './types.js'

/** A route that can never decide anything, because an earlier one matches all it matches. */
export interface ShadowedRoute {
  readonly route: Route
  readonly by: Route
}

/**
 * Routes are tried in order and the first match wins, so a route after a broader one is dead
 * policy: almost always a mistake (a narrower deny written after a broad allow). `policy check`
 * reports these as warnings.
 */
export function shadowedRoutes(policy: Policy): ShadowedRoute[] {
  const found: ShadowedRoute[] = []
  policy.routes.forEach((route, j) => {
    const by = policy.routes.slice(0, j).find(
      (earlier) =>
        earlier.host.covers(route.host) &&
        earlier.ports.covers(route.ports) &&
        earlier.methods.covers(route.methods) &&
        earlier.paths.covers(route.paths) &&
        earlier.workloads.covers(route.workloads),
    )
    if (by !== undefined) found.push({ route, by })
  })
  return found
}

/** Two routes from different files where the earlier file's wins only because of the files' order. */
export interface OrderDecidedRoutes {
  readonly first: Route
  readonly second: Route
}

/**
 * Routes of different files that can match the same request and decide it differently (another
 * action or credential): which one wins depends on the files' name order, which nobody reading
 * one file sees. Overlap is judged per dimension (host, ports, methods, paths, workloads): one
 * route's set covers the other's. Partial overlaps (`/a/*` against `/*\/b`) are not found.
 */
export function orderDecidedRoutes(policy: Pick<Policy, 'routes'>): OrderDecidedRoutes[] {
  const found: OrderDecidedRoutes[] = []
  const routes = policy.routes
  for (let i = 0; i < routes.length; i++) {
    for (let j = i + 1; j < routes.length; j++) {
      const [a, b] = [routes[i]!, routes[j]!]
      if (a.file === b.file || sameOutcome(a, b)) continue
      const overlap =
        (a.host.covers(b.host) || b.host.covers(a.host)) &&
        (a.ports.covers(b.ports) || b.ports.covers(a.ports)) &&
        (a.methods.covers(b.methods) || b.methods.covers(a.methods)) &&
        (a.paths.covers(b.paths) || b.paths.covers(a.paths)) &&
        (a.workloads.covers(b.workloads) || b.workloads.covers(a.workloads))
      if (overlap) found.push({ first: a, second: b })
    }
  }
  return found
}

function sameOutcome(a: Route, b: Route): boolean {
  return a.action === b.action && a.credential?.name === b.credential?.name
}

/** A condition that compares `request.path` to one spelling, on a route whose paths admit others. */
export interface ExactPathComparison {
  readonly route: Route
  /** The expression, as written. */
  readonly expression: string
}

/**
 * CEL reads the path as sent, so `request.path == "/v1/refunds"` is false for `/v1/refunds/`,
 * which a route with `/v1/refunds/*` matches and a lenient server (Express, Rails) takes for
 * `/v1/refunds`: an `approval.when` written that way asked nobody (found by a red-team run, in the
 * shipped payments example). `policy check` warns where a route with a glob in its paths compares
 * `request.path` with `==` or `!=`.
 */
export function exactPathComparisons(policy: Pick<Policy, 'routes'>): ExactPathComparison[] {
  const found: ExactPathComparison[] = []
  for (const route of policy.routes) {
    const paths = route.paths.explain()
    if (paths !== 'any path' && !paths.includes('*')) continue
    const expressions = [...(route.conditions?.cel ?? []), ...(route.approval?.when ? [route.approval.when] : [])]
    for (const e of expressions) if (/\brequest\.path\s*[!=]=|[!=]=\s*request\.path\b/.test(e.source)) found.push({ route, expression: e.source })
  }
  return found
}
