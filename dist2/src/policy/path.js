/**
 * Request paths in one normal form, so the path policy decides on is the path the upstream
 * receives ("normalise before you decide, forward what you decided on").
 *
 * The form is RFC 3986 section 6.2.2 (syntax-based normalisation) plus two steps servers take:
 * - 6.2.2.1: hex digits of percent-encodings in upper case (`%2f` -> `%2F`);
 * - 6.2.2.2: percent-encoded unreserved characters decoded (`%61` -> `a`, `%7E` -> `~`), because
 *   every server reads them as the character: `/v1/%61dmin` is `/v1/admin` to Go, Flask,
 *   Starlette, Spring and nginx, so it must be to the policy too;
 * - 6.2.2.3: dot segments removed (section 5.2.4);
 * - empty segments collapsed (`//` -> `/`), as nginx (merge_slashes), Go's path.Clean and most
 *   frameworks do before routing; collapsing comes first, as in those, so `/a//../b` is `/b`;
 * - characters a path may not hold raw (RFC 3986 section 3.3: space, `"`, `<`, `>`, `^`, `` ` ``,
 *   `{`, `|`, `}`, `[`, `]`, non-ASCII) percent-encoded, and a fragment dropped (RFC 9112
 *   section 3.2: a request target has none);
 * - a `\` read as `/`, as the WHATWG URL parser (and so browsers and Node) read it.
 *
 * Some forms have no normal form, because servers disagree on what they mean: an encoded `/` or
 * `\` (one server splits the segment, another does not), an encoded `.` (a dot segment or not),
 * `;` (Tomcat, Jetty and Spring strip `;params` from each segment, so `/x/..;/admin` is
 * `/admin` to them), control bytes, `%25` before hex (a server that decodes twice reads another
 * character), a `%` that starts no escape, escaped bytes that are not UTF-8, and a raw `\`. They
 * are kept in the path (encoded) and reported as an `ambiguity`; policy refuses them on
 * destinations whose routes match paths (see `decide.ts`). The list follows Spring Security's
 * StrictHttpFirewall.
 */
const AMBIGUOUS = {
    encodedSlash: { why: 'an encoded "/" that some servers decode into a path separator and others do not', instead: 'send the path with a literal "/" where you mean a separator' },
    encodedBackslash: { why: 'an encoded "\\" that some servers read as a path separator', instead: 'send "/" where you mean a separator' },
    backslash: { why: 'a "\\", which some servers read as a path separator and others as a character', instead: 'send "/" where you mean a separator' },
    encodedDot: { why: 'an encoded "." that some servers read as part of a dot segment ("..")', instead: 'send "." unencoded' },
    semicolon: { why: 'a ";" (matrix parameters, or "..;/"), which Java servers strip from the segment before routing', instead: 'put parameters in the query string instead of the path' },
    encodedDelimiter: { why: 'an encoded "?" or "#", which a server that decodes the path and parses it again reads as the start of a query or fragment', instead: 'send a query after a literal "?", and no fragment' },
    control: { why: 'a control byte (such as %00), which servers truncate at or refuse', instead: 'remove it from the path' },
    doubleEncoding: { why: 'a double encoding ("%25" followed by hex), which servers that decode twice read as another character', instead: 'encode the path exactly once' },
    barePercent: { why: 'a "%" that starts no percent-encoding', instead: 'send a literal "%" as "%25"' },
    invalidUtf8: { why: 'percent-encoded bytes that are not UTF-8 (such as the overlong "%C0%AF", which old servers decode to "/")', instead: 'percent-encode the UTF-8 bytes of each character' },
};
/** Rejects bytes that are not UTF-8, overlong forms included (WHATWG Encoding, "fatal"). */
const UTF8 = new TextDecoder('utf-8', { fatal: true });
const HEX = '0123456789ABCDEF';
/** RFC 3986 `unreserved`: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c) {
    return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}
/** RFC 3986 `pchar` and "/", minus "%" (handled as escapes): what a path holds raw. */
function isPathChar(c) {
    // sub-delims ! $ & ' ( ) * + , ; = and ":" "@" "/"
    return isUnreserved(c) || c === 0x21 || c === 0x24 || (c >= 0x26 && c <= 0x2c) || c === 0x2f || c === 0x3a || c === 0x3b || c === 0x3d || c === 0x40;
}
function hexValue(c) {
    if (c >= 0x30 && c <= 0x39)
        return c - 0x30;
    if (c >= 0x41 && c <= 0x46)
        return c - 0x37;
    if (c >= 0x61 && c <= 0x66)
        return c - 0x57;
    return -1;
}
function encodeByte(b) {
    return `%${HEX[b >> 4]}${HEX[b & 15]}`;
}
/** Percent-encode one character (UTF-8, as the WHATWG URL parser does). */
function encodeChar(ch) {
    let out = '';
    for (const b of Buffer.from(ch, 'utf8'))
        out += encodeByte(b);
    return out;
}
/**
 * Normalise an origin-form request target (`/path?query`, a fragment allowed and dropped). The
 * result is idempotent: normalising it again changes nothing.
 */
