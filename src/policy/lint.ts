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
