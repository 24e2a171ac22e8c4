import type { ChunkFilter } from '../http/chunk-filter.js'
import { SidekeyError } from '../errors.js'
import { NeedleAutomaton, ROOT } from './needle-automaton.js'
import { JSON_ESCAPE_WIDTH, JsonEscapeDecoder, jsonUnescaped } from './json-unescape.js'
import { PercentDecoder, percentDecodeMapped } from './percent-decode.js'
import { secretForms } from './secret-forms.js'

/** Secrets shorter than this are not scanned for (too many false matches, too little to steal). */
const MIN_SECRET_LENGTH = 8

/** Bound on remembered secrets (tokens rotate; the oldest are forgotten first). */
const MAX_SECRETS = 1000

/** The byte that begins a percent-escape. */
const PERCENT = 0x25
const BACKSLASH = 0x5c

/** Separates the fields of one request when they are searched in one pass (no needle holds NUL). */
const FIELD_SEPARATOR = '\0'

/**
 * Outbound secret detection, a tripwire. sidekey holds the secrets; an agent that sends one (in
 * the host, the URL, a header name or value, or the body) learned it somewhere it should not have
 * and is, most likely, exfiltrating it. The scanner remembers every secret sidekey reads or
 * obtains, in every form `secretForms` lists (computed once, when the secret is learned), and
 * searches the agent's own request for all of them in one pass, before anything is injected:
 * once as sent, and once percent-decoded (so `%73k-...` and a base64 form with `%2B` are caught;
 * a stray `%` leaves the rest decodable). Letter case is ignored (a host is case-insensitive and
 * an agent may change case to get past an exact match).
 *
 * The same automaton masks echoed secrets in responses (the response guard builds on `needles`)
 * and in what sidekey writes about a request (`mask`: audit lines, security events, alerts).
 */
export class SecretScanner {
  /** Secret value -> its forms. Insertion order is age. */
  readonly #secrets = new Map<string, Buffer[]>()
  #needles: Buffer[] = []

