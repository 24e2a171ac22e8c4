/** The first parameter `reads` covers that `query` (the raw query string, without `?`) repeats, or null. */
export function repeatedQueryParam(query, reads) {
    if (query === '' || (reads !== 'any' && reads.size === 0))
        return null;
    const byName = new Map();
    // URLSearchParams (and so CEL) drops a leading `?` of the query (`/x??amount=1`); Go and PHP keep it.
    for (const segment of query.replace(/^\?+/, '').split(/[&;]/)) {
        if (segment === '')
            continue;
        const eq = segment.indexOf('=');
        const written = eq < 0 ? segment : segment.slice(0, eq);
        const name = paramName(written);
        const spellings = byName.get(name);
        if (spellings === undefined)
            byName.set(name, [written]);
        else
            spellings.push(written);
    }
    if (reads === 'any') {
        for (const spellings of byName.values())
            if (spellings.length > 1)
                return { name: spellings[0], spellings };
        return null;
    }
    for (const read of reads) {
        const spellings = byName.get(paramName(read, false));
        if (spellings !== undefined && spellings.length > 1)
            return { name: read, spellings };
    }
    return null;
}
/** The name a lenient server files a parameter under: decoded, before any `[`, `.`/space as `_`, lower case. */
function paramName(written, encoded = true) {
    let name = encoded ? decodeName(written) : written;
    const bracket = name.indexOf('[');
    if (bracket > 0 && name.indexOf(']', bracket) > 0)
        name = name.slice(0, bracket);
    return name.replace(/[. ]/g, '_').toLowerCase();
}
/** application/x-www-form-urlencoded name decoding (WHATWG URL section 5.1), as URLSearchParams does it. */
function decodeName(written) {
    if (!written.includes('%') && !written.includes('+'))
        return written;
    return new URLSearchParams(written).keys().next().value ?? written;
}
//# sourceMappingURL=query-repeats.js.map