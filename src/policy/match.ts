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

  constructor(methods: readonly string[] | null) {
    this.#methods = methods === null ? null : new Set(methods.map((m) => m.toUpperCase()))
  }

  matches(method: string): boolean {
    return this.#methods === null || this.#methods.has(method)
  }

  explain(): string {
    return this.#methods === null ? 'any method' : `method ${[...this.#methods].join('|')}`
  }

  covers(other: MethodMatcher): boolean {
    return this.#methods === null || (other.#methods !== null && [...other.#methods].every((m) => this.#methods!.has(m)))
  }
}

/**
 * Path globs: `*` is any run of characters within one segment, `**` any run including `/`.
 * Matched against the path without its query string.
 */
export class PathMatcher implements Matcher<string> {
  readonly #globs: readonly string[] | null
  readonly #regexps: readonly RegExp[]

  constructor(globs: readonly string[] | null) {
    this.#globs = globs
    this.#regexps = (globs ?? []).map(globToRegExp)
  }

  matches(path: string): boolean {
    return this.#globs === null || this.#regexps.some((r) => r.test(path))
  }

  explain(): string {
    return this.#globs === null ? 'any path' : `path ${this.#globs.join('|')}`
  }

  /**
   * Conservative: true only when each of `other`'s globs is one of these, or lies under one of
   * these that ends in `/**`. It may miss a cover; it never claims a false one.
   */
  covers(other: PathMatcher): boolean {
    if (this.#globs === null) return true
    if (other.#globs === null) return false
    return other.#globs.every((g) => this.#globs!.some((mine) => mine === g || (mine.endsWith('/**') && g.startsWith(mine.slice(0, -2)))))
  }
}

function globToRegExp(glob: string): RegExp {
  let out = '^'
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === '*') {
      if (glob[i + 1] === '*') {
        out += '.*'
        i++
      } else {
        out += '[^/]*'
      }
    } else {
      out += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
    }
  }
  return new RegExp(out + '$')
}

/** Which workloads may use a route. `*` is any identified workload; `anonymous` must be named. */
export class WorkloadMatcher implements Matcher<string | null> {
  readonly #names: ReadonlySet<string>

  constructor(names: readonly string[]) {
    this.#names = new Set(names)
  }

  /** `workload` is null for a caller that presented no run token. */
  matches(workload: string | null): boolean {
    if (workload === null) return this.#names.has('anonymous')
    return this.#names.has('*') || this.#names.has(workload)
  }

  /** True when the route accepts callers without a run token. */
  get allowsAnonymous(): boolean {
    return this.#names.has('anonymous')
  }

  explain(): string {
    return `workloads ${[...this.#names].join('|')}`
  }

  covers(other: WorkloadMatcher): boolean {
    for (const name of other.#names) {
      if (name === 'anonymous' ? !this.#names.has('anonymous') : !(this.#names.has('*') || this.#names.has(name))) return false
    }
    return true
  }
}
