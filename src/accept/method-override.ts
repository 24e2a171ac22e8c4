import type { ChunkFilter } from '../http/chunk-filter.js'
import { SidekeyError } from '../errors.js'
import { rawHeadersHaveBody } from '../http/message.js'
import { cgiHeaderName } from '../http/header-name.js'

/**
 * Method overrides: a request sent as POST that the upstream runs as another method because a
 * header, a query parameter or a body field names one. Policy decides on methods, so an override
 * it did not see would walk past "deny DELETE" (docs/security.md). Where servers read them:
 *
 * - headers `X-HTTP-Method-Override` (Rack, Symfony/Laravel, Express method-override, ASP.NET Core,
 *   Jersey, Google APIs), `X-HTTP-Method` (OData, Microsoft), `X-Method-Override`;
 * - `_method` in the query (Laravel/Symfony, Jersey) or in a form body (Rails/Rack, Laravel, Spring's
 *   HiddenHttpMethodFilter, Slim's `_METHOD`), urlencoded or multipart; Rack reads a POST body
 *   without Content-Type as a form;
 * - `_method` in a JSON body (Laravel reads JSON input as the request's parameters).
 *
 * Header and query overrides are found before the decision, so policy can decide on them (a route
 * accepts them with `method_override: true`). A body is not read before the decision (that would
 * mean holding every body), so a `_method` body field is refused on every route, by a filter on the
 * body's way up: the chunk that completes the field is never sent, so the upstream never receives
 * a whole request carrying it.
 */

/** A method named by an override, and where it was found. */
export interface MethodOverride {
  /** Upper case, as servers apply it. */
  readonly method: string
  /** Where it was found, for the refusal message and the audit line. */
  readonly via: string
}

const OVERRIDE_HEADERS: ReadonlySet<string> = new Set(['x-http-method-override', 'x-http-method', 'x-method-override'])

/**
 * A query or form field name servers read as a method override: `_method` in any letter case (Slim
 * reads `_METHOD`), with PHP's renaming of a leading `.`, space or `[` to `_`, PHP's array form
 * `_method[]`, and PHP's cut at a NUL (`_method%00x` is `_method` to `$_GET` and `$_POST`; found by
 * a red-team run); and the override headers' names as fields, which ASP.NET MVC 5 and Web API read
 * from a form field or a query parameter after the header (found by a red-team run).
 */