  /** Remember a secret (idempotent). */
  add(secret: string): void {
    if (secret.length < MIN_SECRET_LENGTH) return
    if (this.#secrets.has(secret)) return
    this.#secrets.set(secret, secretForms(secret, MIN_SECRET_LENGTH))
    if (this.#secrets.size > MAX_SECRETS) this.#secrets.delete(this.#secrets.keys().next().value as string)
    // A new array: the automaton for it is built once, at its first use (automatonFor caches it).
    this.#needles = [...this.#secrets.values()].flat()
  }

  get size(): number {
    return this.#secrets.size
  }

  /** Every form of every known secret, plus `extra` forms (e.g. a credential exactly as sent). */
  needles(extra: readonly string[] = []): Buffer[] {
    // The common case (no extra form) shares the array built when a secret was added, and so the
    // automaton built for it.
    if (extra.length === 0) return this.#needles
    return [...this.#needles, ...extra.filter((e) => e.length >= MIN_SECRET_LENGTH).map((e) => Buffer.from(e))]
  }

  get #automaton(): NeedleAutomaton {
    return automatonFor(this.#needles)
  }

  /** True when `text` (a host, a URL, one header value) holds any known secret in any form. */
  foundIn(text: string): boolean {
    if (this.#needles.length === 0 || text.length < MIN_SECRET_LENGTH) return false
    return new Detector(this.#automaton).push(Buffer.from(text, 'latin1'))
  }

  /** True when a buffered body holds any known secret in any of its forms (JSON escapes decoded too). */
  foundInBuffer(body: Buffer): boolean {
    if (this.#needles.length === 0) return false
    if (new Detector(this.#automaton).push(body)) return true
    const unescaped = jsonUnescaped(body)
    return unescaped !== null && new Detector(this.#automaton).push(unescaped)
  }

  /**
   * True when the request target (with its host, for absolute-form) or any header name or value
   * holds a known secret. Proxy-Authorization is sidekey's own (the run token), never forwarded.
   */
  foundInRequest(path: string, rawHeaders: readonly string[]): boolean {
    if (this.#needles.length === 0) return false
    const fields = [path]
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (rawHeaders[i]!.length === 19 && rawHeaders[i]!.toLowerCase() === 'proxy-authorization') continue
      fields.push(rawHeaders[i]!, rawHeaders[i + 1]!)
    }
    // Node hands the request line and header bytes over as latin1 text: this gives back the bytes.
    return new Detector(this.#automaton).push(Buffer.from(fields.join(FIELD_SEPARATOR), 'latin1'))
  }

  /** True when any of `fields` holds a known secret (each searched on its own, in one pass). */
  foundInFields(fields: readonly string[]): boolean {
    if (this.#needles.length === 0) return false
    return foundInTexts(this.#automaton, fields)
  }

  /**
   * A filter for the request body that throws SIDEKEY_ERR_SECRET_DETECTED when a known
   * secret goes by. At the end of each chunk it holds back only the bytes that could still become
   * a secret (as sent or percent-decoded) with what comes next, so a secret split across chunks is
   * caught before any part of it is forwarded, and other bytes are not delayed. From the first
   * backslash on, the body is also searched with its JSON escapes decoded (`"\u0073k-..."`).
   */
  bodyFilter(): ChunkFilter {
    if (this.#needles.length === 0) return { push: (chunk) => chunk, end: () => null }
    const automaton = this.#automaton
    const detector = new Detector(automaton)
    // The JSON-escape view starts at the first backslash, over the bytes still held and that chunk:
    // a secret's escaped form cannot have begun in bytes already passed on (they held no prefix).
    let json: { decoder: JsonEscapeDecoder; detector: Detector } | null = null
    let held: Buffer | null = null
    return {
      push(chunk) {
        if (detector.push(chunk)) throw detected()
        const window = held === null ? chunk : Buffer.concat([held, chunk])
        let feed: Buffer = chunk
        if (json === null && chunk.indexOf(BACKSLASH) >= 0) {
          json = { decoder: new JsonEscapeDecoder(), detector: new Detector(automaton) }
          feed = window
        }
        if (json !== null && json.detector.push(json.decoder.push(feed))) throw detected()
        const hold = json === null ? detector.holdBack() : Math.max(detector.holdBack(), JSON_ESCAPE_WIDTH * json.detector.holdBack() + json.decoder.pending)
        const cut = window.length - Math.min(window.length, hold)
        held = cut < window.length ? Buffer.from(window.subarray(cut)) : null
        return cut > 0 ? window.subarray(0, cut) : null
      },
      end() {
        const rest = held
        held = null
        return rest
      },
    }
  }

  /**
   * `text` with every known secret masked, found as written or percent-decoded (the whole escaped
   * span is masked then). For what sidekey writes about a request: audit fields, security events.
   */
  mask(text: string): string {
    if (this.#needles.length === 0 || text.length < MIN_SECRET_LENGTH) return text
    return maskText(this.#automaton, text, VALUE_MASK)
  }
}

/**
 * Searches one stream, carrying its state from chunk to chunk, in two views at once: the bytes as
 * sent and their percent-decoding. The views differ only from a `%` on: the search state depends on
 * no more than the last `longest` bytes read, so once both views have read the same `longest`
 * bytes after an escape they are in the same state again and one search serves both. A body with
 * an escape every few hundred bytes (binary data) is searched twice only near its escapes.
 */
class Detector {
  #raw = ROOT
  #decoded = ROOT
  /** Set while the views differ (from a `%` until they converge). */
  #decoder: PercentDecoder | null = null

  constructor(private readonly automaton: NeedleAutomaton) {}

  /** Search the next chunk; true when a secret ended in it. */
  push(bytes: Uint8Array): boolean {
    const a = this.automaton
    let i = 0
    while (i < bytes.length) {
      if (this.#decoder === null) {
        // One view: search up to the next `%`, where the decoded view parts from this state.
        const percent = bytes.indexOf(PERCENT, i)
        const end = percent < 0 ? bytes.length : percent
        this.#raw = a.detect(bytes, i, end, this.#raw)
        if (this.#raw < 0) return true
        if (percent < 0) return false
        this.#decoder = new PercentDecoder()
        this.#decoded = this.#raw
        i = percent
        continue
      }
      // Two views, until `longest` bytes follow the last escape (an open one needs its digits).
      const pending = this.#decoder.pending
      let converges = i + (pending === 0 ? 0 : 3 - pending) + a.longest
      for (let p = bytes.indexOf(PERCENT, i); p >= 0 && p < converges && p < bytes.length; p = bytes.indexOf(PERCENT, p + 1)) converges = p + 3 + a.longest
      const end = Math.min(converges, bytes.length)
      this.#raw = a.detect(bytes, i, end, this.#raw)
      if (this.#raw < 0) return true
      const decoded = this.#decoder.push(bytes, i, end)
      this.#decoded = a.detect(decoded, 0, decoded.length, this.#decoded)
      if (this.#decoded < 0) return true
      if (end === converges) this.#decoder = null
      i = end
    }
    return false
  }

  /**
   * Trailing bytes that could still become a secret: the longest partial match as sent, or as
   * decoded (each decoded byte came from at most 3 bytes, plus an escape still open).
   */
  holdBack(): number {
    const raw = this.automaton.depth(this.#raw)
    if (this.#decoder === null) return raw
    return Math.max(raw, 3 * this.automaton.depth(this.#decoded) + this.#decoder.pending)
  }
}

/** Automata by needle array: the scanner's array changes only when it learns a secret. */
const automata = new WeakMap<readonly Uint8Array[], NeedleAutomaton>()

/** The automaton for `needles`, built at the first call for this array and kept with it. */
export function automatonFor(needles: readonly Uint8Array[]): NeedleAutomaton {
  let a = automata.get(needles)
  if (a === undefined) {
    a = new NeedleAutomaton(needles)
    automata.set(needles, a)
  }
  return a
}

/** Masks for header values and bodies: `[redacted]` padded with `*` (or cut) to the length it replaces. */
export const VALUE_MASK = '[redacted]'
/** Masks for header names: only token characters (RFC 9110 section 5.6.2), so the name stays valid. */
export const TOKEN_MASK = 'redacted'

/** `pattern` padded with `*` (or cut) to `length`, so Content-Length stays true. */
function maskOf(length: number, pattern: string): string {
  return pattern.padEnd(length, '*').slice(0, length)
}

/**
 * `text` with every match of `automaton` masked, as written or percent-decoded. Text that is not
 * latin1 (a JSON string may hold any character) is searched and rebuilt as UTF-8.
 */
export function maskText(automaton: NeedleAutomaton, text: string, pattern: string): string {
  const encoding = encodingOf(text)
  const bytes = Buffer.from(text, encoding)
  const found: number[] = []
  automaton.collect(bytes, 0, bytes.length, ROOT, found)
  const view = percentDecodeMapped(bytes)
  if (view !== null) {
    const inView: number[] = []
    automaton.collect(view.decoded, 0, view.decoded.length, ROOT, inView)
    for (let i = 0; i < inView.length; i += 2) found.push(view.from[inView[i]!]!, view.from[inView[i + 1]!]!)
  }
  if (found.length === 0) return text
  for (let i = 0; i < found.length; i += 2) bytes.write(maskOf(found[i + 1]! - found[i]!, pattern), found[i]!, 'latin1')
  return bytes.toString(encoding)
}

/** True when any of `texts` holds a match of `automaton` as written or percent-decoded. */
export function foundInTexts(automaton: NeedleAutomaton, texts: readonly string[]): boolean {
  if (automaton.count === 0) return false
  const joined = texts.join(FIELD_SEPARATOR)
  return new Detector(automaton).push(Buffer.from(joined, encodingOf(joined)))
}

/**
 * How text becomes the bytes to search: latin1 when every character fits (Node and undici hand
 * header bytes over as latin1 text, so this gives back the bytes as received), else UTF-8.
 */
function encodingOf(text: string): 'latin1' | 'utf8' {
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\xff]*$/.test(text) ? 'latin1' : 'utf8'
}

/**
 * A streaming scrubber: replaces every needle in the bytes passing through with a same-length
 * mask. At the end of each chunk it holds back only a tail that could be the start of a needle
 * (so a secret split across chunks is still caught) and passes everything else on at once, so
 * server-sent events are not delayed. Synchronous, so the common path needs no stream machinery.
 */
export function scrubFilter(needles: readonly Buffer[], onScrub: () => void = () => undefined): ChunkFilter {
  return scrubWith(automatonFor(needles), onScrub)
}

/** `scrubFilter` with an automaton already built. */
export function scrubWith(automaton: NeedleAutomaton, onScrub: () => void = () => undefined): ChunkFilter {
  let state = ROOT
  let held: Buffer | null = null
  const found: number[] = []
  return {
    push(chunk) {
      found.length = 0
      state = automaton.collect(chunk, 0, chunk.length, state, found)
      const offset = held === null ? 0 : held.length
      // A copy when masking, never the caller's buffer.
      let window = held === null ? chunk : Buffer.concat([held, chunk])
      if (found.length > 0) {
        if (window === chunk) window = Buffer.from(chunk)
        for (let i = 0; i < found.length; i += 2) {
          // A match reaches back at most into what was held (the automaton's depth when it was).
          const start = Math.max(0, found[i]! + offset)
          window.write(maskOf(found[i + 1]! + offset - start, VALUE_MASK), start, 'latin1')
          onScrub()
        }
      }
      const keep = Math.min(window.length, automaton.depth(state))
      const cut = window.length - keep
      held = keep > 0 ? Buffer.from(window.subarray(cut)) : null
      return cut > 0 ? window.subarray(0, cut) : null
    },
    end() {
      const rest = held
      held = null
      return rest
    },
  }
}

/** The refusal for a request that carries a managed secret. */
export function detected(): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_SECRET_DETECTED', 'the request carries a secret that sidekey manages; it was refused and reported')
}
