import { SidekeyError } from '../errors.js';
/**
 * Identify the caller from `Proxy-Authorization` (Basic with the run token as password, as
 * `http://workload:TOKEN@host:port` proxy URLs send it, or Bearer TOKEN). Without the header the
 * caller is the configured default workload (a sidecar serves one workload), else anonymous.
 * A header that is present but not a valid token is refused: a wrong token never falls back.
 */
export function identify(proxyAuthorization, tokens, defaultWorkload) {
    if (proxyAuthorization === undefined || proxyAuthorization === '') {
        return defaultWorkload === null ? { workload: null, via: 'anonymous', tokenId: null } : { workload: defaultWorkload, via: 'default', tokenId: null };
    }
    const token = tokenFrom(proxyAuthorization);
    const info = token === null ? undefined : tokens.lookup(token);
    if (info === undefined)
        throw new SidekeyError('SIDEKEY_ERR_PROXY_AUTH_INVALID', 'the proxy credentials are not a valid sidekey run token');
    return { workload: info.workload, via: 'run-token', tokenId: info.id };
}
function tokenFrom(header) {
    const space = header.indexOf(' ');
    if (space < 0)
        return null;
    const scheme = header.slice(0, space).toLowerCase();
    const value = header.slice(space + 1).trim();
    if (scheme === 'bearer')
        return value;
    if (scheme !== 'basic')
        return null;
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0)
        return null;
    const raw = decoded.slice(colon + 1);
    // Tokens are URL-safe, but a client may still percent-encode the password of a proxy URL.
    try {
        return decodeURIComponent(raw);
    }
    catch {
        return raw;
    }
}
//# sourceMappingURL=identify.js.map