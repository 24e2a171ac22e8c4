import type { ErrorCode } from '../errors.js'
import type { PathAmbiguity } from './path.js'
import type { Policy, Route } from './types.js'

/**
 * The decision for one request or tunnel: a value with a fixed reason string (tests assert them)
 * and the route that decided, never a bare boolean.
 */
export interface Decision {
  /** allow: forward (inject if the route has a credential); tunnel: relay blind; deny: refuse. */
  readonly action: 'allow' | 'tunnel' | 'deny' | 'intercept'
  readonly reason: DecisionReason
  readonly route: Route | null
  /** The refusal code when action is deny. */
  readonly code: ErrorCode | null
  /** True when report-only mode let through a request enforcement would have refused. */
  readonly reportOnly: boolean
}

/** The fixed reasons a decision can give. */
export type DecisionReason =
  | 'route-allows'
  | 'route-tunnels'
  | 'route-denies'
  | 'no-route'
  | 'workload-not-allowed'
  | 'anonymous-not-allowed'
  | 'intercept-for-inspection'
  | 'ambiguous-path'
  | 'method-override'
  | 'override-skips-guards'
  | 'guarded-variant'

/** What is known about a request when it is decided. */
export interface RequestFacts {
  /** The workload, or null for a caller without a run token. */
  workload: string | null
  host: string
  port: number
  method: string
  /** Path without query string, normalised (policy/path.ts). */
  path: string
  /** A form in the path servers read differently (from normalisation), if any. */
  ambiguity?: PathAmbiguity | null
  /** A method named by an override header or query parameter, if any (accept/method-override.ts). */
  override?: { readonly method: string; readonly via: string } | null
}

/** What is known about a CONNECT when it is decided. */
export type ConnectFacts = Pick<RequestFacts, 'workload' | 'host' | 'port'>

const DENY_CODES = {
  'route-denies': 'SIDEKEY_ERR_ROUTE_DENIED',
  'no-route': 'SIDEKEY_ERR_NO_ROUTE',
  'workload-not-allowed': 'SIDEKEY_ERR_WORKLOAD_NOT_ALLOWED',
  'anonymous-not-allowed': 'SIDEKEY_ERR_PROXY_AUTH_REQUIRED',
  'ambiguous-path': 'SIDEKEY_ERR_AMBIGUOUS_PATH',
  'method-override': 'SIDEKEY_ERR_METHOD_OVERRIDE',
  'override-skips-guards': 'SIDEKEY_ERR_METHOD_OVERRIDE',
  'guarded-variant': 'SIDEKEY_ERR_GUARDED_VARIANT',
} as const satisfies Partial<Record<DecisionReason, ErrorCode>>

function deny(reason: keyof typeof DENY_CODES, route: Route | null = null): Decision {
  return { action: 'deny', reason, route, code: DENY_CODES[reason], reportOnly: false }
}

function allowWith(action: Decision['action'], reason: DecisionReason, route: Route): Decision {
  return { action, reason, route, code: null, reportOnly: false }
}

/**
 * Decide one HTTP request. Routes are tried in order (files by name, routes as written); the first
 * whose host, port, method and path match and that admits the workload decides. Default deny.
 *
 * Two forms are decided before that. A path with no single meaning (an encoded `/`, `;`, ...: see
 * policy/path.ts) is refused when any route for the destination reads paths, whatever the route
 * that would match: `deny /v1/admin/**` must hold against `/v1/admin%2Fx` even though it is the
 * allow route (with or without paths) that would match it. And a request with a method override
 * is decided on both methods, since the upstream may run either: both must be allowed, a deny on
 * either refuses, the route allowing the overridden method must accept overrides, and the route
 * deciding the method as sent must have no conditions or approval of its own, or be that same
 * route: only the deciding route's guards run, so a POST with conditions, a rate limit and an
 * approval went through unguarded as an override to a GET route that accepts overrides (found by
 * a red-team run; the upstream ran the POST).
 */
export function decideRequest(policy: Policy, q: RequestFacts): Decision {
  const sent = firstMatch(policy, q)
  // A caller without a token is asked to authenticate first: report-only mode never lets that through.
  if (sent.reason === 'anonymous-not-allowed') return sent
  if (q.ambiguity != null && readsPaths(policy, q)) return deny('ambiguous-path')
  if (q.override == null || sent.action === 'deny') return sent
  const overridden = firstMatch(policy, { ...q, method: q.override.method })
  if (overridden.action === 'deny') return overridden
  if (overridden.route?.methodOverride !== true) return deny('method-override', overridden.route)
  if (sent.route !== overridden.route && sent.route !== null && guarded(sent.route)) return deny('override-skips-guards', sent.route)
  return overridden
}

