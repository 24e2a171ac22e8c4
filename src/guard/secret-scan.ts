import type { ChunkFilter } from '../http/chunk-filter.js'
import { SidekeyError } from '../errors.js'
import { NeedleAutomaton, ROOT } from './needle-automaton.js'
import { decodedView, EscapeDecoder, EscapeView, holdsEscape } from './escape-view.js'
import { PercentDecoder } from './percent-decode.js'
import { secretForms } from './secret-forms.js'
import { wrappedLinesFilter } from './wrapped-lines.js'

/** Secrets shorter than this are not scanned for (too many false matches, too little to steal). */
const MIN_SECRET_LENGTH = 8

/** Bound on remembered secrets obtained at request time (tokens rotate; the oldest are forgotten first). */
const MAX_SECRETS = 1000

/**
 * Secrets remembered per slot (a credential for a workload) whatever their expiry: the one in use
 * and the one before it. An older one is remembered too while it is still valid (its expiry is
 * known), up to MAX_LIVE_PER_SLOT.
 */
const PER_SLOT = 2

/**
 * Bound on a slot's still-valid secrets. A token is replaced before it expires when an upstream
 * answers 401 to it, and an agent can have an upstream do that on purpose (once per key per 10 s):
 * a slot that forgot the oldest after two let the agent read a person's still-valid token back
 * from an echoing endpoint, unmasked, and send it anywhere (found by a red-team run). So a slot
 * keeps its valid tokens, and once it holds this many, a 401 no longer replaces the token
 * (`mayReplace`): the set stays bounded and nothing valid is forgotten.
 */
export const MAX_LIVE_PER_SLOT = 16

