import t from 'tap';
import { compileCel } from '../../src/policy/cel.js';
// CEL's matches() runs on RE2 (policy/cel-regex.ts), not JavaScript's backtracking RegExp: a
// pattern that backtracks exponentially in JavaScript ends here in time linear in the input, a
// pattern RE2 does not accept is refused when the policy loads, and matching keeps CEL's meaning.
// Each hostile case below held a backtracking engine for minutes or more, so a regression shows
// as a test that does not finish (tap's timeout), not as a slow one.
const compiled = (source) => {
    const p = compileCel(source, 'test');
    if (typeof p === 'string')
        throw new Error(p);
    return p;
};
const input = (path, headers = {}, body = undefined) => ({
    request: { method: 'POST', host: 'h', port: 443, path, query: {}, headers },
    workload: 'w',
    body,
});
t.test('patterns that backtrack exponentially in JavaScript end, with the right answer', async (t) => {
    const hostile = [
        ['(a+)+$', `/${'a'.repeat(5000)}!`],
        ['^(.*a){20}$', `/${'a'.repeat(5000)}!`],
        ['^(x|x)*y', `/${'x'.repeat(5000)}`],
        ['^(\\w+\\s?)*$', `/${'word '.repeat(2000)}!`],
    ];
    for (const [pattern, path] of hostile) {
        const result = compiled(`request.path.matches(${JSON.stringify(pattern)})`).evaluate(input(path));
        t.same(result, { ok: true, value: false }, `${pattern} over ${path.length} characters`);
    }
    const body = { note: `${'a'.repeat(20000)}!` };
    t.same(compiled('body.note.matches("^(a|aa)+$")').evaluate(input('/', {}, body)), { ok: true, value: false }, 'over a body field');
    t.same(compiled('matches(body.note, "(a+)+!$")').evaluate(input('/', {}, body)), { ok: true, value: true }, 'the function form, matching');
});
t.test('matches keeps CEL meaning: a partial match, RE2 syntax and flags', async (t) => {
    const table = [
        ['request.path.matches("^/v1/")', '/v1/chat', true],
        ['request.path.matches("chat")', '/v1/chat/x', true],
        ['request.path.matches("^chat$")', '/v1/chat', false],
        ['request.path.matches("(?i)^/V1/CHAT$")', '/v1/chat', true],
        ['request.path.matches("^/v1/\\\\d+$")', '/v1/42', true],
        ['request.path.matches("^/v1/\\\\d+$")', '/v1/4x', false],
        ['matches(request.path, "^/v[12]/")', '/v2/x', true],
        ['request.path.matches("^/caf\\\\x{e9}$")', '/café', true],
        ['"matches" == "matches" && request.path.matches("x")', '/y', false],
    ];
    for (const [source, path, value] of table)
        t.same(compiled(source).evaluate(input(path)), { ok: true, value }, `${source} on ${path}`);
});
t.test('a pattern RE2 does not accept is a policy error naming it', async (t) => {
    for (const pattern of ['(?=a)b', '(a)\\1', '(?<!x)y', 'a{2,1}', '(']) {
        const p = compileCel(`request.path.matches(${JSON.stringify(pattern)})`, 'test');
        t.type(p, 'string', pattern);
        t.match(p, /matches\(\)|not valid CEL/, `${pattern}: says why`);
        t.notMatch(String(p), /sidekeyLinearMatches/, 'names the function as the author wrote it');
    }
    t.match(compileCel('request.path.matches("(?=a)")', 'test'), /not an RE2 pattern/);
});
t.test('a pattern computed from the request is matched in linear time too, and a bad one is an error, not a crash', async (t) => {
    const p = compiled('request.path.matches(request.headers["x-pattern"])');
    t.same(p.evaluate(input(`/${'a'.repeat(5000)}!`, { 'x-pattern': '(a+)+$' })), { ok: true, value: false }, 'hostile pattern from a header');
    const bad = p.evaluate(input('/x', { 'x-pattern': '(?=x)' }));
    t.equal(bad.ok, false, 'an invalid pattern is undecidable (the route refuses)');
    for (let i = 0; i < 400; i++)
        p.evaluate(input('/x', { 'x-pattern': `x${i}` }));
    t.same(p.evaluate(input('/x1', { 'x-pattern': 'x1$' })), { ok: true, value: true }, 'still right after many patterns (the compiled-pattern cache is bounded)');
});
t.test('type errors name matches as written', async (t) => {
    const p = compileCel('(1).matches("1")', 'test');
    t.type(p, 'string');
    t.notMatch(String(p), /sidekeyLinearMatches/);
});
//# sourceMappingURL=cel-regex.test.js.map