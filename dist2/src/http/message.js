/**
 * Facts about an HTTP/1.1 message every stage must read the same way. Three readings of "has a
 * body" or of a repeated header would let one stage see what another does not.
 */
/**
 * Whether a request carries a body (RFC 9112 section 6.3): Transfer-Encoding says it does (chunked,
 * possibly empty); otherwise a Content-Length above zero does. Node's parser refuses a request with
 * both, and an invalid Content-Length, before any stage runs.
 */
export function requestHasBody(headers) {
    if (headers['transfer-encoding'] !== undefined)
        return true;
    const length = headers['content-length'];
    return length !== undefined && Number(length) > 0;
}
/** The same rule over raw headers (name, value, ...), for code that has only those. */
export function rawHeadersHaveBody(rawHeaders) {
    for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = rawHeaders[i].toLowerCase();
        if (name === 'transfer-encoding')
            return true;
        if (name === 'content-length' && Number(rawHeaders[i + 1]) > 0)
            return true;
    }
    return false;
}
/**
 * Raw headers folded into one value per lower-case name, repeated fields joined with ", " (RFC 9110
 * section 5.3). The map has no prototype, so a header named `__proto__` is just a name. Names in
 * `skip` (lower case) are left out.
 */
export function foldHeaders(rawHeaders, skip = NO_NAMES) {
    const folded = Object.create(null);
    for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = rawHeaders[i].toLowerCase();
        if (skip.has(name))
            continue;
        const value = rawHeaders[i + 1];
        const seen = folded[name];
        folded[name] = seen === undefined ? value : `${seen}, ${value}`;
    }
    return folded;
}
const NO_NAMES = new Set();
//# sourceMappingURL=message.js.map