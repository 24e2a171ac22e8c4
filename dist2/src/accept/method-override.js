import { SidekeyError } from '../errors.js';
import { rawHeadersHaveBody } from '../http/message.js';
import { cgiHeaderName } from '../http/header-name.js';
const OVERRIDE_HEADERS = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);
/**
 * A query or form field name servers read as `_method`: any letter case (Slim reads `_METHOD`),
 * PHP's renaming of a leading `.`, space or `[` to `_`, and PHP's array form `_method[]`.
 */
function isOverrideField(name) {
    const n = name.replace(/^ +/, '').toLowerCase();
    return /^[_. []method(?:\[|$)/.test(n);
}
/**
 * The override a request carries in its headers or query, or null. Refuses (400) an override that
 * is not one method name, and two that name different methods: which one the upstream applies is
 * not knowable.
 */
export function methodOverride(rawHeaders, path) {
    const found = [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
        if (OVERRIDE_HEADERS.has(cgiHeaderName(rawHeaders[i])))
            found.push({ value: rawHeaders[i + 1], via: `header ${rawHeaders[i]}` });
    }
    const q = path.indexOf('?');
    // Cheap test first: a field read as _method has "method" in it, or an escape.
    if (q >= 0 && /method|%/i.test(path.slice(q))) {
        // `;` separates parameters too for Rack before 3 and Python before 3.9.2.
        for (const [name, value] of new URLSearchParams(path.slice(q + 1).replaceAll(';', '&'))) {
            if (isOverrideField(name))
                found.push({ value, via: `query parameter ${JSON.stringify(name)}` });
        }
    }
    if (found.length === 0)
        return null;
    const methods = new Set(found.map((f) => f.value.trim().toUpperCase()));
    const via = found.map((f) => f.via).join(' and ');
    if (methods.size > 1) {
        throw new SidekeyError('SIDEKEY_ERR_METHOD_OVERRIDE', `the method overrides in ${via} name different methods (${[...methods].map((m) => JSON.stringify(m.slice(0, 20))).join(', ')}), and servers disagree on which applies: send one method as the request method, without overrides`);
    }
    const [method] = methods;
    if (!/^[A-Z]{1,20}$/.test(method)) {
        throw new SidekeyError('SIDEKEY_ERR_METHOD_OVERRIDE', `the method override in ${via} is not a method name: send the method itself as the request method`);
    }
    return { method: method, via };
}
/** Each letter of "method", raw or percent-encoded in either case. */
const FORM_METHOD = [...'method'].map((c) => `(?:${c}|%${c.charCodeAt(0).toString(16)}|%${c.toUpperCase().charCodeAt(0).toString(16)})`).join('');
/**
 * `application/x-www-form-urlencoded`: a field name (after `&` or `;`, which Rack also splits on,
 * or spaces PHP strips) read as `_method`, ended by `=`, a separator, `[` or the end of the body.
 * Over-matching `+_method=` inside a value refuses a request nobody sends; missing one would not.
 */
const FORM = {
    source: `(?:[&; +]|%20)(?:[_.[ +]|%5f|%2e|%5b|%20)${FORM_METHOD}(?=[=&;[]|%5b|$)`,
    longest: 32,
    start: '&',
    begins: '&; +%',
    beginsAtStart: '_.[ +%',
};
/** JSON: the string `"_method"`, any character possibly a `\u` escape. */
const JSON_FIELD = {
    source: `"${[...'_method'].map((c) => `(?:${c}|\\\\u00${c.charCodeAt(0).toString(16)})`).join('')}"`,
    longest: 48,
    start: '',
    begins: '"',
    beginsAtStart: '',
};
/** multipart/form-data: a part whose Content-Disposition names the field `_method`. */
const MULTIPART = {
    // `name*=UTF-8''%5Fmethod` (RFC 7578 section 4.2 points to RFC 5987's extended form) is read as
    // `_method` by parsers that decode it (Werkzeug): the charset prefix and escapes count too.
    source: `content-disposition:[^\\r\\n]{0,256}?\\bname\\*?\\s*=\\s*"?(?:[\\w!#$&+^\`{}~.-]*'[\\w-]*')?(?:[_.[ ]|%5f|%2e|%5b|%20)${FORM_METHOD}(?=[\\s";[]|$)`,
    longest: 320,
    start: '',
    // A part's headers start on a line of their own.
    begins: '\n',
    beginsAtStart: 'cC',
};
/**
 * The patterns for a request's body, by every Content-Type it declares (none, or an empty one: a
 * Rack form); none for a request without a body.
 */
function bodyPatterns(rawHeaders) {
    const types = [];
    if (!rawHeadersHaveBody(rawHeaders))
        return [];
    for (let i = 0; i < rawHeaders.length; i += 2) {
        if (rawHeaders[i].toLowerCase() === 'content-type')
            types.push(rawHeaders[i + 1].toLowerCase());
    }
    if (types.length === 0)
        return [FORM];
    const patterns = new Set();
    for (const t of types) {
        // An empty Content-Type is none to Rack (its media type is nil): a form.
        if (t.trim() === '')
            patterns.add(FORM);
        if (t.includes('x-www-form-urlencoded'))
            patterns.add(FORM);
        if (t.trimStart().startsWith('multipart/'))
            patterns.add(MULTIPART);
        if (t.includes('/json') || t.includes('+json'))
            patterns.add(JSON_FIELD);
    }
    return [...patterns];
}
/** Finds a `_method` field in a body, chunk by chunk. Stateless: one per set of patterns. */
class OverrideFieldScanner {
    #regexp;
    #keep;
    #start;
    #begins;
    #beginsAtStart;
    constructor(patterns) {
        this.#regexp = new RegExp(patterns.map((p) => p.source).join('|'), 'gi');
        this.#keep = Math.max(...patterns.map((p) => p.longest));
        this.#start = patterns.map((p) => p.start).join('');
        this.#begins = new Set(Buffer.from(patterns.map((p) => p.begins).join(''), 'latin1'));
        this.#beginsAtStart = new Set(Buffer.from(patterns.map((p) => p.beginsAtStart).join(''), 'latin1'));
    }
    static #made = new Map();
    /** The scanner for these patterns, compiled once per process. */
    static for(patterns) {
        const key = patterns.map((p) => p.source).join('|');
        let scanner = OverrideFieldScanner.#made.get(key);
        if (scanner === undefined)
            OverrideFieldScanner.#made.set(key, (scanner = new OverrideFieldScanner(patterns)));
        return scanner;
    }
    /**
     * Where the bytes that could still grow into a field begin: the first byte a match can begin
     * with in the final `longest` bytes (the earliest, since a match holds such bytes inside it too),
     * the very start while nothing was passed on, or the window's end when nothing needs holding.
     */
    holdFrom(window, atStart) {
        const from = Math.max(0, window.length - this.#keep);
        for (let i = from; i < window.length; i++)
            if (this.#begins.has(window[i]))
                return i;
        return atStart && window.length > 0 && window.length <= this.#keep && this.#beginsAtStart.has(window[0]) ? 0 : window.length;
    }
    /**
     * True when `window` holds a whole field. Before the end of the body a match that reaches the
     * window's last byte may still grow (`_methods`), so it is decided with the next chunk.
     */
    found(window, atStart, atEnd) {
        const text = (atStart ? this.#start : '') + window.toString('latin1');
        for (const m of text.matchAll(this.#regexp))
            if (atEnd || m.index + m[0].length < text.length)
                return true;
        return false;
    }
}
function bodyOverrideRefusal() {
    return new SidekeyError('SIDEKEY_ERR_METHOD_OVERRIDE', 'the request body has a _method field, which servers (Rails, Laravel, Spring) read as the request method: sidekey decides on the method before reading bodies, so it refuses this; send the method itself (DELETE, PUT, ...) as the request method');
}
/**
 * A filter for a request body on its way up that fails the body if it carries a `_method` field,
 * or null when there is no body or its Content-Type is one servers do not read fields from.
 * Bodies are read as sent: a compressed body is not decompressed.
 */
export function bodyOverrideFilter(rawHeaders) {
    const patterns = bodyPatterns(rawHeaders);
    if (patterns.length === 0)
        return null;
    const scanner = OverrideFieldScanner.for(patterns);
    let held = Buffer.alloc(0);
    let atStart = true;
    return {
        push(chunk) {
            const window = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
            if (scanner.found(window, atStart, false))
                throw bodyOverrideRefusal();
            const cut = scanner.holdFrom(window, atStart);
            held = window.subarray(cut);
            if (cut > 0)
                atStart = false;
            return cut > 0 ? window.subarray(0, cut) : null;
        },
        end() {
            if (scanner.found(held, atStart, true))
                throw bodyOverrideRefusal();
            return held.length > 0 ? held : null;
        },
    };
}
/** Refuse a body already read whole (by the guard) that carries a `_method` field. */
export function refuseBodyOverride(rawHeaders, body) {
    const patterns = bodyPatterns(rawHeaders);
    if (patterns.length > 0 && OverrideFieldScanner.for(patterns).found(body, true, true))
        throw bodyOverrideRefusal();
}
//# sourceMappingURL=method-override.js.map