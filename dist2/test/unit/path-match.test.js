import t from 'tap';
import { MethodMatcher, PathMatcher, PortMatcher, WorkloadMatcher } from '../../src/policy/match.js';
import { describeAmbiguity, normalizeGlob, normalizePath } from '../../src/policy/path.js';
// Path matching, table-driven: the normal form a path is decided and forwarded in (RFC 3986
// section 6.2.2), the forms with no single meaning, path globs, and the broader matching of deny
// rules. path-normalize.test.ts holds the first table of raw paths; these are the rules one
// by one.
/** The normal form as one string: path, query, and the ambiguous form found, if any. */
function normal(raw) {
    const n = normalizePath(raw);
    return `${n.pathname}${n.search}${n.ambiguity === null ? '' : ` (ambiguous ${n.ambiguity.form})`}`;
}
t.test('RFC 3986 section 6.2.2: case, unreserved characters, dot segments', async (t) => {
    const table = [
        {
            rule: '6.2.2.1: hex digits of an escape in upper case',
            cases: [['/a%3ab', '/a%3Ab'], ['/caf%c3%a9', '/caf%C3%A9'], ['/%e2%82%ac', '/%E2%82%AC']],
        },
        {
            rule: '6.2.2.2: escaped unreserved characters decoded, reserved ones kept',
            cases: [['/%41%5a%61%7a', '/AZaz'], ['/%30%39', '/09'], ['/%2D%5F%7E', '/-_~'], ['/a%40b%3Dc%26d%2Be%20f%24', '/a%40b%3Dc%26d%2Be%20f%24'], ['/%21%28%29%2A%2C%3A', '/%21%28%29%2A%2C%3A']],
        },
        {
            // Section 5.4's examples, as absolute paths.
            rule: '6.2.2.3: dot segments removed (section 5.2.4)',
            cases: [
                ['/a/b/c/./../../g', '/a/g'],
                ['/mid/content=5/../6', '/mid/6'],
                ['/a/b/../../../g', '/g'],
                ['/./g', '/g'],
                ['/g.', '/g.'],
                ['/.g', '/.g'],
                ['/g..', '/g..'],
                ['/..g', '/..g'],
                ['/a/./', '/a/'],
                ['/a/..', '/'],
                ['/..', '/'],
                ['/.', '/'],
                ['', '/'],
            ],
        },
        {
            rule: 'empty segments collapsed before dot segments, as nginx and Go path.Clean do',
            cases: [['//', '/'], ['/a//b', '/a/b'], ['/a//..', '/'], ['/a///./b//', '/a/b/'], ['a/b', '/a/b']],
        },
        {
            rule: 'characters a path may not hold raw are encoded as UTF-8 (section 3.3)',
            cases: [['/a b', '/a%20b'], ['/"<>', '/%22%3C%3E'], ['/^`{|}', '/%5E%60%7B%7C%7D'], ['/[x]', '/%5Bx%5D'], ['/é', '/%C3%A9'], ['/€', '/%E2%82%AC'], ['/😀', '/%F0%9F%98%80'], ['/\ud800', '/%EF%BF%BD']],
        },
        {
            rule: 'the query: encoded where HTTP needs it, never decoded or reordered; the fragment dropped',
            cases: [['/p?b=2&a=1', '/p?b=2&a=1'], ['/p?q=%zz%2f', '/p?q=%zz%2f'], ['/p?q=a b', '/p?q=a%20b'], ['/p?q="<>"', '/p?q=%22%3C%3E%22'], ['/p?q=é', '/p?q=%C3%A9'], ["/p?q='x'~", "/p?q='x'~"], ['/p?', '/p?'], ['/p?q#f?g', '/p?q'], ['/p#f?q', '/p'], ['/a/../b?/../c', '/b?/../c']],
        },
    ];
    for (const { rule, cases } of table) {
        for (const [raw, expected] of cases) {
            t.equal(normal(raw), expected, `${rule}: ${JSON.stringify(raw)}`);
            t.equal(normal(expected), expected, `${JSON.stringify(expected)}: the normal form is a fixed point`);
        }
    }
});
t.test('forms with no single meaning: each one found, explained, and told what to send instead', async (t) => {
    const table = [
        ['/a%2Fb', '%2F', /encoded "\/"/, /literal "\/"/],
        ['/a%5cb', '%5C', /encoded "\\"/, /send "\/"/],
        ['/a\\b', '\\', /a "\\", which some servers read as a path separator/, /send "\/"/],
        ['/a/%2e%2e/b', '%2E', /encoded "\."/, /send "\." unencoded/],
        ['/a;b', ';', /matrix parameters/, /query string/],
        ['/a%3bb', '%3B', /matrix parameters/, /query string/],
        ['/a%3Fb', '%3F', /encoded "\?" or "#"/, /after a literal "\?"/],
        ['/a%23b', '%23', /encoded "\?" or "#"/, /no fragment/],
        ['/a%00b', '%00', /control byte/, /remove it/],
        ['/a%1fb', '%1F', /control byte/, /remove it/],
        ['/a\tb', '%09', /control byte/, /remove it/],
        ['/a%7Fb', '%7F', /control byte/, /remove it/],
        ['/a%2541', '%2541', /double encoding/, /exactly once/],
        ['/a%', '%', /starts no percent-encoding/, /"%25"/],
        ['/a%4', '%', /starts no percent-encoding/, /"%25"/],
        ['/a%g0', '%', /starts no percent-encoding/, /"%25"/],
        ['/a%ff', '%FF', /not UTF-8/, /UTF-8 bytes/],
        ['/a%e2%82', '%E2%82', /not UTF-8/, /UTF-8 bytes/],
        ['/a%c0%af', '%C0%AF', /overlong/, /UTF-8 bytes/],
    ];
    for (const [raw, form, why, instead] of table) {
        const a = normalizePath(raw).ambiguity;
        t.equal(a?.form, form, `${JSON.stringify(raw)} holds ${form}`);
        t.match(a?.why, why, `${JSON.stringify(raw)}: why`);
        t.match(a?.instead, instead, `${JSON.stringify(raw)}: instead`);
    }
    t.equal(normalizePath('/a;b%2Fc').ambiguity?.form, ';', 'the first form found is the one reported');
    t.equal(normalizePath('/a%2Fb%00').ambiguity?.form, '%2F');
    t.equal(normalizePath('/ok?q=%2F;%00').ambiguity, null, 'the query is not the path: nothing in it is ambiguous');
    const a = normalizePath('/v1/x/..;/admin').ambiguity;
    t.equal(describeAmbiguity(a, 'api.test'), `the path holds ";", ${a.why}; routes for api.test match paths, so such a path is refused rather than guessed: ${a.instead}`);
});
t.test('normalizeGlob: a policy glob in the normal form requests are matched in, or the reason it never could match', async (t) => {
    const table = [
        ['wildcards and literal text kept', [['/v1/*', '/v1/*'], ['/v1/**', '/v1/**'], ['/v1/*.json', '/v1/*.json'], ['/v1/x/', '/v1/x/'], ['/v1/a%25b', '/v1/a%25b']]],
        ['escapes and characters in the form requests take', [['/v1/%7Euser', '/v1/~user'], ['/v1/a b', '/v1/a%20b'], ['/v1/é', '/v1/%C3%A9']]],
        ['an empty or relative glob is rooted', [['/', '/'], ['', '/'], ['v1/x', '/v1/x']]],
        ['a query or fragment', [['/v1/x#y', 'problem: "/v1/x#y" holds "?" or "#": globs match the path only, never the query']]],
        [
            'a form requests are refused for',
            [
                ['/v1/a%2541', 'problem: "/v1/a%2541" holds "%2541", a double encoding ("%25" followed by hex), which servers that decode twice read as another character: requests with it are refused where routes match paths, so the glob could never match'],
                ['/v1/\\x', 'problem: "/v1/\\x" holds "\\\\", a "\\", which some servers read as a path separator and others as a character: requests with it are refused where routes match paths, so the glob could never match'],
            ],
        ],
        [
            'an empty or dot segment, which no normalised request path holds',
            [
                ['/v1/.', 'problem: "/v1/." holds an empty or dot segment; requests are matched after those are resolved: write "/v1/"'],
                ['/v1/../x/**', 'problem: "/v1/../x/**" holds an empty or dot segment; requests are matched after those are resolved: write "/x/**"'],
            ],
        ],
    ];
    for (const [rule, cases] of table) {
        for (const [glob, result] of cases) {
            const n = normalizeGlob(glob);
            t.equal('glob' in n ? n.glob : `problem: ${n.problem}`, result, `${rule}: ${JSON.stringify(glob)}`);
        }
    }
});
t.test('PathMatcher: * within a segment, ** across them, and regular-expression characters taken literally', async (t) => {
    const allow = new PathMatcher(['/files/*.txt', '/v1/a+b', '/v1/(x)', '/v1/a.b', '/**/secret', '/x/**/y/**', '/v1/users/*/delete']);
    const table = [
        ['/files/a.txt', true],
        ['/files/.txt', true],
        ['/files/a.txt.gz', false],
        ['/files/a/b.txt', false],
        ['/v1/a+b', true],
        ['/v1/aab', false],
        ['/v1/(x)', true],
        ['/v1/x', false],
        ['/v1/a.b', true],
        ['/v1/aXb', false],
        ['/secret', true],
        ['/a/b/secret', true],
        ['/asecret', false],
        ['/x/y', true],
        ['/x/y/', true],
        ['/x/a/b/y/c', true],
        ['/xy', false],
        ['/v1/users/7/delete', true],
        ['/v1/users/7/8/delete', false],
        ['/v1/users/delete', false],
        // An allow rule stays exact: another letter case, a suffix or a trailing slash falls through.
        ['/FILES/a.txt', false],
        ['/v1/users/7/delete.json', false],
        ['/v1/users/7/delete/', false],
    ];
    for (const [path, want] of table)
        t.equal(allow.matches(path), want, path);
    t.equal(allow.explain(), 'path /files/*.txt|/v1/a+b|/v1/(x)|/v1/a.b|/**/secret|/x/**/y/**|/v1/users/*/delete');
    const any = new PathMatcher(null);
    t.ok(any.matches('/anything'));
    t.equal(any.explain(), 'any path');
    t.notOk(new PathMatcher([]).matches('/a'), 'an empty list matches nothing');
});
t.test('PathMatcher, deny rules: any letter case, a trailing slash, and what servers strip from a segment end', async (t) => {
    const deny = new PathMatcher(['/v1/admin/**', '/v1/users/*/delete', '/files/*.txt', '/v1/keys/', '/'], { broad: true });
    const table = [
        ['/v1/admin', true, 'the glob itself'],
        ['/V1/ADMIN', true, 'letter case'],
        ['/v1/admin/', true, 'trailing slash'],
        ['/v1/admin.json', true, 'format suffix (Rails, legacy Spring)'],
        ['/v1/ADMIN.JSON', true, 'format suffix, letter case'],
        ['/v1/admin.json.bak', true, 'two suffixes'],
        ['/v1/admin.json/x', true, 'a suffix, then more path'],
        ['/v1/admin.', true, 'trailing dot (IIS)'],
        ['/v1/admin..', true, 'trailing dots'],
        ['/v1/admin%20', true, 'encoded trailing space (IIS)'],
        ['/v1/admin.%20', true, 'dot and space'],
        ['/v1/adminx', false, 'a longer segment is another segment'],
        ['/v1/administrator/x', false, 'a longer segment is another segment'],
        ['/v1/users/7/delete.json', true, 'suffix after a * segment'],
        ['/v1/users/7/Delete%20', true, 'case and encoded space after a * segment'],
        ['/v1/users/7/8/delete', false, '* stays within one segment'],
        ['/files/a.txt.gz', true, 'a suffix after a glob that already ends in one'],
        ['/files/a/b.txt', false, '* stays within one segment'],
        ['/v1/keys', true, 'a glob with a trailing slash matches without it'],
        ['/V1/KEYS/', true, 'and with it, in any case'],
        ['/v1/keys/x', false, 'a trailing slash is not /**'],
        ['/', true, 'the root'],
        ['/x', false, 'the root is not /**'],
    ];
    for (const [path, want, variant] of table)
        t.equal(deny.matches(path), want, `${path}: ${variant}`);
});
t.test('covers: the conservative overlap check policy lint uses', async (t) => {
    const paths = new PathMatcher(['/v1/**', '/b']);
    const pathTable = [
        [['/v1/x'], true],
        [['/v1'], true],
        [['/v1/**'], true],
        [['/v1/x', '/b'], true],
        [['/v1x'], false],
        [['/b/c'], false],
        [null, false],
    ];
    for (const [globs, want] of pathTable)
        t.equal(paths.covers(new PathMatcher(globs)), want, `${paths.explain()} covers ${JSON.stringify(globs)}`);
    t.ok(new PathMatcher(null).covers(paths), 'any path covers every glob');
    t.notOk(new PathMatcher(['/v1/admin/**'], { broad: true }).covers(new PathMatcher(['/V1/ADMIN'])), "a deny rule's broad matching is not counted");
    const ports = new PortMatcher([80, 443]);
    t.same([ports.matches(80), ports.matches(8080), new PortMatcher(null).matches(1)], [true, false, true]);
    t.same([ports.covers(new PortMatcher([80])), ports.covers(new PortMatcher(null)), new PortMatcher(null).covers(ports)], [true, false, true]);
    t.same([ports.explain(), new PortMatcher(null).explain()], ['port 80|443', 'any port']);
    const methods = new MethodMatcher(['get', 'Post']);
    t.same([methods.matches('GET'), methods.matches('POST'), methods.matches('get')], [true, true, false], 'names are upper-cased at load; requests carry upper case');
    t.same([methods.covers(new MethodMatcher(['GET'])), methods.covers(new MethodMatcher(null)), new MethodMatcher(null).covers(methods)], [true, false, true]);
    t.equal(methods.explain(), 'method GET|POST');
    const identified = new WorkloadMatcher(['*']);
    const anonymous = new WorkloadMatcher(['anonymous']);
    t.same([identified.matches('a'), identified.matches(null)], [true, false], '* is any identified workload');
    t.same([anonymous.matches(null), anonymous.matches('x')], [true, false], 'anonymous must be named');
    t.same([identified.covers(new WorkloadMatcher(['x'])), identified.covers(anonymous), new WorkloadMatcher(['*', 'anonymous']).covers(new WorkloadMatcher(['anonymous', 'x']))], [true, false, true]);
    t.equal(new WorkloadMatcher(['a', 'b']).explain(), 'workloads a|b');
    // Deny rules (broad): a GET denies HEAD too, which servers answer with the GET handler; `*` (the
    // default) covers callers without a run token too. Both found by a red-team run.
    const denyGet = new MethodMatcher(['GET'], { broad: true });
    t.same([denyGet.matches('GET'), denyGet.matches('HEAD'), denyGet.matches('POST'), methods.matches('HEAD')], [true, true, false, false], 'a deny on GET covers HEAD; an allow on GET does not');
    t.ok(new MethodMatcher(['GET']).covers(denyGet), 'compared as written: an allow on GET still shadows a deny on GET');
    const denyAll = new WorkloadMatcher(['*'], { broad: true });
    t.same([denyAll.matches(null), denyAll.matches('a'), new WorkloadMatcher(['a'], { broad: true }).matches(null)], [true, true, false], 'a deny for * covers token-less callers; one naming workloads does not');
    t.ok(identified.covers(denyAll), 'compared as written: an allow for * still shadows a deny for *');
});
//# sourceMappingURL=path-match.test.js.map