export function normalizePath(target) {
    const hash = target.indexOf('#');
    const withoutFragment = hash < 0 ? target : target.slice(0, hash);
    const q = withoutFragment.indexOf('?');
    const rawPath = q < 0 ? withoutFragment : withoutFragment.slice(0, q);
    const search = q < 0 ? '' : normalizeQuery(withoutFragment.slice(q));
    let ambiguity = null;
    const found = (form, kind) => {
        ambiguity ??= { form, ...AMBIGUOUS[kind] };
    };
    // Pass 1: escapes and raw characters, one at a time (section 6.2.2.1 and 6.2.2.2).
    let escaped = '';
    for (let i = 0; i < rawPath.length; i++) {
        const c = rawPath.charCodeAt(i);
        if (c === 0x25) {
            const hi = hexValue(rawPath.charCodeAt(i + 1));
            const lo = hexValue(rawPath.charCodeAt(i + 2));
            if (hi < 0 || lo < 0) {
                found('%', 'barePercent');
                escaped += '%25';
                continue;
            }
            const byte = hi * 16 + lo;
            const form = encodeByte(byte);
            i += 2;
            if (byte === 0x2e)
                found(form, 'encodedDot');
            if (isUnreserved(byte)) {
                escaped += String.fromCharCode(byte);
                continue;
            }
            if (byte === 0x2f)
                found(form, 'encodedSlash');
            else if (byte === 0x5c)
                found(form, 'encodedBackslash');
            else if (byte === 0x3b)
                found(form, 'semicolon');
            else if (byte === 0x3f || byte === 0x23)
                found(form, 'encodedDelimiter');
            else if (byte < 0x20 || byte === 0x7f)
                found(form, 'control');
            escaped += form;
        }
        else if (c === 0x5c) {
            found('\\', 'backslash');
            escaped += '/';
        }
        else if (isPathChar(c)) {
            if (c === 0x3b)
                found(';', 'semicolon');
            escaped += rawPath[i];
        }
        else {
            if (c < 0x20 || c === 0x7f)
                found(encodeByte(c), 'control');
            // A lone surrogate cannot be UTF-8 encoded; it is replaced (U+FFFD), as WHATWG URL does.
            const cp = rawPath.codePointAt(i);
            const ch = String.fromCodePoint(cp);
            i += ch.length - 1;
            escaped += encodeChar(ch);
        }
    }
    // Decoding may have made a new escape out of "%25" and decoded hex digits ("%2532" stays, but
    // "%25%33%32" became "%2532"): whatever is "%25" before hex now is double encoding.
    const double = /%25[0-9A-Fa-f]{2}/.exec(escaped);
    if (double !== null)
        found(double[0], 'doubleEncoding');
    // Escaped bytes above 0x7F must spell UTF-8: Tomcat and IIS once decoded overlong forms such as
    // %C0%AE to "." (CVE-2008-2938), so anything else has no single meaning.
    for (const run of escaped.match(/(?:%[89A-F][0-9A-F])+/g) ?? []) {
        try {
            UTF8.decode(Buffer.from(run.replaceAll('%', ''), 'hex'));
        }
        catch {
            found(run, 'invalidUtf8');
        }
    }
    return { pathname: removeDotSegments(escaped), search, ambiguity };
}
/**
 * Collapse empty segments, then remove dot segments (RFC 3986 section 5.2.4). A trailing `.` or
 * `..` leaves a trailing slash (`/a/.` is `/a/`), as the RFC says.
 */
function removeDotSegments(path) {
    if (path === '' || path === '/')
        return '/';
    const segments = path.split('/');
    const out = [];
    let trailingSlash = false;
    // segments[0] is "" (the path starts with "/") unless the target did not, which is treated the same.
    for (let i = 0; i < segments.length; i++) {
        const s = segments[i];
        const last = i === segments.length - 1;
        if (s === '' || s === '.') {
            if (last && i > 0)
                trailingSlash = true;
            continue;
        }
        if (s === '..') {
            out.pop();
            if (last)
                trailingSlash = true;
            continue;
        }
        out.push(s);
        trailingSlash = false;
    }
    return `/${out.join('/')}${trailingSlash && out.length > 0 ? '/' : ''}`;
}
/**
 * The query as forwarded: characters HTTP does not allow raw (controls, space, `"`, `<`, `>`,
 * non-ASCII) percent-encoded, as the WHATWG URL parser does; nothing decoded, nothing reordered.
 */
function normalizeQuery(search) {
    if (/^[!$-;=?-~]*$/.test(search))
        return search;
    let out = '';
    for (const ch of search) {
        const c = ch.codePointAt(0);
        out += c <= 0x20 || c >= 0x7f || c === 0x22 || c === 0x3c || c === 0x3e ? encodeChar(ch) : ch;
    }
    return out;
}
/** A one-line refusal message: what was found, why it is refused here, what to send instead. */
export function describeAmbiguity(a, where) {
    return `the path holds ${JSON.stringify(a.form)}, ${a.why}; routes for ${where} match paths, so such a path is refused rather than guessed: ${a.instead}`;
}
/**
 * A path glob from policy in the normal form requests are matched in (hex in upper case,
 * unreserved characters decoded, other characters encoded), or why it cannot be: a glob holding a
 * form requests are refused for, a query, or an empty or dot segment could never match a
 * normalised request path.
 */
export function normalizeGlob(glob) {
    if (/[?#]/.test(glob))
        return { problem: `"${glob}" holds "?" or "#": globs match the path only, never the query` };
    const n = normalizePath(glob);
    if (n.ambiguity !== null)
        return { problem: `"${glob}" holds ${JSON.stringify(n.ambiguity.form)}, ${n.ambiguity.why}: requests with it are refused where routes match paths, so the glob could never match` };
    if (/\/\/|\/\.\.?(?:\/|$)/.test(glob))
        return { problem: `"${glob}" holds an empty or dot segment; requests are matched after those are resolved: write "${n.pathname}"` };
    return { glob: n.pathname };
}
//# sourceMappingURL=path.js.map