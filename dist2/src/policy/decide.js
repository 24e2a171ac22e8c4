const DENY_CODES = {
    'route-denies': 'SIDEKEY_ERR_ROUTE_DENIED',
    'no-route': 'SIDEKEY_ERR_NO_ROUTE',
    'workload-not-allowed': 'SIDEKEY_ERR_WORKLOAD_NOT_ALLOWED',
    'anonymous-not-allowed': 'SIDEKEY_ERR_PROXY_AUTH_REQUIRED',
    'ambiguous-path': 'SIDEKEY_ERR_AMBIGUOUS_PATH',
    'method-override': 'SIDEKEY_ERR_METHOD_OVERRIDE',
};
function deny(reason, route = null) {
    return { action: 'deny', reason, route, code: DENY_CODES[reason], reportOnly: false };
}
function allowWith(action, reason, route) {
    return { action, reason, route, code: null, reportOnly: false };
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
 * either refuses, and the route allowing the overridden method must accept overrides.
 */
export function decideRequest(policy, q) {
    const sent = firstMatch(policy, q);
    // A caller without a token is asked to authenticate first: report-only mode never lets that through.
    if (sent.reason === 'anonymous-not-allowed')
        return sent;
    if (q.ambiguity != null && readsPaths(policy, q))
        return deny('ambiguous-path');
    if (q.override == null || sent.action === 'deny')
        return sent;
    const overridden = firstMatch(policy, { ...q, method: q.override.method });
    if (overridden.action === 'deny' || overridden.route?.methodOverride === true)
        return overridden;
    return deny('method-override', overridden.route);
}
/** True when a route for this destination matches paths (or reads them in CEL), for any workload. */
function readsPaths(policy, q) {
    return policy.routes.some((r) => r.readsPath && r.host.matches(q.host) && r.ports.matches(q.port));
}
function firstMatch(policy, q) {
    let destinationMatched = false;
    for (const route of policy.routes) {
        if (!route.host.matches(q.host) || !route.ports.matches(q.port))
            continue;
        if (!route.methods.matches(q.method) || !route.paths.matches(q.path))
            continue;
        if (!route.workloads.matches(q.workload)) {
            destinationMatched = true;
            continue;
        }
        if (route.action === 'deny')
            return deny('route-denies', route);
        // A tunnel route admits the destination without a credential; over plain HTTP that is a
        // forward without injection.
        return allowWith('allow', route.action === 'tunnel' ? 'route-tunnels' : 'route-allows', route);
    }
    return noMatch(destinationMatched, q.workload);
}
/**
 * Decide a CONNECT on its authority alone. The first route for this host and port that admits the
 * workload decides: tunnel relays blind, a whole-host deny refuses, anything else is intercepted
 * so each request inside is decided (and injected) on its own.
 */
export function decideConnect(policy, q) {
    let destinationMatched = false;
    for (const route of policy.routes) {
        if (!route.host.matches(q.host) || !route.ports.matches(q.port))
            continue;
        if (!route.workloads.matches(q.workload)) {
            destinationMatched = true;
            continue;
        }
        if (route.action === 'tunnel')
            return allowWith('tunnel', 'route-tunnels', route);
        if (route.action === 'deny' && route.wholeHost)
            return deny('route-denies', route);
        return allowWith('intercept', 'intercept-for-inspection', route);
    }
    return noMatch(destinationMatched, q.workload);
}
function noMatch(destinationMatched, workload) {
    // A caller without a token is told to authenticate (407) rather than that it is forbidden:
    // with a token it might well be allowed.
    if (workload === null)
        return deny('anonymous-not-allowed');
    return deny(destinationMatched ? 'workload-not-allowed' : 'no-route');
}
/**
 * Report-only mode: a policy refusal is logged as such but the request goes on, without any
 * credential (the caller skips obtain and inject when `reportOnly` is set; the route is kept so
 * its `addresses` still inform the SSRF guard). Authentication failures are not policy and stay
 * enforced.
 */
export function applyReportOnly(decision) {
    if (decision.action !== 'deny' || decision.reason === 'anonymous-not-allowed')
        return decision;
    return { ...decision, action: 'allow', reportOnly: true };
}
/** Explain a request decision: the decision plus, for each route, what matched and what did not. */
export function explainRequest(policy, q) {
    // With an override, the routes are traced for the method the upstream would run.
    const method = q.override?.method ?? q.method;
    const trace = policy.routes.map((route) => {
        const checks = [
            [route.host.matches(q.host), route.host.explain()],
            [route.ports.matches(q.port), route.ports.explain()],
            [route.methods.matches(method), route.methods.explain()],
            [route.paths.matches(q.path), route.paths.explain()],
            [route.workloads.matches(q.workload), route.workloads.explain()],
        ];
        const failed = checks.filter(([ok]) => !ok).map(([, why]) => `needs ${why}`);
        return {
            route: route.name,
            at: `${route.file}:${route.line}`,
            matched: failed.length === 0,
            why: failed.length === 0 ? `matches (${route.action})` : failed.join('; '),
        };
    });
    return { decision: decideRequest(policy, q), trace };
}
//# sourceMappingURL=decide.js.map