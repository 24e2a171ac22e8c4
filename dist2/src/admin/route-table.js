import { SidekeyError } from '../errors.js';
import { isAdmin } from './token.js';
/** The answer for a path or method no route serves (the same with and without the token). */
export function noEndpoint(method, path) {
    return new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `no admin endpoint ${method} ${path}`);
}
/** The routes, compiled once, and the one place that decides whether a call needs the token. */
export class RouteTable {
    routes;
    #patterns;
    constructor(routes) {
        this.routes = routes;
        this.#patterns = routes.map((r) => pathPattern(r.path));
    }
    /**
     * The route that serves `method path`, or the refusal. A path any admin route serves needs the
     * token whatever the method, so without it an admin path answers 401 and a method it lacks
     * answers 404 only to a token holder; a path no route serves is 404 before any token check, so
     * that answer does not depend on holding the token.
     */
    admit(method, path, authorization, adminToken) {
        let found = null;
        let adminPath = false;
        for (const [i, route] of this.routes.entries()) {
            const m = this.#patterns[i].exec(path);
            if (m === null)
                continue;
            if (route.method === method)
                found ??= { route, params: { ...m.groups } };
            adminPath ||= route.access === 'admin';
        }
        const needsToken = found === null ? adminPath : found.route.access === 'admin';
        if (needsToken && !isAdmin(authorization, adminToken)) {
            throw new SidekeyError('SIDEKEY_ERR_ADMIN_UNAUTHORIZED', 'this admin call needs the admin token (Authorization: Bearer, from certs/admin.token)');
        }
        if (found === null)
            throw noEndpoint(method, path);
        return found;
    }
}
/** The regular expression a route's path template stands for. */
export function pathPattern(template) {
    const segments = template.split('/').map((segment) => {
        const param = /^:(\w+)(?:\((.+)\))?$/.exec(segment);
        if (param === null)
            return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        return `(?<${param[1]}>${param[2] ?? '[^/]+'})`;
    });
    return new RegExp(`^${segments.join('/')}$`);
}
//# sourceMappingURL=route-table.js.map