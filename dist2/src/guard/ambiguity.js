import { ConditionRefusal } from '../errors.js';
import { cgiHeaderName } from '../http/header-name.js';
import { findAmbiguousKeys, quoteKey } from './json-keys.js';
import { inexactNumber } from './json-numbers.js';
import { repeatedQueryParam } from './query-repeats.js';
const readsByRoute = new WeakMap();
function readsOf(route) {
    const known = readsByRoute.get(route);
    if (known !== undefined)
        return known;
    const predicates = [...(route.conditions?.cel ?? []), ...(route.approval?.when ? [route.approval.when] : [])];
    const union = (of, spell = (n) => n) => {
        const names = new Set();
        for (const p of predicates) {
            const read = of(p);
            if (read === 'any')
                return 'any';
            for (const name of read)
                names.add(spell(name));
        }
        return names;
    };
    const celBody = predicates.some((p) => p.usesBody);
    const reads = Object.freeze({ query: union((p) => p.queryReads), headers: union((p) => p.headerReads, cgiHeaderName), celBody, body: celBody || route.approval !== null });
    readsByRoute.set(route, reads);
    return reads;
}
/** The refusal for the first ambiguity in the request, or null when the route reads it one way only. */
export function ambiguity(route, f) {
    const reads = readsOf(route);
    const q = f.path.indexOf('?');
    if (q >= 0) {
        const repeated = repeatedQueryParam(f.path.slice(q + 1), reads.query);
        if (repeated !== null) {
            const spelled = repeated.spellings.slice(0, 5).map(quoteKey).join(', ');
            return new ConditionRefusal('SIDEKEY_ERR_AMBIGUOUS_QUERY', 'ambiguous_query', `the query parameter ${quoteKey(repeated.name)} is given ${repeated.spellings.length} times (${spelled}); route "${route.name}" has a condition that reads it, and servers disagree on which value counts (the first, the last, or all of them). Send it once, in one spelling`);
        }
    }
    const header = ambiguousHeader(f.headers, reads.headers);
    if (header !== null) {
        return new ConditionRefusal('SIDEKEY_ERR_AMBIGUOUS_HEADER', 'ambiguous_header', `the header ${quoteKey(header.name)} is given ${header.spellings.length === 1 ? `as ${quoteKey(header.spellings[0])}` : `${header.spellings.length} times (${header.spellings.slice(0, 5).map(quoteKey).join(', ')})`}; route "${route.name}" has a condition that reads it, and servers disagree on ${header.spellings.length === 1 ? 'whether that is the same header (CGI-style servers read "_" as "-", others do not)' : 'which value counts (the first, or all of them joined)'}. Send it once, spelled with "-"`);
    }
    if (!reads.body || f.json === undefined || f.body === null)
        return null;
    if (reads.celBody && f.contentType !== undefined && /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(f.contentType)) {
        return new ConditionRefusal('SIDEKEY_ERR_AMBIGUOUS_BODY', 'ambiguous_body', `the body is JSON but is declared as ${f.contentType.split(';')[0].trim().toLowerCase().slice(0, 40)}; route "${route.name}" checks it as JSON while the upstream would parse it as a form. Send it with Content-Type: application/json`);
    }
    const text = f.body.toString('utf8');
    const number = inexactNumber(text);
    if (number !== null) {
        return new ConditionRefusal('SIDEKEY_ERR_AMBIGUOUS_BODY', 'ambiguous_body', `the JSON body has the number ${number.slice(0, 40)}, which a double cannot hold exactly: route "${route.name}" reads the body as doubles, while the upstream may read it exactly (Go's int64, Python's int). Send integers within ±2^53, or larger ones as strings`);
    }
    // Only objects can hold keys.
    if (typeof f.json !== 'object' || f.json === null)
        return null;
    const keys = findAmbiguousKeys(text);
    if (keys === null)
        return null;
    const what = keys.kind === 'duplicate'
        ? `has the key ${quoteKey(keys.first)} twice in ${keys.at}; parsers disagree on which value counts (JavaScript and Go keep the last, others the first or refuse)`
        : `has the keys ${quoteKey(keys.first)} and ${quoteKey(keys.second)} in ${keys.at}, which differ only in letter case; Go's encoding/json takes them for one field and keeps the last, so the upstream may act on a value other than the one checked`;
    return new ConditionRefusal('SIDEKEY_ERR_AMBIGUOUS_BODY', 'ambiguous_body', `the JSON body ${what}. Route "${route.name}" reads the body, so send each key once, in one spelling`);
}
/**
 * The first header `reads` names (all of them for `any`) that is given more than once, or spelled
 * with an underscore, counting spellings as CGI-style servers read them; null when none is.
 */
function ambiguousHeader(headers, reads) {
    if (reads !== 'any' && reads.size === 0)
        return null;
    let seen = null;
    for (let i = 0; i < headers.length; i += 2) {
        const name = cgiHeaderName(headers[i]);
        if (reads !== 'any' && !reads.has(name))
            continue;
        seen ??= new Map();
        const spellings = seen.get(name);
        if (spellings === undefined)
            seen.set(name, [headers[i]]);
        else
            spellings.push(headers[i]);
    }
    if (seen === null)
        return null;
    for (const [name, spellings] of seen)
        if (spellings.length > 1 || spellings[0].includes('_'))
            return { name, spellings };
    return null;
}
//# sourceMappingURL=ambiguity.js.map