/**
 * Multi-needle search in one pass (Aho-Corasick, CACM 18(6), 1975), ignoring ASCII letter case.
 * Built once per set of needles (when sidekey learns a secret); a search costs about the same
 * whatever the number of needles, where searching for each needle in turn grows with every form of
 * every secret. The state after a search is carried to the next chunk of a stream, so a needle
 * split across chunks is found without searching any byte twice, and the state's depth says
 * exactly how many trailing bytes could still become a needle (what a stream must hold back).
 *
 * States are numbered breadth first, so shallow states come first. Those (all of them for any
 * usual number of secrets) get a full transition row over byte classes (bytes that occur in no
 * needle share class 0), one table lookup per byte; past a memory budget, deeper states keep only
 * their children and failure link, which ordinary traffic rarely reaches.
 */
/** The start state, and the state after any byte that begins no needle. */
export const ROOT = 0;
/** Transition table entries at most (4 bytes each): 16 MiB. */
const DENSE_BUDGET = 4 * 1024 * 1024;
/** Byte -> the byte compared: ASCII upper case folded to lower case. */
const FOLD = new Uint8Array(256).map((_, b) => (b >= 0x41 && b <= 0x5a ? b + 0x20 : b));
export class NeedleAutomaton {
    /** Byte (as received) -> class (folded, then numbered; 0 for bytes in no needle). */
    #classOf = new Uint8Array(256);
    /** Byte (as received) -> the state after it from the root: one lookup for most bytes. */
    #fromRoot = new Int32Array(256);
    #classes;
    /** States below this have a row in `#table`. */
    #dense;
    /** Row-major: `#table[state * classes + class]` is the next state. */
    #table;
    // Deeper states: children as a list (class label, next sibling), and failure links.
    #label;
    #firstChild;
    #nextSibling;
    #fail;
    #depth;
    /** Length of the longest needle that ends at this state, or 0. */
    #match;
    /**
     * Where what was read ends in a long prefix of a needle (partialMatchAlarm), that prefix's
     * length (the longest such), else 0. `detect` stops there as at a whole needle: outbound
     * detection refuses most of a secret, not only all of it. A request holding two thirds of a key
     * is no accident, and it bounds what an agent can learn from any oracle that answers for a
     * prefix (found by a red-team run: the bytes a scanner held back, chunk by chunk, told it which
     * prefix of the key was right, and it read the whole key in 35 requests). `collect` reports it
     * as a match, so it is masked as one.
     */
    #alarm;
    /**
     * Where `#alarm` is set, the length of the needle whose prefix it is (the shortest through that
     * state): `collect` masks that far whatever the bytes after the prefix turn out to be, so a mask
     * that goes on only while the secret does cannot tell an agent whether its next character was right.
     */
    #alarmNeedle;
    /** Length of the longest needle. */
    longest;
    /** Number of distinct needles (after case folding). */
    count;
    constructor(needles) {
        // Byte classes: one per distinct folded byte that occurs in a needle.
        let classes = 1;
        const foldedClass = new Uint8Array(256);
        for (const needle of needles) {
            for (const byte of needle) {
                const f = FOLD[byte];
                if (foldedClass[f] === 0)
                    foldedClass[f] = classes++;
            }
        }
        for (let b = 0; b < 256; b++)
            this.#classOf[b] = foldedClass[FOLD[b]];
        this.#classes = classes;
        // The trie, in insertion order (children as lists).
        const total = needles.reduce((n, x) => n + x.length, 0) + 1;
        const label = new Uint8Array(total);
        const firstChild = new Int32Array(total).fill(-1);
        const nextSibling = new Int32Array(total).fill(-1);
        const depth = new Int32Array(total);
        const ends = new Int32Array(total);
        /** The shortest needle through each node. */
        const shortest = new Int32Array(total).fill(0x7fffffff);
        const child = (s, c) => {
            for (let t = firstChild[s]; t >= 0; t = nextSibling[t])
                if (label[t] === c)
                    return t;
            return -1;
        };
        let nodes = 1;
        let longest = 0;
        let count = 0;
        for (const needle of needles) {
            if (needle.length === 0)
                continue;
            let s = ROOT;
            for (const byte of needle) {
                const c = this.#classOf[byte];
                let t = child(s, c);
                if (t < 0) {
                    t = nodes++;
                    label[t] = c;
                    depth[t] = depth[s] + 1;
                    nextSibling[t] = firstChild[s];
                    firstChild[s] = t;
                }
                s = t;
                shortest[s] = Math.min(shortest[s], needle.length);
            }
            if (ends[s] === 0)
                count++;
            ends[s] = needle.length;
            longest = Math.max(longest, needle.length);
        }
        this.longest = longest;
        this.count = count;
        // Breadth-first order, renumbered so that shallow states come first.
        const order = new Int32Array(nodes);
        const id = new Int32Array(nodes);
        let tail = 1;
        for (let head = 0; head < tail; head++) {
            const s = order[head];
            id[s] = head;
            for (let t = firstChild[s]; t >= 0; t = nextSibling[t])
                order[tail++] = t;
        }
        this.#label = new Uint8Array(nodes);
        this.#firstChild = new Int32Array(nodes).fill(-1);
        this.#nextSibling = new Int32Array(nodes).fill(-1);
        this.#fail = new Int32Array(nodes);
        this.#depth = new Int32Array(nodes);
        this.#match = new Int32Array(nodes);
        this.#alarm = new Int32Array(nodes);
        this.#alarmNeedle = new Int32Array(nodes);
        for (let n = 0; n < nodes; n++) {
            const s = order[n];
            this.#label[n] = label[s];
            this.#depth[n] = depth[s];
            this.#match[n] = ends[s];
            if (s !== ROOT && depth[s] >= partialMatchAlarm(shortest[s])) {
                this.#alarm[n] = depth[s];
                this.#alarmNeedle[n] = shortest[s];
            }
            if (firstChild[s] >= 0)
                this.#firstChild[n] = id[firstChild[s]];
            if (nextSibling[s] >= 0)
                this.#nextSibling[n] = id[nextSibling[s]];
        }
        this.#dense = Math.max(1, Math.min(nodes, Math.floor(DENSE_BUDGET / classes)));
        this.#table = new Int32Array(this.#dense * classes);
        // Failure links and rows, breadth first: a state's failure target is shallower, so done first.
        for (let s = 0; s < nodes; s++) {
            for (let t = this.#firstChild[s]; t >= 0; t = this.#nextSibling[t]) {
                this.#fail[t] = s === ROOT ? ROOT : this.#step(this.#fail[s], this.#label[t]);
                if (this.#match[t] === 0)
                    this.#match[t] = this.#match[this.#fail[t]];
                if (this.#alarm[t] === 0) {
                    this.#alarm[t] = this.#alarm[this.#fail[t]];
                    this.#alarmNeedle[t] = this.#alarmNeedle[this.#fail[t]];
                }
            }
            if (s < this.#dense) {
                // A state goes where its failure target goes, except along its own children.
                const row = s * classes;
                if (s !== ROOT)
                    this.#table.copyWithin(row, this.#fail[s] * classes, this.#fail[s] * classes + classes);
                for (let t = this.#firstChild[s]; t >= 0; t = this.#nextSibling[t])
                    this.#table[row + this.#label[t]] = t;
            }
        }
        for (let b = 0; b < 256; b++)
            this.#fromRoot[b] = this.#table[this.#classOf[b]];
    }
    /** How many trailing bytes of what was searched could be the start of a needle. */
    depth(state) {
        return this.#depth[state];
    }
    /**
     * Search `bytes[from, to)` from `state`. Returns the state after the last byte, or -1 as soon as
     * a needle ends, or its first `partialMatchAlarm` bytes do (detection needs nothing more).
     */
    detect(bytes, from, to, state) {
        const classOf = this.#classOf;
        const fromRoot = this.#fromRoot;
        const table = this.#table;
        const match = this.#match;
        const alarm = this.#alarm;
        const k = this.#classes;
        const dense = this.#dense;
        let s = state;
        for (let i = from; i < to; i++) {
            if (s === ROOT) {
                // The common case: bytes that begin no needle, skipped without leaving this loop.
                while (i < to && fromRoot[bytes[i]] === ROOT)
                    i++;
                if (i === to)
                    break;
                s = fromRoot[bytes[i]];
            }
            else {
                const c = classOf[bytes[i]];
                s = s < dense ? table[s * k + c] : this.#step(s, c);
            }
            if (match[s] !== 0 || alarm[s] !== 0)
                return -1;
        }
        return s;
    }
    /**
     * Search `bytes[from, to)` from `state`, pushing `[start, end)` of every match onto `found`
     * (offsets in `bytes`; `start` is negative when the match began in an earlier chunk). Of needles
     * ending at the same byte only the longest is reported: it covers the others.
     *
     * Most of a needle counts as the needle: from its first `partialMatchAlarm` bytes on, the range
     * reported is the whole needle's length from where it began, whatever follows (`end` may lie
     * past `to`: the caller masks that many bytes of what comes next). So what masks with these
     * ranges masks two thirds of a secret as soon as they have gone by, with nothing held back, and
     * the mask's extent does not tell whether the bytes after them went on to spell the secret.
     * Returns the state.
     */
    collect(bytes, from, to, state, found) {
        const classOf = this.#classOf;
        const fromRoot = this.#fromRoot;
        const table = this.#table;
        const match = this.#match;
        const alarm = this.#alarm;
        const alarmNeedle = this.#alarmNeedle;
        const k = this.#classes;
        const dense = this.#dense;
        let s = state;
        for (let i = from; i < to; i++) {
            if (s === ROOT) {
                while (i < to && fromRoot[bytes[i]] === ROOT)
                    i++;
                if (i === to)
                    break;
                s = fromRoot[bytes[i]];
            }
            else {
                const c = classOf[bytes[i]];
                s = s < dense ? table[s * k + c] : this.#step(s, c);
            }
            const m = match[s];
            const a = alarm[s];
            if (m === 0 && a === 0)
                continue;
            let start = i + 1 - m;
            let end = i + 1;
            if (a !== 0 && i + 1 - a <= start) {
                start = i + 1 - a;
                end = Math.max(end, start + alarmNeedle[s]);
            }
            // A needle read on byte by byte reports the same range again: kept as one.
            const n = found.length;
            if (n > 0 && found[n - 2] === start)
                found[n - 1] = Math.max(found[n - 1], end);
            else
                found.push(start, end);
        }
        return s;
    }
    /** True when what was read ends in most of a needle (partialMatchAlarm): it is masked as one. */
    alarmed(state) {
        return this.#alarm[state] !== 0;
    }
    /** The transition from `state` on class `c`, through the table or children and failure links. */
    #step(state, c) {
        let s = state;
        for (;;) {
            if (s < this.#dense)
                return this.#table[s * this.#classes + c];
            const t = this.#childOf(s, c);
            if (t >= 0)
                return t;
            s = this.#fail[s];
        }
    }
    #childOf(s, c) {
        for (let t = this.#firstChild[s]; t >= 0; t = this.#nextSibling[t])
            if (this.#label[t] === c)
                return t;
        return -1;
    }
}
/**
 * How many leading bytes of a needle `length` long `detect` treats as the needle: two thirds of it,
 * and at least 8 (or all of a shorter one). A hold-back oracle can then teach an agent at most a
 * third less one of a secret's characters, in any form; legitimate text does not hold two thirds
 * of a managed secret.
 */
export function partialMatchAlarm(length) {
    return Math.max(Math.ceil((2 * length) / 3), Math.min(length, 8));
}
//# sourceMappingURL=needle-automaton.js.map