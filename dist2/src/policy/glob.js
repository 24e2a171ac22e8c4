/**
 * Glob matching in time linear in the input, whatever the glob.
 *
 * Globs come from policy and the strings they are matched against come from the agent (a path, an
 * MCP tool name), so matching must not backtrack. The regular expressions these globs used to
 * compile to did: a deny glob's `(?:\.[^/]*|%20)*` took time doubling with each dot of
 * `/repos/o/r......../x`, and several `**` in one glob took time polynomial in the path (a red-team
 * run froze the event loop for a minute with a 100-byte request). Here a glob is a small automaton
 * and the input is read once, carrying the set of states it could be in (Thompson's construction):
 * at most (states × input length) steps.
 */
const ANY = () => true;
const NOT_SLASH = (c) => c !== '/';
const is = (ch) => (c) => c === ch;
/** Sets of states met while matching, kept per glob up to this many (then computed each time). */
const MAX_CACHED_SETS = 4096;
/**
 * Builds the automaton one piece at a time: each piece starts where the last ended and leaves a new
 * end. Loops and alternatives enter through a state of their own, so a loop never lets a piece end
 * early where an alternative skips it.
 */
class Builder {
    #states = [{ edges: [], skip: [] }];
    #chars = new Set(['/']);
    get #end() {
        return this.#states.length - 1;
    }
    #add() {
        this.#states.push({ edges: [], skip: [] });
        return this.#end;
    }
    #enter() {
        const from = this.#end;
        const entry = this.#add();
        this.#states[from].skip.push(entry);
        return entry;
    }
    /** The characters of `text` (UTF-16 code units, as the input is read), one after another. */
    literal(text) {
        for (let i = 0; i < text.length; i++) {
            const from = this.#end;
            const to = this.#add();
            this.#chars.add(text[i]);
            this.#states[from].edges.push({ test: is(text[i]), to });
        }
    }
    /** Any run (possibly empty) of characters passing `test`. */
    run(test) {
        const loop = this.#enter();
        this.#states[loop].edges.push({ test, to: loop });
        this.#states[loop].skip.push(this.#add());
    }
    /** `piece`, or nothing. */
    optional(piece) {
        const entry = this.#enter();
        piece();
        this.#states[entry].skip.push(this.#end);
    }
    /** `piece` any number of times, none included. */
    repeated(piece) {
        const entry = this.#enter();
        piece();
        this.#states[this.#end].skip.push(entry);
        this.#states[entry].skip.push(this.#add());
    }
    /**
     * The matcher: the input read once, one character at a time, through sets of states; each set
     * met and where each kind of character leads from it are kept (a lazily built DFA), so a path
     * costs one lookup per character once the glob has seen its like.
     */
    compile() {
        const states = this.#states;
        const accept = this.#end;
        // Characters the glob names (and `/`) each have a class; every other character behaves like
        // any other (class 0, tested with a character that is none of them).
        let other = 0;
        while (this.#chars.has(String.fromCharCode(other)))
            other++;
        const classes = new Map();
        const representative = [String.fromCharCode(other)];
        for (const ch of this.#chars) {
            classes.set(ch, representative.length);
            representative.push(ch);
        }
        const cache = new Map();
        const node = (set) => {
            const key = set.join(',');
            const known = cache.get(key);
            if (known !== undefined)
                return known;
            const made = { set, accepts: set.includes(accept), next: [] };
            if (cache.size < MAX_CACHED_SETS)
                cache.set(key, made);
            return made;
        };
        const step = (from, cls) => {
            const c = representative[cls];
            const reached = [];
            for (const s of from.set)
                for (const e of states[s].edges)
                    if (e.test(c))
                        reached.push(e.to);
            const next = node(closure(states, reached));
            if (cache.has(from.set.join(',')))
                from.next[cls] = next;
            return next;
        };
        const start = node(closure(states, [0]));
        return (input) => {
            let at = start;
            for (let i = 0; i < input.length; i++) {
                const cls = classes.get(input[i]) ?? 0;
                at = at.next[cls] ?? step(at, cls);
                if (at.set.length === 0)
                    return false;
            }
            return at.accepts;
        };
    }
}
/** `from` and every state reachable from it without consuming a character, in order. */
function closure(states, from) {
    const seen = new Set();
    const stack = [...from];
    while (stack.length > 0) {
        const s = stack.pop();
        if (seen.has(s))
            continue;
        seen.add(s);
        for (const t of states[s].skip)
            stack.push(t);
    }
    return [...seen].sort((a, b) => a - b);
}
/**
 * A path glob (policy/path.ts's normal form): `*` is any run of characters within a segment, `**`
 * any run across segments, `/**` at the end the path itself or anything under it, `/**\/` in the
 * middle one `/` or any segments between two. With `broad` (deny rules): any letter case, an
 * optional trailing slash, and what servers strip from a last segment before routing after its
 * last literal character (`.json`, a trailing dot, an encoded trailing space `%20`).
 */
export function pathGlob(glob, broad) {
    const g0 = broad && glob.length > 1 && glob.endsWith('/') ? glob.slice(0, -1) : glob;
    const g = broad ? g0.toLowerCase() : g0;
    const b = new Builder();
    // What servers strip from the end of a segment: `%20` any number of times, then a dot and the rest of the segment.
    const stripped = () => {
        b.repeated(() => b.literal('%20'));
        b.optional(() => {
            b.literal('.');
            b.run(NOT_SLASH);
        });
    };
    let ended = false;
    for (let i = 0; i < g.length; i++) {
        if (g.startsWith('/**', i) && i + 3 === g.length) {
            if (broad)
                stripped();
            b.optional(() => {
                b.literal('/');
                b.run(ANY);
            });
            ended = true;
            break;
        }
        if (g.startsWith('/**/', i)) {
            b.literal('/');
            b.optional(() => {
                b.run(ANY);
                b.literal('/');
            });
            i += 3;
            continue;
        }
        if (g[i] === '*') {
            if (g[i + 1] === '*') {
                b.run(ANY);
                i++;
            }
            else
                b.run(NOT_SLASH);
        }
        else
            b.literal(g[i]);
    }
    if (broad && !ended)
        stripped();
    if (broad)
        b.optional(() => b.literal('/'));
    const test = b.compile();
    return broad ? (path) => test(path.toLowerCase()) : test;
}
/** A name glob: `*` is any run of characters, everything else literal; `ignoreCase` compares in lower case. */
export function nameGlob(glob, ignoreCase = false) {
    const b = new Builder();
    for (const part of (ignoreCase ? glob.toLowerCase() : glob).split(/(\*)/)) {
        if (part === '*')
            b.run(ANY);
        else
            b.literal(part);
    }
    const test = b.compile();
    return ignoreCase ? (name) => test(name.toLowerCase()) : test;
}
//# sourceMappingURL=glob.js.map