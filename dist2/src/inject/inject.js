import { SidekeyError } from '../errors.js';
import { cgiHeaderName, cgiHeaderNameSet } from '../http/header-name.js';
// RFC 9110 field-value: visible ASCII, space, tab and obs-text; never CR, LF or NUL.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * Remove what the agent sent in the route's credential slots, then apply the secret the route's
 * injection names. Replace, never append (docs/architecture.md, rule 5): an SDK's placeholder key is dropped here.
 * Throws SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE when the secret cannot be a header value, so a
 * malformed secret fails closed instead of being sent mangled.
 */
export function injectCredential(out, route, secret) {
    out.headers = withoutNames(out.headers, route.strip);
    const injection = route.injection;
    // SigV4 is applied by signForwarded (inject/sigv4.ts) (it needs the body's hash and the obtained keys).
    if (injection === null || injection.kind === 'sigv4')
        return;
    if (injection.kind === 'query') {
        out.path = withQueryParam(out.path, injection.name, injection.value.render(secret));
        return;
    }
    let value;
    if (injection.kind === 'header') {
        value = injection.value.render(secret);
    }
    else {
        const pair = `${injection.username.render(secret)}:${injection.password.render(secret)}`;
        value = `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
    }
    if (!FIELD_VALUE.test(value)) {
        throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${route.credential?.name}": the secret has bytes a header value cannot carry`);
    }
    out.headers.push(injection.kind === 'header' ? injection.name : 'authorization', value);
}
/**
 * Remove headers named in `names` (lower case) from the agent's request, even on routes without a
 * credential; spelled with `_` for `-` too (http/header-name.ts), which a CGI-style upstream reads
 * as the same header: the agent's `X_Api_Key` must not stand beside, or in for, the injected `X-Api-Key`.
 */
export function withoutNames(headers, names) {
    if (names.length === 0)
        return [...headers];
    const drop = cgiHeaderNameSet(names);
    const out = [];
    for (let i = 0; i < headers.length; i += 2) {
        if (!drop.has(cgiHeaderName(headers[i])))
            out.push(headers[i], headers[i + 1]);
    }
    return out;
}
function withQueryParam(path, name, value) {
    const q = path.indexOf('?');
    const base = q < 0 ? path : path.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : path.slice(q + 1));
    params.delete(name);
    params.append(name, value);
    return `${base}?${params.toString()}`;
}
//# sourceMappingURL=inject.js.map