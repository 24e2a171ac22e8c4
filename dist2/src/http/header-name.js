/**
 * A header name as CGI-style servers read it: lower case, with `_` read as `-`. They pass a header
 * to the application as `HTTP_<NAME>`, turning both `-` and `_` into `_` (CGI, RFC 3875 section
 * 4.1.18: wsgiref, Rack on WEBrick and Puma before 6.4.3, PHP's CGI and built-in server), so to
 * them `X_HTTP_Method_Override` is `X-HTTP-Method-Override`. Every header name sidekey looks for,
 * refuses or removes is compared in this form, so an underscore spelling does not walk past it
 * (found by a red-team run: `X_HTTP_Method_Override: DELETE` got past `deny DELETE`).
 */
export function cgiHeaderName(name) {
    const lower = name.toLowerCase();
    // Almost no header name has an underscore: those keep to one lower-casing on the hot path.
    return lower.includes('_') ? lower.replaceAll('_', '-') : lower;
}
const folded = new WeakMap();
/**
 * The set of `names` in CGI-style form, made once per list: a route's `strip` list is frozen when
 * policy loads, so the set is built on its first request and reused for every one after it.
 */
export function cgiHeaderNameSet(names) {
    let set = folded.get(names);
    if (set === undefined) {
        set = new Set(names.map(cgiHeaderName));
        folded.set(names, set);
    }
    return set;
}
//# sourceMappingURL=header-name.js.map