import { SidekeyError } from '../errors.js';
import { parseAuthority } from '../policy/host.js';
import { normalizePath } from '../policy/path.js';
/**
 * An origin-form target already in normal form (see policy/path.ts), so it is decided and
 * forwarded as sent: RFC 3986 pchars and "/" without "%" or ";", no empty, `.` or `..` segment,
 * and a query of printable ASCII without `"`, `#`, `<` or `>`.
 */
const SIMPLE_PATH = /^(?!.*\/\.\.?(?:[/?]|$))(?![^?]*\/\/)\/[\w\-.~!$&'()*+,=:@/]*(?:\?[!$-;=?-~]*)?$/;
/** `http(s)://host[:port]` (lower case, no user info) and an optional origin-form rest. */
const SIMPLE_ABSOLUTE = /^(https?):\/\/([a-z0-9.-]+(?::[0-9]{1,5})?)(\/.*)?$/;
/**
 * An absolute-form target split where the WHATWG URL parser ends the authority of a special
 * scheme (at `/`, `\`, `?` or `#`), so the path can be normalised from its raw text.
 */
const ABSOLUTE_PARTS = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/\\?#]*(.*)$/s;
/** An absolute-form target whose authority ends in `:port`. */
const EXPLICIT_PORT = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/\\?#]*:[0-9]+(?:[/\\?#]|$)/;
/**
 * Work out the destination of a request. Outside a tunnel it is the absolute-form request target.
 * Inside a tunnel it is the CONNECT authority and nothing else: a Host header (or absolute-form
 * target) naming another host or port is refused (docs/architecture.md, rule 2). The path is normalised once,
 * here, so the path policy decides on is the path the upstream receives.
 */
export function requestTarget(req, tunnel) {
    const raw = req.url ?? '';
    if (tunnel === null) {
        if (raw.startsWith('/')) {
            throw new SidekeyError('SIDEKEY_ERR_NOT_PROXY_REQUEST', 'this is the sidekey proxy port: send absolute-form requests (http://host/path) or CONNECT');
        }
        return absoluteTarget(raw);
    }
    const scheme = tunnel.tls ? 'https' : 'http';
    const defaultPort = scheme === 'https' ? 443 : 80;
    const hostHeader = req.headers.host;
    const claimed = hostHeader === undefined ? null : parseAuthority(hostHeader, defaultPort);
    // Another host, or an explicit other port, is what a smuggled second destination looks like.
    if (claimed === null || claimed.host !== tunnel.authority.host || !samePort(claimed, tunnel.authority, hostHeader)) {
        throw new SidekeyError('SIDEKEY_ERR_HOST_MISMATCH', `the Host header does not name the tunnel's destination ${tunnel.authority.host}:${tunnel.authority.port}`);
    }
    if (raw.startsWith('/'))
        return { ...tunnel.authority, scheme, ...originPath(raw) };
    const inner = absoluteTarget(raw);
    // Without an explicit port the target names the tunnel's port, as a Host header without one does.
    const portMatches = inner.port === tunnel.authority.port || !EXPLICIT_PORT.test(raw);
    if (inner.host !== tunnel.authority.host || !portMatches) {
        throw new SidekeyError('SIDEKEY_ERR_HOST_MISMATCH', "the request target does not name the tunnel's destination");
    }
    return { ...inner, ...tunnel.authority, scheme };
}
/**
 * An absolute-form target (`http://host[:port]/path?query`): the authority as the WHATWG URL
 * parser reads it, the path normalised from the raw text (the URL parser's own path handling is
 * not RFC 3986's: it reads `%2e` as a dot and `\` as `/`, hiding forms that must be refused).
 * Also what `sidekey explain` parses, so it decides on the same target as the proxy.
 */
export function absoluteTarget(raw) {
    // Fast path: a canonical authority and a path already in normal form.
    const simple = SIMPLE_ABSOLUTE.exec(raw);
    if (simple !== null && (simple[3] === undefined || SIMPLE_PATH.test(simple[3]))) {
        const scheme = simple[1];
        const authority = parseAuthority(simple[2], scheme === 'https' ? 443 : 80);
        if (authority !== null) {
            const path = simple[3] ?? '/';
            const q = path.indexOf('?');
            return { ...authority, scheme, path, pathname: q < 0 ? path : path.slice(0, q), ambiguity: null };
        }
    }
    let url;
    try {
        url = new URL(raw);
    }
    catch {
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the request target is not an absolute URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new SidekeyError('SIDEKEY_ERR_UNSUPPORTED_SCHEME', `scheme ${url.protocol.slice(0, -1)} is not proxied`);
    }
    if (url.username !== '' || url.password !== '') {
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'credentials in the request URL are refused; sidekey injects credentials');
    }
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    const authority = parseAuthority(url.host, scheme === 'https' ? 443 : 80);
    if (authority === null)
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the request target names no valid host');
    // The URL parser also accepts `http:host/path` and `http:\\host`; a proxy request names its
    // destination as `scheme://authority`, and only that form has a raw path to normalise.
    const rest = ABSOLUTE_PARTS.exec(raw)?.[1];
    if (rest === undefined)
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'write the request target as http(s)://host[:port]/path');
    return { ...authority, scheme, ...originPath(rest.startsWith('/') || rest.startsWith('\\') ? rest : `/${rest}`) };
}
/** Normalise an origin-form path with query, taking the fast path when it is already normal. */
function originPath(raw) {
    if (SIMPLE_PATH.test(raw)) {
        const q = raw.indexOf('?');
        return { path: raw, pathname: q < 0 ? raw : raw.slice(0, q), ambiguity: null };
    }
    const n = normalizePath(raw);
    return { path: n.pathname + n.search, pathname: n.pathname, ambiguity: n.ambiguity };
}
function samePort(claimed, tunnel, hostHeader) {
    if (claimed.port === tunnel.port)
        return true;
    // "Host: name" with no port is accepted for any tunnel port: clients omit the port when it is
    // the default for the scheme they think they speak, and the tunnel's port is what is dialled.
    return !/:[0-9]+$/.test(hostHeader.replace(/^\[.*\]/, ''));
}
//# sourceMappingURL=target.js.map