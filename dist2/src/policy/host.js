import { domainToASCII } from 'node:url';
import { isIP } from 'node:net';
/** Lower-case letters, digits, dot, hyphen and underscore, no "xn--" decoding needed. */
const CANONICAL = /^[a-z0-9_.-]+$/;
/**
 * Characters no host name holds, which a URL host parser would cut the name at or decode instead
 * of refusing (`evil.test/.api.test` parses as `evil.test`, `ex%41mple.test` as `example.test`):
 * refused, so a name is never silently read as another. (Control characters the IDNA step refuses.)
 */
const NOT_IN_A_HOST = /[/\\?#@%:\s]/;
/**
 * A last label that is a number (decimal or hex): the WHATWG URL parser, curl and inet_aton read
 * such a name as an IPv4 address (`127.1`, `2130706433`, `0x7f.1` are 127.0.0.1), and no top-level
 * domain is numeric, so it is normalised as the address it is.
 */
const NUMERIC_LAST_LABEL = /(^|\.)(0x[0-9a-f]*|[0-9]+)$/;
/**
 * Canonical form of a host name for matching and for certificates: lower case, no trailing dot,
 * IDNA to punycode (RFC 5890), IPv6 without brackets. Returns null when the name cannot be a host.
 *
 * Every comparison in sidekey (route match, Host versus CONNECT authority, SNI) goes through this
 * one function, so `API.OpenAI.com.` and `api.openai.com` can never be two different hosts.
 */
export function normalizeHost(raw) {
    let host = raw.trim();
    if (host.startsWith('[') && host.endsWith(']'))
        host = host.slice(1, -1);
    if (host === '')
        return null;
    // Fast path for what nearly every request carries: an already canonical ASCII name, which is
    // neither address form (no colon; a numeric last label is left to the IPv4 check below).
    const name = host.endsWith('.') ? host.slice(0, -1) : host;
    if (CANONICAL.test(name) && name.length <= 253 && !NUMERIC_LAST_LABEL.test(name))
        return labelsFit(name) ? name : null;
    if (isIP(host) === 6)
        return canonicalIPv6(host);
    host = name;
    if (isIP(host) === 4)
        return host;
    if (NOT_IN_A_HOST.test(host))
        return null;
    const ascii = domainToASCII(host);
    if (ascii === '' || ascii.length > 253)
        return null;
    // Letters, digits, hyphen and underscore (seen in real service names) per label; no empty label.
    for (const label of ascii.split('.')) {
        if (label.length === 0 || label.length > 63 || !/^[a-z0-9_-]+$/.test(label))
            return null;
    }
    return ascii;
}
/** Whether every dot-separated label of `name` is 1 to 63 characters long (RFC 1035 section 2.3.4). */
function labelsFit(name) {
    let start = 0;
    for (let i = 0; i <= name.length; i++) {
        if (i < name.length && name.charCodeAt(i) !== 46 /* '.' */)
            continue;
        const length = i - start;
        if (length === 0 || length > 63)
            return false;
        start = i + 1;
    }
    return true;
}
/**
 * An IPv6 address in its one canonical text form (RFC 5952: lower case, zeros compressed, as the
 * URL parser writes it), so `0:0:0:0:0:0:0:1` and `::1` are one host. A zone (`fe80::1%eth0`) is
 * refused: it names an interface of this machine, not a destination.
 */
function canonicalIPv6(address) {
    try {
        return new URL(`http://[${address}]/`).hostname.slice(1, -1);
    }
    catch {
        return null;
    }
}
/**
 * Parse `host:port` (CONNECT request-target, RFC 9110 section 9.3.6) or a Host header value.
 * `defaultPort` applies when the port is absent (Host headers may omit it; CONNECT may not).
 */
export function parseAuthority(raw, defaultPort) {
    let hostPart;
    let portPart;
    if (raw.startsWith('[')) {
        const end = raw.indexOf(']');
        if (end < 0)
            return null;
        hostPart = raw.slice(0, end + 1);
        const rest = raw.slice(end + 1);
        if (rest !== '' && !rest.startsWith(':'))
            return null;
        portPart = rest === '' ? undefined : rest.slice(1);
    }
    else {
        const colon = raw.lastIndexOf(':');
        if (colon >= 0) {
            hostPart = raw.slice(0, colon);
            portPart = raw.slice(colon + 1);
        }
        else {
            hostPart = raw;
        }
    }
    let port;
    if (portPart === undefined) {
        if (defaultPort === undefined)
            return null;
        port = defaultPort;
    }
    else {
        if (!/^[0-9]{1,5}$/.test(portPart))
            return null;
        port = Number(portPart);
    }
    if (port < 1 || port > 65535)
        return null;
    const host = normalizeHost(hostPart);
    if (host === null)
        return null;
    return { host, port };
}
/** `host:port` with IPv6 bracketed, for URLs and logs. */
export function formatAuthority(a) {
    return `${bracketed(a.host)}:${a.port}`;
}
/** A host as a URL or a `host:port` names it: an IPv6 literal in brackets. */
export function bracketed(host) {
    return isIP(host) === 6 ? `[${host}]` : host;
}
/**
 * The Host header (and URL authority) for `a` as `scheme` names it: the port left out when it is
 * the scheme's default (RFC 9110 section 7.2), an IPv6 literal in brackets either way.
 */
export function hostHeader(a, scheme) {
    if (a.port === (scheme === 'https' ? 443 : 80))
        return bracketed(a.host);
    return formatAuthority(a);
}
//# sourceMappingURL=host.js.map