function isOverrideField(name: string): boolean {
  const n = name.split('\0', 1)[0]!.replace(/^ +/, '').toLowerCase()
  return /^(?:[_. []method|x[-_]http[-_]method(?:[-_]override)?|x[-_]method[-_]override)(?:\[|$)/.test(n)
}

/**
 * The override a request carries in its headers or query, or null. Refuses (400) an override that
 * is not one method name, and two that name different methods: which one the upstream applies is
 * not knowable.
 */
export function methodOverride(rawHeaders: readonly string[], path: string): MethodOverride | null {
  const found: { value: string; via: string }[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (OVERRIDE_HEADERS.has(cgiHeaderName(rawHeaders[i]!))) found.push({ value: rawHeaders[i + 1]!, via: `header ${rawHeaders[i]}` })
  }
  const q = path.indexOf('?')
  // Cheap test first: a field read as _method has "method" in it, or an escape.
  if (q >= 0 && /method|%/i.test(path.slice(q))) {
    // `;` separates parameters too for Rack before 3 and Python before 3.9.2.
    for (const [name, value] of new URLSearchParams(path.slice(q + 1).replaceAll(';', '&'))) {
      if (isOverrideField(name)) found.push({ value, via: `query parameter ${JSON.stringify(name)}` })
    }
  }
  if (found.length === 0) return null
  const methods = new Set(found.map((f) => f.value.trim().toUpperCase()))
  const via = found.map((f) => f.via).join(' and ')
  if (methods.size > 1) {
    throw new SidekeyError('SIDEKEY_ERR_METHOD_OVERRIDE', `the method overrides in ${via} name different methods (${[...methods].map((m) => JSON.stringify(m.slice(0, 20))).join(', ')}), and servers disagree on which applies: send one method as the request method, without overrides`)
  }
  const [method] = methods as Set<string>
  if (!/^[A-Z]{1,20}$/.test(method!)) {
    throw new SidekeyError('SIDEKEY_ERR_METHOD_OVERRIDE', `the method override in ${via} is not a method name: send the method itself as the request method`)
  }
  return { method: method!, via }
}

/** How a `_method` field looks in one body format, as a pattern over the body's bytes (latin1). */
interface FieldPattern {
  readonly source: string
  /** The longest match: at most that many trailing bytes are held back until the next chunk. */
  readonly longest: number
  /**
   * Bytes a match can begin with: only from the last of them in a chunk's tail is anything held
   * back, so a body that cannot be starting a field streams on without waiting (a request stream
   * whose client waits for an answer must not stall on bytes held for nothing).
   */
  readonly begins: string
  /** Read as if before the first byte (so a field at the very start has a separator before it). */
  readonly start: string
  /** Bytes a field can begin with at the very start of the body (where `start` stands before it). */
  readonly beginsAtStart: string
}

/** Each letter of `word`, raw or percent-encoded in either case; a `-` also as `_`. */
function encodedWord(word: string): string {
  return [...word].map((c) => (c === '-' ? '(?:-|_|%2d|%5f)' : `(?:${c}|%${c.charCodeAt(0).toString(16)}|%${c.toUpperCase().charCodeAt(0).toString(16)})`)).join('')
}

/** Each letter of "method", raw or percent-encoded in either case. */
const FORM_METHOD = encodedWord('method')

/** The override headers' names as field names (ASP.NET reads them from a form), encoded as above. */
const HEADER_NAMED_FIELDS = `(?:${['x-http-method-override', 'x-http-method', 'x-method-override'].map(encodedWord).join('|')})`

/**
 * `application/x-www-form-urlencoded`: a field name (after `&` or `;`, which Rack also splits on,
 * or spaces PHP strips) read as `_method`, ended by `=`, a separator, `[` or the end of the body.
 * Over-matching `+_method=` inside a value refuses a request nobody sends; missing one would not.
 */
const FORM: FieldPattern = {
  source: `(?:[&; +]|%20)(?:(?:[_.[ +]|%5f|%2e|%5b|%20)${FORM_METHOD}|${HEADER_NAMED_FIELDS})(?=[=&;[\0]|%5b|%00|$)`,
  longest: 80,
  start: '&',
  begins: '&; +%',
  beginsAtStart: '_.[ +%xX',
}

/** JSON: the string `"_method"`, any character possibly a `\u` escape. */
const JSON_FIELD: FieldPattern = {
  source: `"${[...'_method'].map((c) => `(?:${c}|\\\\u00${c.charCodeAt(0).toString(16)})`).join('')}"`,
  longest: 48,
  start: '',
  begins: '"',
  beginsAtStart: '',
}

/** Longest Content-Disposition line of a multipart part head sidekey reads; a longer one is refused. */
const MAX_DISPOSITION = 1024

/** multipart/form-data: a part whose Content-Disposition names the field `_method`. */
const MULTIPART: FieldPattern = {
  // `name*=UTF-8''%5Fmethod` (RFC 7578 section 4.2 points to RFC 5987's extended form) is read as
  // `_method` by parsers that decode it (Werkzeug): the charset prefix and escapes count too.
  // Quoted with `"` or with `'` (PHP reads single quotes; found by a red-team run).
  source: `content-disposition:[^\\r\\n]{0,${MAX_DISPOSITION}}?\\bname\\*?\\s*=\\s*["']?(?:[\\w!#$&+^\`{}~.-]*'[\\w-]*')?(?:(?:[_.[ ]|%5f|%2e|%5b|%20)${FORM_METHOD}|${HEADER_NAMED_FIELDS})(?=[\\s"';[]|$)`,
  longest: MAX_DISPOSITION + 64,
  start: '',
  // A part's headers start on a line of their own.
  begins: '\n',
  beginsAtStart: 'cC',
}

/**
 * multipart part heads Rack reads a name from where the pattern above does not look (found by a
 * red-team run against Rack 2.2, each run as DELETE): a `Content-ID` naming `_method` (Rack names a
 * part without a Content-Disposition name by its Content-ID), a Content-Disposition folded onto a
 * next line (Rack's pattern crosses lines), and one longer than MAX_DISPOSITION (past the bytes
 * sidekey reads). Each is refused as a `_method` field would be.
 */
const MULTIPART_UNREADABLE: FieldPattern = {
  source: `content-id:[ \\t]*[<"']?(?:(?:[_.[ ]|%5f|%2e|%5b|%20)${FORM_METHOD}|${HEADER_NAMED_FIELDS})(?=[\\s"'>;[]|$)|content-disposition:[^\\r\\n]{0,${MAX_DISPOSITION}}\\r?\\n[ \\t]|content-disposition:[^\\r\\n]{${MAX_DISPOSITION + 1}}`,
  longest: MAX_DISPOSITION + 64,
  start: '',
  begins: '\n',
  beginsAtStart: 'cC',
}

/**
 * The patterns for a request's body, by every Content-Type it declares (none, or an empty one: a
 * Rack form); none for a request without a body.
 */
function bodyPatterns(rawHeaders: readonly string[]): FieldPattern[] {
  const types: string[] = []
  if (!rawHeadersHaveBody(rawHeaders)) return []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'content-type') types.push(rawHeaders[i + 1]!.toLowerCase())
  }
  if (types.length === 0) return [FORM]
  const patterns = new Set<FieldPattern>()
  for (const t of types) {
    // An empty Content-Type is none to Rack (its media type is nil): a form.
    if (t.trim() === '') patterns.add(FORM)
    if (t.includes('x-www-form-urlencoded')) patterns.add(FORM)
    if (t.trimStart().startsWith('multipart/')) {
      patterns.add(MULTIPART)
      patterns.add(MULTIPART_UNREADABLE)
    }
    if (t.includes('/json') || t.includes('+json')) patterns.add(JSON_FIELD)
  }
  return [...patterns]
}