/** Whether a route has guards of its own: conditions or an approval. */
function guarded(route: Route): boolean {
  return route.conditions !== null || route.approval !== null
}

/** True when a route for this destination matches paths (or reads them in CEL), for any workload. */
function readsPaths(policy: Policy, q: RequestFacts): boolean {
  return policy.routes.some((r) => r.readsPath && r.host.matches(q.host) && r.ports.matches(q.port))
}

/**
 * The first route that matches decides. A request that only a guarded route's broad reading
 * matches (`variants`: `POST /v1/refunds/`, `/V1/Refunds`, HEAD for a GET route) and that a later
 * route allows is refused: the upstream may take it for the guarded route's request (Express
 * ignores a trailing slash and runs GET for HEAD), so the later route would let it through without
 * the guards (found by a red-team run: a trailing slash skipped a rate limit and a CEL limit).
 */
function firstMatch(policy: Policy, q: RequestFacts): Decision {
  let destinationMatched = false
  let variantOf: Route | null = null
  for (const route of policy.routes) {
    if (!route.host.matches(q.host) || !route.ports.matches(q.port)) continue
    if (!route.methods.matches(q.method) || !route.paths.matches(q.path)) {
      const v = route.variants
      if (variantOf === null && v !== null && v.methods.matches(q.method) && v.paths.matches(q.path) && route.workloads.matches(q.workload)) variantOf = route
      continue
    }
    if (!route.workloads.matches(q.workload)) {
      destinationMatched = true
      continue
    }
    if (route.action === 'deny') return deny('route-denies', route)
    if (variantOf !== null) return deny('guarded-variant', variantOf)
    // A tunnel route admits the destination without a credential; over plain HTTP that is a
    // forward without injection.
    return allowWith('allow', route.action === 'tunnel' ? 'route-tunnels' : 'route-allows', route)
  }
  return noMatch(destinationMatched, q.workload)
}

/**
 * Decide a CONNECT on its authority alone. The first route for this host and port that admits the
 * workload decides: tunnel relays blind, a whole-host deny refuses, anything else is intercepted
 * so each request inside is decided (and injected) on its own.
 */
export function decideConnect(policy: Policy, q: ConnectFacts): Decision {
  let destinationMatched = false
  for (const route of policy.routes) {
    if (!route.host.matches(q.host) || !route.ports.matches(q.port)) continue
    if (!route.workloads.matches(q.workload)) {
      destinationMatched = true
      continue
    }
    if (route.action === 'tunnel') return allowWith('tunnel', 'route-tunnels', route)
    if (route.action === 'deny' && route.wholeHost) return deny('route-denies', route)
    return allowWith('intercept', 'intercept-for-inspection', route)
  }
  return noMatch(destinationMatched, q.workload)
}

function noMatch(destinationMatched: boolean, workload: string | null): Decision {
  // A caller without a token is told to authenticate (407) rather than that it is forbidden:
  // with a token it might well be allowed.
  if (workload === null) return deny('anonymous-not-allowed')
  return deny(destinationMatched ? 'workload-not-allowed' : 'no-route')
}

/**
 * Report-only mode: a policy refusal is logged as such but the request goes on, without any
 * credential (the caller skips obtain and inject when `reportOnly` is set; the route is kept so
 * its `addresses` still inform the SSRF guard). Authentication failures are not policy and stay
 * enforced.
 */
export function applyReportOnly(decision: Decision): Decision {
  if (decision.action !== 'deny' || decision.reason === 'anonymous-not-allowed') return decision
  return { ...decision, action: 'allow', reportOnly: true }
}

/** One line of `sidekey explain`: why each route did or did not match. */
export interface RouteTrace {
  route: string
  at: string
  matched: boolean
  why: string
}

/** Explain a request decision: the decision plus, for each route, what matched and what did not. */
export function explainRequest(policy: Policy, q: RequestFacts): { decision: Decision; trace: RouteTrace[] } {
  // With an override, the routes are traced for the method the upstream would run.
  const method = q.override?.method ?? q.method
  const trace: RouteTrace[] = policy.routes.map((route) => {
    const checks = [
      [route.host.matches(q.host), route.host.explain()],
      [route.ports.matches(q.port), route.ports.explain()],
      [route.methods.matches(method), route.methods.explain()],
      [route.paths.matches(q.path), route.paths.explain()],
      [route.workloads.matches(q.workload), route.workloads.explain()],
    ] as const
    const failed = checks.filter(([ok]) => !ok).map(([, why]) => `needs ${why}`)
    return {
      route: route.name,
      at: `${route.file}:${route.line}`,
      matched: failed.length === 0,
      why: failed.length === 0 ? `matches (${route.action})` : failed.join('; '),
    }
  })
  return { decision: decideRequest(policy, q), trace }
}
