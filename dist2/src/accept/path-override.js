import { SidekeyError } from '../errors.js';
import { cgiHeaderName } from '../http/header-name.js';
/**
 * Request headers that some servers route on instead of the request target: `X-Original-URL` and
 * `X-Rewrite-URL` (Symfony before CVE-2018-14773, Zend Framework, IIS URL Rewrite). An agent
 * sending one could reach a path that policy never decided on, as method overrides reach a method
 * (docs/security.md). They are set by reverse proxies, never by clients, so sidekey refuses them always.
 */
const PATH_OVERRIDE_HEADERS = new Set(['x-original-url', 'x-rewrite-url', 'x-override-url']);
/** Throw SIDEKEY_ERR_AMBIGUOUS_PATH when the request carries a header that overrides its path. */
export function refusePathOverride(rawHeaders) {
    for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = cgiHeaderName(rawHeaders[i]);
        if (PATH_OVERRIDE_HEADERS.has(name)) {
            throw new SidekeyError('SIDEKEY_ERR_AMBIGUOUS_PATH', `the request has a ${rawHeaders[i].slice(0, 40)} header, which some servers route on instead of the request path, so policy would decide on one path while another runs: remove it and send the path you mean as the request path`);
        }
    }
}
//# sourceMappingURL=path-override.js.map