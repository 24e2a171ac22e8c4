import { pathGlob } from './glob.js';
import { normalizeHost } from './host.js';
/** Exact host or `*.example.com` (any depth of subdomain, never the apex itself). */
export class HostMatcher {
    pattern;
    wildcard;
    #suffix;
    constructor(pattern) {
        const wildcard = pattern.startsWith('*.');
        const host = normalizeHost(wildcard ? pattern.slice(2) : pattern);
        if (host === null)
            throw new TypeError(`not a host name: ${pattern}`);
        this.wildcard = wildcard;
        this.pattern = wildcard ? `*.${host}` : host;
        this.#suffix = `.${host}`;
    }
    /** `host` must already be normalised (see normalizeHost). */
    matches(host) {
        return this.wildcard ? host.endsWith(this.#suffix) : host === this.pattern;
    }
    explain() {
        return `host ${this.pattern}`;
    }
    /** True when every host `other` matches, this matches too. */
    covers(other) {
        if (!this.wildcard)
            return !other.wildcard && other.pattern === this.pattern;
        return other.wildcard ? `.${other.pattern.slice(2)}`.endsWith(this.#suffix) : other.pattern.endsWith(this.#suffix);
    }
}
/** A set of ports, or any port. */
export class PortMatcher {
    #ports;
    constructor(ports) {
        this.#ports = ports === null ? null : new Set(ports);
    }
    matches(port) {
        return this.#ports === null || this.#ports.has(port);
    }
    explain() {
        return this.#ports === null ? 'any port' : `port ${[...this.#ports].join('|')}`;
    }
    covers(other) {
        return this.#ports === null || (other.#ports !== null && [...other.#ports].every((p) => this.#ports.has(p)));
    }
}
/** A set of methods (upper case), or any method. */
export class MethodMatcher {
    #methods;
    /** As written, for `covers` (a deny's HEAD is not counted, as its broader paths are not). */
    #written;
    /**
     * `broad` (deny rules): a `GET` also denies `HEAD`, which servers answer by running the GET
     * handler (RFC 9110 section 9.3.2; Express, Flask, Rails, Spring, Go's `GET /x` patterns), side
     * effects included (found by a red-team run). An allow rule's `GET` stays `GET` alone.
     */
    constructor(methods, options = {}) {
        this.#written = methods === null ? null : new Set(methods.map((m) => m.toUpperCase()));
        this.#methods = options.broad === true && this.#written?.has('GET') === true ? new Set([...this.#written, 'HEAD']) : this.#written;
    }
    matches(method) {
        return this.#methods === null || this.#methods.has(method);
    }
    explain() {
        return this.#methods === null ? 'any method' : `method ${[...this.#methods].join('|')}`;
    }
    covers(other) {
        return this.#written === null || (other.#written !== null && [...other.#written].every((m) => this.#written.has(m)));
    }
}
/**
 * Path globs: `*` is any run of characters within one segment, `**` any run including `/`; a
 * trailing `/**` also matches the path above it (`/x/**` matches `/x`), and a `**` segment inside a
 * glob may also be no segment at all (`/a/` then `**` then `/b` matches `/a/b`). Matched against the normalised path without its query
 * (policy/path.ts); globs are in the same normal form (checked at load).
 *
 * Which side decides letter case: the upstream does, and sidekey cannot know how, so a deny rule
 * is matched broadly (any letter case, with or without a trailing slash: `/V1/Admin/` is denied by
 * `/v1/admin/**` and `/v1/admin`) while an allow rule stays exact (a path in another case falls
 * through to the next route, and at the end to default deny). A deny is then never escaped by a
 * server that routes case-insensitively or ignores a trailing slash, and an allow never admits
 * more than it names. A deny rule also covers what servers strip from the end of a segment before
 * routing: a format suffix (`/v1/admin.json` reaches Rails' and legacy Spring's `/v1/admin`), a
 * trailing dot and an encoded trailing space (IIS): `deny /v1/admin/**` refuses each of them.
 */
export class PathMatcher {
    #globs;
    #tests;
    /** `broad`: match in any letter case and with or without a trailing slash (deny rules). */
    constructor(globs, options = {}) {
        this.#globs = globs;
        // Matched in time linear in the path, whatever the glob (policy/glob.ts): the path is the agent's.
        this.#tests = (globs ?? []).map((g) => pathGlob(g, options.broad ?? false));
    }
    matches(path) {
        return this.#globs === null || this.#tests.some((test) => test(path));
    }
    explain() {
        return this.#globs === null ? 'any path' : `path ${this.#globs.join('|')}`;
    }
    /**
     * Conservative: true only when each of `other`'s globs is one of these, or lies under one of
     * these that ends in `/**`. Globs are compared as written: a deny rule's broader matching (letter
     * case, trailing slash) is not counted, so a deny after an allow that covers its globs is still
     * reported: it would only ever catch those variants, which is not what its author meant.
     */
    covers(other) {
        if (this.#globs === null)
            return true;
        if (other.#globs === null)
            return false;
        return other.#globs.every((g) => this.#globs.some((mine) => mine === g || (mine.endsWith('/**') && (g.startsWith(mine.slice(0, -2)) || g === mine.slice(0, -3)))));
    }
}
/**
 * Which workloads a route applies to. `*` is any identified workload; `anonymous` (a caller with no
 * run token) must be named, except by a deny rule (`broad`): its `*`, the default, covers callers
 * without a token too, so leaving `workloads` out of a deny never exempts them (found by a
 * red-team run: a deny without `workloads` refused the agent and let a token-less caller through).
 */
export class WorkloadMatcher {
    #names;
    #anonymous;
    constructor(names, options = {}) {
        this.#names = new Set(names);
        this.#anonymous = this.#names.has('anonymous') || (options.broad === true && this.#names.has('*'));
    }
    /** `workload` is null for a caller that presented no run token. */
    matches(workload) {
        if (workload === null)
            return this.#anonymous;
        return this.#names.has('*') || this.#names.has(workload);
    }
    explain() {
        return `workloads ${[...this.#names].join('|')}`;
    }
    /**
     * Compared as written, as paths are: a deny rule's reach to callers without a token is not
     * counted, so a deny after an allow for every identified workload is still reported (it would
     * only ever catch token-less callers, which is not what its author meant).
     */
    covers(other) {
        for (const name of other.#names) {
            if (name === 'anonymous' ? !this.#names.has('anonymous') : !(this.#names.has('*') || this.#names.has(name)))
                return false;
        }
        return true;
    }
}
//# sourceMappingURL=match.js.map