/** The byte that begins a percent-escape. */
const PERCENT = 0x25

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
  /** Secret value -> its forms. Insertion order is age (a secret used again is moved to the end). */
  readonly #secrets = new Map<string, Buffer[]>()
  /** Secrets never forgotten: the policy's static ones. */
  readonly #pinned = new Set<string>()
  /** Slot -> its secrets, oldest first; and each secret's slot. */
  readonly #slots = new Map<string, string[]>()
  readonly #slotOf = new Map<string, string>()
  /** When an obtained secret expires (ms since the epoch), where the provider said. */
  readonly #expiresAt = new Map<string, number>()
  readonly #now: () => number

  constructor(now: () => number = Date.now) {
    this.#now = now
  }
  #needles: Buffer[] = []

  /**
   * Remember a secret. `slot` names where an obtained one comes from (a credential for a
   * workload): a slot keeps its last PER_SLOT secrets, and MAX_SECRETS bounds them all, oldest
   * first. Without a slot the secret is pinned: a static secret of the policy is never forgotten,
   * however many tokens come and go (found by a red-team run: a thousand forced token refreshes
   * pushed a static key out, and the agent could then send it anywhere unnoticed).
   */
  add(secret: string, slot: string | null = null, expiresAt?: number): void {
    if (secret.length < MIN_SECRET_LENGTH) return
    if (expiresAt !== undefined && slot !== null) this.#expiresAt.set(secret, expiresAt)
    const known = this.#secrets.get(secret)
    if (known !== undefined) {
      if (slot === null) this.#pinned.add(secret)
      // Used again: youngest now. The set, and so the automaton, is unchanged.
      this.#secrets.delete(secret)
      this.#secrets.set(secret, known)
      return
    }
    this.#secrets.set(secret, secretForms(secret, MIN_SECRET_LENGTH))
    if (slot === null) this.#pinned.add(secret)
    else {
      let held = this.#slots.get(slot)
      if (held === undefined) this.#slots.set(slot, (held = []))
      held.push(secret)
      this.#slotOf.set(secret, slot)
      this.#trim(held)
    }
    if (this.#secrets.size - this.#pinned.size > MAX_SECRETS) {
      for (const old of this.#secrets.keys()) {
        if (this.#pinned.has(old)) continue
        this.#forget(old)
        break
      }
    }
    // A new array: the automaton for it is built once, at its first use (automatonFor caches it).
    this.#needles = [...this.#secrets.values()].flat()
  }

  /**
   * Keep a slot to its last PER_SLOT secrets and, before them, those still valid (at most
   * MAX_LIVE_PER_SLOT in all); expired ones go first.
   */
  #trim(held: string[]): void {
    const now = this.#now()
    for (const old of held.slice(0, -PER_SLOT)) if (!this.#valid(old, now)) this.#forget(old)
    while (held.length > MAX_LIVE_PER_SLOT) this.#forget(held[0]!)
  }

  #valid(secret: string, now: number): boolean {
    return (this.#expiresAt.get(secret) ?? 0) > now
  }

  /**
   * Whether `slot`'s token may be replaced before it expires (a 401 dropping it) without the slot
   * forgetting a valid one: false once it holds MAX_LIVE_PER_SLOT - 1 valid secrets.
   */
  mayReplace(slot: string): boolean {
    const held = this.#slots.get(slot)
    if (held === undefined) return true
    const now = this.#now()
    let live = 0
    for (const s of held) if (this.#valid(s, now)) live++
    return live < MAX_LIVE_PER_SLOT - 1
  }

  /** Take an obtained secret out of its slot, and forget it unless it is pinned. */
  #forget(secret: string): void {
    this.#expiresAt.delete(secret)
    if (!this.#pinned.has(secret)) this.#secrets.delete(secret)
    const slot = this.#slotOf.get(secret)
    if (slot === undefined) return
    this.#slotOf.delete(secret)
    const held = this.#slots.get(slot)!
    held.splice(held.indexOf(secret), 1)
    if (held.length === 0) this.#slots.delete(slot)
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

  /** True when a buffered body holds any known secret in any of its forms: `bodyFilter`'s views, over the whole body at once. */
  foundInBuffer(body: Buffer): boolean {
    if (this.#needles.length === 0) return false
    const filter = this.bodyFilter()
    try {
      filter.push(body)
      filter.end()
      return false
    } catch (err) {
      if (err instanceof SidekeyError && err.code === 'SIDEKEY_ERR_SECRET_DETECTED') return true
      throw err
    }
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
   * A filter for the request body that throws SIDEKEY_ERR_SECRET_DETECTED when a known secret,
   * or two thirds of one (NeedleAutomaton.detect), goes by; a secret split across chunks is found
   * with the search state carried from chunk to chunk. It holds nothing back: what it forwards,
   * and when, does not depend on whether the bytes could begin a secret. Holding such a tail back
   * told an agent, through an echoing upstream, which prefix of a key was right (found by a
   * red-team run), and stalled a bidirectional stream whose message ended in a byte that begins a
   * form of a secret until the next message came. From the first chunk with an escape on, the body
   * is also searched with its escapes decoded as response scrubbing reads them (`"\u0073k-..."`,
   * `\x2d`, `&#45;`: guard/escape-view.ts, one decoder for both), and, as it does, across line
   * breaks (base64 in lines).
   */
  bodyFilter(): ChunkFilter {
    if (this.#needles.length === 0) return { push: (chunk) => chunk, end: () => null }
    const automaton = this.#automaton
    const detector = new Detector(automaton)
    // The escaped view starts at the first chunk with an escape. The bytes before it read the same
    // in both views, so it starts from where the plain view stood when that chunk came.
    let escaped: { decoder: EscapeDecoder; detector: Detector } | null = null
    // Across line breaks too, as response scrubbing reads a body (guard/wrapped-lines.ts): its
    // masks are not used, only whether it found one.
    let wrappedFound = false
    const wrapped = wrappedLinesFilter(this.#needles, () => (wrappedFound = true))
    return {
      push(chunk) {
        if (escaped === null && holdsEscape(chunk)) escaped = { decoder: new EscapeDecoder(), detector: detector.clone() }
        if (detector.push(chunk)) throw detected()
        wrapped?.push(chunk)
        if (wrappedFound) throw detected()
        if (escaped !== null && escaped.detector.push(escaped.decoder.push(chunk))) throw detected()
        return chunk
      },
      end() {
        if (escaped !== null && escaped.detector.push(escaped.decoder.end())) throw detected()
        return null
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

  /** A detector in the same state, to search a second view that so far read the same bytes. */
  clone(): Detector {
    const copy = new Detector(this.automaton)
    copy.#raw = this.#raw
    copy.#decoded = this.#decoded
    copy.#decoder = this.#decoder?.clone() ?? null
    return copy
  }

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
  // Percent, JSON, JavaScript and HTML escapes decoded (guard/escape-view.ts): a header or trailer
  // echoing `sk\u002dtest...` is masked as a body would be (found by a red-team run).
  const view = decodedView(bytes)
  if (view !== null) {
    const inView: number[] = []
    automaton.collect(view.decoded, 0, view.decoded.length, ROOT, inView)
    // A range may reach past the text (most of a secret, masked as the whole): cut at its end.
    for (let i = 0; i < inView.length; i += 2) {
      const end = Math.min(inView[i + 1]!, view.decoded.length)
      found.push(view.from[inView[i]!]!, end > 0 ? view.to[end - 1]! : 0)
    }
  }
  if (found.length === 0) return text
  for (let i = 0; i < found.length; i += 2) {
    const end = Math.min(found[i + 1]!, bytes.length)
    bytes.write(maskOf(end - found[i]!, pattern), found[i]!, 'latin1')
  }
  return bytes.toString(encoding)
}

/**
 * True when any of `texts` holds a match of `automaton` as written or percent-decoded, and with
 * `escaped` also with the other escapes maskText reads decoded.
 */
export function foundInTexts(automaton: NeedleAutomaton, texts: readonly string[], escaped = false): boolean {
  if (automaton.count === 0) return false
  const joined = texts.join(FIELD_SEPARATOR)
  const bytes = Buffer.from(joined, encodingOf(joined))
  if (new Detector(automaton).push(bytes)) return true
  if (!escaped) return false
  // Also with JSON, JavaScript and HTML escapes decoded (response headers and trailers: maskText masks them).
  const view = decodedView(bytes)
  return view !== null && automaton.detect(view.decoded, 0, view.decoded.length, ROOT) < 0
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
 * mask, and two thirds of one as soon as they have gone by (NeedleAutomaton.collect), with the
 * rest of it as it comes. It holds nothing back: what it passes on, and when, does not depend on
 * whether the bytes could begin a secret. Holding back such a tail told an agent which prefix of
 * a key was right (a red-team run read a key that way, one character at a time), and stalled a
 * bidirectional stream whose message ended in a byte that begins a form of a secret (an `s`)
 * until the next message came. A secret split across chunks before two thirds of it shows its
 * first bytes, fewer than two thirds; the rest is masked. Synchronous, so the common path needs
 * no stream machinery.
 */
export function scrubFilter(needles: readonly Buffer[], onScrub: () => void = () => undefined): ChunkFilter {
  return scrubWith(automatonFor(needles), onScrub)
}

/** `scrubFilter` with an automaton already built. */
export function scrubWith(automaton: NeedleAutomaton, onScrub: () => void = () => undefined): ChunkFilter {
  let state = ROOT
  const found: number[] = []
  /** Stream offset of the next chunk's first byte. */
  let offset = 0
  /** A mask (stream offsets) that reaches past what has come so far: most of a secret, masked as the whole. */
  let owed: { start: number; end: number } | null = null
  // The body with its percent and JSON escapes decoded (guard/escape-view.ts), searched where it
  // differs from the bytes as sent, and masked where a secret shows only there.
  const view = new EscapeView(automaton)
  /** Raw ranges (stream offsets) the view found in this chunk: start, end, 1 for a new match. */
  const escaped: number[] = []
  /** Where the view's last mask began: one reaching into the next chunk goes on there. */
  let maskedInView = -1
  return {
    push(chunk) {
      found.length = 0
      escaped.length = 0
      view.begin(chunk)
      for (let i = 0; i < chunk.length; ) {
        if (!view.active) {
          const p = view.nextEscape(i)
          const q = p >= chunk.length ? p : view.start(chunk, p, i)
          state = automaton.collect(chunk, i, q, state, found)
          if (q >= chunk.length) break
          view.activate(state, q, offset)
          i = q
        }
        const end = view.window(chunk, i, offset)
        state = automaton.collect(chunk, i, end, state, found)
        view.push(chunk, i, end, offset, escaped)
        i = end
      }
      view.end(chunk)
      if (found.length === 0 && owed === null && escaped.length === 0) {
        offset += chunk.length
        return chunk
      }
      const chunkEnd = offset + chunk.length
      // A copy when masking, never the caller's buffer.
      let out: Buffer | null = null
      const going = owed
      const mask = (start: number, end: number, continued = going !== null && going.start === start): void => {
        const from = Math.max(start, offset)
        const to = Math.min(end, chunkEnd)
        if (to <= from) return
        out ??= Buffer.from(chunk)
        // The mask goes on where the last chunk's left off (`[redac`, then `ted]***`); one whose
        // first bytes went out unmasked (fewer than two thirds of a secret) begins afresh here.
        const at = continued ? start : from
        out.write(maskOf(end - at, VALUE_MASK).slice(from - at, to - at), from - offset, 'latin1')
      }
      if (going !== null) mask(going.start, going.end)
      for (let i = 0; i < found.length; i += 2) {
        const start = offset + found[i]!
        const end = offset + found[i + 1]!
        if (going?.start !== start) onScrub()
        mask(start, end)
        if (end > chunkEnd && (owed === null || end > owed.end)) owed = { start, end }
      }
      for (let i = 0; i < escaped.length; i += 3) {
        const start = escaped[i]!
        // Counted once: a secret written plainly is found in the view as well.
        if (escaped[i + 2] === 1 && !rawFound(found, start - offset)) onScrub()
        mask(start, escaped[i + 1]!, start === maskedInView)
        maskedInView = start
      }
      if (owed !== null && owed.end <= chunkEnd) owed = null
      offset = chunkEnd
      return out ?? chunk
    },
    end() {
      return null
    },
  }
}

/** Whether `found` (start, end pairs) has a range starting at `start`. */
function rawFound(found: readonly number[], start: number): boolean {
  for (let i = 0; i < found.length; i += 2) if (found[i] === start) return true
  return false
}

/** The refusal for a request that carries a managed secret. */
export function detected(): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_SECRET_DETECTED', 'the request carries a secret that sidekey manages; it was refused and reported')
}
