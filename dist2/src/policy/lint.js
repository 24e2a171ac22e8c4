/**
 * Routes are tried in order and the first match wins, so a route after a broader one is dead
 * policy: almost always a mistake (a narrower deny written after a broad allow). `policy check`
 * reports these as warnings.
 */
export function shadowedRoutes(policy) {
    const found = [];
    policy.routes.forEach((route, j) => {
        const by = policy.routes.slice(0, j).find((earlier) => earlier.host.covers(route.host) &&
            earlier.ports.covers(route.ports) &&
            earlier.methods.covers(route.methods) &&
            earlier.paths.covers(route.paths) &&
            earlier.workloads.covers(route.workloads));
        if (by !== undefined)
            found.push({ route, by });
    });
    return found;
}
/**
 * Routes of different files that can match the same request and decide it differently (another
 * action or credential): which one wins depends on the files' name order, which nobody reading
 * one file sees. Overlap is judged per dimension (host, ports, methods, paths, workloads): one
 * route's set covers the other's. Partial overlaps (`/a/*` against `/*\/b`) are not found.
 */
export function orderDecidedRoutes(policy) {
    const found = [];
    const routes = policy.routes;
    for (let i = 0; i < routes.length; i++) {
        for (let j = i + 1; j < routes.length; j++) {
            const [a, b] = [routes[i], routes[j]];
            if (a.file === b.file || sameOutcome(a, b))
                continue;
            const overlap = (a.host.covers(b.host) || b.host.covers(a.host)) &&
                (a.ports.covers(b.ports) || b.ports.covers(a.ports)) &&
                (a.methods.covers(b.methods) || b.methods.covers(a.methods)) &&
                (a.paths.covers(b.paths) || b.paths.covers(a.paths)) &&
                (a.workloads.covers(b.workloads) || b.workloads.covers(a.workloads));
            if (overlap)
                found.push({ first: a, second: b });
        }
    }
    return found;
}
function sameOutcome(a, b) {
    return a.action === b.action && a.credential?.name === b.credential?.name;
}
//# sourceMappingURL=lint.js.map