import { lazyModule } from '../lazy-module.js';
/**
 * CEL's `matches()` in linear time.
 *
 * The CEL specification defines `matches` over RE2 syntax, but @marcbachmann/cel-js runs it with
 * JavaScript's backtracking `RegExp`: a policy author's `body.note.matches("(a+)+$")` let an agent
 * hold the event loop for minutes with 40 characters, and every other agent with it (the ReDoS
 * the glob matcher closed for paths, policy/glob.ts). cel-js will not replace a built-in overload,
 * so sidekey registers this function under its own name and renames each `matches` call in a
 * parsed expression to it (policy/cel.ts). re2js is a port of RE2 (via RE2/J): matching time is
 * linear in the input, and a pattern RE2 does not accept (look-around, back-references) is a
 * policy error when the policy loads, not a surprise at request time.
 */
const re2 = lazyModule('re2js');
/** The name the `matches` calls of a policy's expressions are renamed to. */
export const LINEAR_MATCHES = 'sidekeyLinearMatches';
/** Compiled patterns kept: a policy's literals, and a few computed at request time. */
const MAX_CACHED = 256;
const compiled = new Map();
function compile(pattern) {
    let re = compiled.get(pattern);
    if (re === undefined) {
        re = re2().RE2JS.compile(pattern);
        // A pattern computed from the request (rare) must not grow the cache without bound.
        if (compiled.size >= MAX_CACHED)
            compiled.delete(compiled.keys().next().value);
        compiled.set(pattern, re);
    }
    return re;
}
/**
 * Whether `text` contains a match of the RE2 `pattern` anywhere (CEL's `matches`: a partial
 * match; anchor with `^` and `$` for a whole one).
 *
 * @throws when the pattern is not RE2 syntax (cel-js reports it as the expression's error)
 */
export function linearMatches(text, pattern) {
    return compile(pattern).matcher(text).find();
}
/** Why `pattern` is not an RE2 pattern, or null when it is one (checked when policy loads). */
export function re2PatternProblem(pattern) {
    try {
        compile(pattern);
        return null;
    }
    catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        return `matches(): ${JSON.stringify(pattern.slice(0, 80))} is not an RE2 pattern (${message.slice(0, 120)}); CEL regular expressions are RE2: no look-around, no back-references`;
    }
}
//# sourceMappingURL=cel-regex.js.map