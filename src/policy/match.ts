import { pathGlob, type GlobTest } from './glob.js'
import { normalizeHost } from './host.js'

/**
 * Compiled matchers: built once when policy loads, so the request path only compares.
 * Each has `matches()` for the decision and `explain()` for `sidekey explain` (after mockttp's
 * rule matchers).
 */
export interface Matcher<T> {
  matches(value: T): boolean
  explain(): string
}

/** Exact host or `*.example.com` (any depth of subdomain, never the apex itself). */
export class HostMatcher implements Matcher<string> {
  readonly pattern: string
  readonly wildcard: boolean
  readonly #suffix: string

  constructor(pattern: string) {
    const wildcard = pattern.startsWith('*.')
    const host = normalizeHost(wildcard ? pattern.slice(2) : pattern)
    if (host === null) throw new TypeError(`not a host name: ${pattern}`)
    this.wildcard = wildcard
    this.pattern = wildcard ? `*.${host}` : host
    this.#suffix = `.${host}`
  }

  /** `host` must already be normalised (see normalizeHost). */
  matches(host: string): boolean {
    return this.wildcard ? host.endsWith(this.#suffix) : host === this.pattern
  }

  explain(): string {
    return `host ${this.pattern}`
  }

  /** True when every host `other` matches, this matches too. */
  covers(other: HostMatcher): boolean {
    if (!this.wildcard) return !other.wildcard && other.pattern === this.pattern
    return other.wildcard ? `.${other.pattern.slice(2)}`.endsWith(this.#suffix) : other.pattern.endsWith(this.#suffix)
  }
}

/** A set of ports, or any port. */
export class PortMatcher implements Matcher<number> {
  readonly #ports: ReadonlySet<number> | null

  constructor(ports: readonly number[] | null) {
    this.#ports = ports === null ? null : new Set(ports)
  }

  matches(port: number): boolean {
    return this.#ports === null || this.#ports.has(port)
  }

  explain(): string {
    return this.#ports === null ? 'any port' : `port ${[...this.#ports].join('|')}`
  }

  covers(other: PortMatcher): boolean {
    return this.#ports === null || (other.#ports !== null && [...other.#ports].every((p) => this.#ports!.has(p)))
  }
}

/** A set of methods (upper case), or any method. */
export class MethodMatcher implements Matcher<string> {
  readonly #methods: ReadonlySet<string> | null
  /** As written, for `covers` (a deny's HEAD is not counted, as its broader paths are not). */
  readonly #written: ReadonlySet<string> | null

  /**
   * `broad` (deny rules): a `GET` also denies `HEAD`, which servers answer by running the GET
   * handler (RFC 9110 section 9.3.2; Express, Flask, Rails, Spring, Go's `GET /x` patterns), side
   * effects included (found by a red-team run). An allow rule's `GET` stays `GET` alone.
   */
  constructor(methods: readonly string[] | null, options: { broad?: boolean; updates?: boolean } = {}) {
    this.#written = methods === null ? null : new Set(methods.map((m) => m.toUpperCase()))
    const read = this.#written === null ? null : new Set(this.#written)
    if (options.broad === true && read?.has('GET') === true) read.add('HEAD')
    // `updates` (a guarded route's variants, policy/decide.ts): PUT and PATCH each also read as the
    // other, since Rails' `resources` routes both to one `update` action (found by a red-team run:
    // a PUT ran the action a guarded PATCH route limits).
    if (options.updates === true && (read?.has('PUT') === true || read?.has('PATCH') === true)) read!.add('PUT').add('PATCH')
    this.#methods = read
  }

  matches(method: string): boolean {
    return this.#methods === null || this.#methods.has(method)
  }

  explain(): string {
    return this.#methods === null ? 'any method' : `method ${[...this.#methods].join('|')}`
  }

  covers(other: MethodMatcher): boolean {
    return this.#written === null || (other.#written !== null && [...other.#written].every((m) => this.#written!.has(m)))
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
export class PathMatcher implements Matcher<string> {
  readonly #globs: readonly string[] | null
  readonly #tests: readonly GlobTest[]

  /** `broad`: match in any letter case and with or without a trailing slash (deny rules). */
  constructor(globs: readonly string[] | null, options: { broad?: boolean } = {}) {
    this.#globs = globs
    // Matched in time linear in the path, whatever the glob (policy/glob.ts): the path is the agent's.
    this.#tests = (globs ?? []).map((g) => pathGlob(g, options.broad ?? false))
  }

  matches(path: string): boolean {
    return this.#globs === null || this.#tests.some((test) => test(path))
  }

  explain(): string {
    return this.#globs === null ? 'any path' : `path ${this.#globs.join('|')}`
  }

  /**
   * Conservative: true only when each of `other`'s globs is one of these, or lies under one of
   * these that ends in `/**`. Globs are compared as written: a deny rule's broader matching (letter
   * case, trailing slash) is not counted, so a deny after an allow that covers its globs is still
   * reported: it would only ever catch those variants, which is not what its author meant.
   */
  covers(other: PathMatcher): boolean {
    if (this.#globs === null) return true
    if (other.#globs === null) return false
    return other.#globs.every((g) => this.#globs!.some((mine) => mine === g || (mine.endsWith('/**') && (g.startsWith(mine.slice(0, -2)) || g === mine.slice(0, -3)))))
  }
}

/**
 * Which workloads a route applies to. `*` is any identified workload; `anonymous` (a caller with no
 * run token) must be named, except by a deny rule (`broad`): its `*`, the default, covers callers
 * without a token too, so leaving `workloads` out of a deny never exempts them (found by a
 * red-team run: a deny without `workloads` refused the agent and let a token-less caller through).
 */
export class WorkloadMatcher implements Matcher<string | null> {
  readonly #names: ReadonlySet<string>
  readonly #anonymous: boolean

  constructor(names: readonly string[], options: { broad?: boolean } = {}) {
    this.#names = new Set(names)
    this.#anonymous = this.#names.has('anonymous') || (options.broad === true && this.#names.has('*'))
  }

  /** `workload` is null for a caller that presented no run token. */
  matches(workload: string | null): boolean {
    if (workload === null) return this.#anonymous
    return this.#names.has('*') || this.#names.has(workload)
  }

  explain(): string {
    return `workloads ${[...this.#names].join('|')}`
  }

  /**
   * Compared as written, as paths are: a deny rule's reach to callers without a token is not
   * counted, so a deny after an allow for every identified workload is still reported (it would
   * only ever catch token-less callers, which is not what its author meant).
   */
  covers(other: WorkloadMatcher): boolean {
    for (const name of other.#names) {
      if (name === 'anonymous' ? !this.#names.has('anonymous') : !(this.#names.has('*') || this.#names.has(name))) return false
    }
    return true
  }
}
