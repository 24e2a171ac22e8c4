import { METHODS } from './node-http.js';
import { hasRawNonUrlByte } from './raw-url-bytes.js';
import { parseAuthority } from '../policy/host.js';
/**
 * The methods Node's HTTP/1.1 parser (llhttp) accepts, every method an HTTP/1.1 agent can send,
 * all in upper case. An HTTP/2 stream may carry these, CONNECT aside (a tunnel inside an
 * intercepted tunnel is not proxied, as on HTTP/1.1). HTTP/2 itself allows any token in `:method`,
 * and nghttp2 and undici pass it on as written: a lowercase `delete` walked past a
 * `methods: [DELETE]` deny (policy matches methods exactly, as RFC 9110 says they are case-sensitive)
 * to a server that reads methods without case (Werkzeug, Express), and a `:method` holding a managed
 * secret went upstream, since the head scan reads the target and fields, not the method.
 */
const HTTP1_METHODS = new Set(METHODS);
/** True for a method an HTTP/1.1 agent can send (Node's parser's list), CONNECT included. */
export function isHttp1Method(method) {
    return HTTP1_METHODS.has(method);
}
/**
 * The head of a request (`source`: its fields as received, pseudo-headers included) without
 * pseudo-headers, with Host from `:authority`, and body presence as HTTP/1.1 reads it;
 * `endAfterHeaders` is true when its HEADERS frame ended the stream (no body).
 */
export function h2RequestHead(source, endAfterHeaders) {
    const rawHeaders = [];
    const headers = Object.create(null);
    let authority;
    let host;
    let method;
    let path;
    let pathRefused = false;
    for (let i = 0; i < source.length; i += 2) {
        const name = source[i];
        const value = source[i + 1];
        if (name.charCodeAt(0) === 0x3a) {
            if (name === ':authority')
                authority = value;
            else if (name === ':method')
                method = value;
            else if (name === ':path') {
                path = value;
                pathRefused = hasRawNonUrlByte(value);
            }
            continue;
        }
        if (name === 'host') {
            host = value;
            continue;
        }
        rawHeaders.push(name, value);
        const seen = headers[name];
        // Repeated fields read as Node's HTTP/1.1 parser joins them (set-cookie never comes in a request).
        headers[name] = seen === undefined ? value : name === 'cookie' ? `${String(seen)}; ${value}` : `${String(seen)}, ${value}`;
    }
    const named = authority ?? host;
    if (named !== undefined) {
        headers.host = named;
        rawHeaders.push('host', named);
    }
    if (!endAfterHeaders && headers['content-length'] === undefined)
        headers['transfer-encoding'] = 'chunked';
    return { method, path, headers, rawHeaders, authorityConflict: authority !== undefined && host !== undefined && !sameDestination(authority, host), methodRefused: method === undefined || method === 'CONNECT' || !HTTP1_METHODS.has(method), pathRefused };
}
/**
 * Whether `:authority` and `host` name one destination, read as the Host check reads a Host header
 * (policy/host.ts): `API.x` and `api.x`, or `api.x` and `api.x:443`, are the same; a value that
 * does not parse is a conflict.
 */
function sameDestination(authority, host) {
    const a = parseAuthority(authority, 443);
    const b = parseAuthority(host, 443);
    return a !== null && b !== null && a.host === b.host && a.port === b.port;
}
//# sourceMappingURL=h2-request.js.map