/** Finds a `_method` field in a body, chunk by chunk. Stateless: one per set of patterns. */
class OverrideFieldScanner {
  readonly #regexp: RegExp
  readonly #keep: number
  readonly #start: string
  readonly #begins: ReadonlySet<number>
  readonly #beginsAtStart: ReadonlySet<number>

  constructor(patterns: readonly FieldPattern[]) {
    this.#regexp = new RegExp(patterns.map((p) => p.source).join('|'), 'gi')
    this.#keep = Math.max(...patterns.map((p) => p.longest))
    this.#start = patterns.map((p) => p.start).join('')
    this.#begins = new Set(Buffer.from(patterns.map((p) => p.begins).join(''), 'latin1'))
    this.#beginsAtStart = new Set(Buffer.from(patterns.map((p) => p.beginsAtStart).join(''), 'latin1'))
  }

  static #made = new Map<string, OverrideFieldScanner>()

  /** The scanner for these patterns, compiled once per process. */
  static for(patterns: readonly FieldPattern[]): OverrideFieldScanner {
    const key = patterns.map((p) => p.source).join('|')
    let scanner = OverrideFieldScanner.#made.get(key)
    if (scanner === undefined) OverrideFieldScanner.#made.set(key, (scanner = new OverrideFieldScanner(patterns)))
    return scanner
  }

  /**
   * Where the bytes that could still grow into a field begin: the first byte a match can begin
   * with in the final `longest` bytes (the earliest, since a match holds such bytes inside it too),
   * the very start while nothing was passed on, or the window's end when nothing needs holding.
   */
  holdFrom(window: Buffer, atStart: boolean): number {
    const from = Math.max(0, window.length - this.#keep)
    for (let i = from; i < window.length; i++) if (this.#begins.has(window[i]!)) return i
    return atStart && window.length > 0 && window.length <= this.#keep && this.#beginsAtStart.has(window[0]!) ? 0 : window.length
  }

  /**
   * True when `window` holds a whole field. Before the end of the body a match that reaches the
   * window's last byte may still grow (`_methods`), so it is decided with the next chunk.
   */
  found(window: Buffer, atStart: boolean, atEnd: boolean): boolean {
    const text = (atStart ? this.#start : '') + window.toString('latin1')
    for (const m of text.matchAll(this.#regexp)) if (atEnd || m.index + m[0].length < text.length) return true
    return false
  }
}

function bodyOverrideRefusal(): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_METHOD_OVERRIDE', 'the request body has a _method field (or X-HTTP-Method-Override and the like as a field, or a multipart part head naming one in a way sidekey does not read: a Content-ID, a folded or over-long Content-Disposition), which servers (Rails, Laravel, Spring) read as the request method: sidekey decides on the method before reading bodies, so it refuses this; send the method itself (DELETE, PUT, ...) as the request method, and plain part heads')
}

/**
 * A filter for a request body on its way up that fails the body if it carries a `_method` field,
 * or null when there is no body or its Content-Type is one servers do not read fields from.
 * Bodies are read as sent: a compressed body is not decompressed.
 */
export function bodyOverrideFilter(rawHeaders: readonly string[]): ChunkFilter | null {
  const patterns = bodyPatterns(rawHeaders)
  if (patterns.length === 0) return null
  const scanner = OverrideFieldScanner.for(patterns)
  let held: Buffer = Buffer.alloc(0)
  let atStart = true
  return {
    push(chunk) {
      const window = held.length === 0 ? chunk : Buffer.concat([held, chunk])
      if (scanner.found(window, atStart, false)) throw bodyOverrideRefusal()
      const cut = scanner.holdFrom(window, atStart)
      held = window.subarray(cut)
      if (cut > 0) atStart = false
      return cut > 0 ? window.subarray(0, cut) : null
    },
    end() {
      if (scanner.found(held, atStart, true)) throw bodyOverrideRefusal()
      return held.length > 0 ? held : null
    },
  }
}

/** Refuse a body already read whole (by the guard) that carries a `_method` field. */
export function refuseBodyOverride(rawHeaders: readonly string[], body: Buffer): void {
  const patterns = bodyPatterns(rawHeaders)
  if (patterns.length > 0 && OverrideFieldScanner.for(patterns).found(body, true, true)) throw bodyOverrideRefusal()
}
