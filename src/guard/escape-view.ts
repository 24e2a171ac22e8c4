import { hex } from './percent-decode.js'
import { ROOT, type NeedleAutomaton } from './needle-automaton.js'

/**
 * A secret echoed in a response with some of its characters escaped: percent-encoded
 * (`s%6b-...`, as a URL-echoing upstream or Python's `quote()` writes it) or as JSON escapes
 * (`"s\u006b-..."`, `\/`, as serializers that escape `/`, `+` or every non-letter write it). The
 * agent decodes it back to the key; the bytes as sent hold no needle. The response scrubber
 * searches this view of the body too, both kinds of escape decoded, and masks the raw bytes a
 * match came from (found by a red-team run: one escaped character carried a key past it).
 *
 * The view differs from the bytes as sent only at an escape that decodes (`%XX`, `\uXXXX` below
 * 0x80, `\/`; `\n` or `\"` read the same in both), so it is searched only from such an escape
 * until `longest` bytes after the last one, when both searches are in the same state again (as
 * `Detector` does for outbound detection). Text with no such escape costs two `indexOf` per chunk.
 */

const PERCENT = 0x25
const BACKSLASH = 0x5c
const AMPERSAND = 0x26
const HASH = 0x23
const SEMICOLON = 0x3b
const SLASH = 0x2f
const U = 0x75
const X = 0x78
/** The bytes after a backslash that make a JSON escape kept as written (RFC 8259 section 7; `/`, `u` and `x` decode). */
const JSON_ESCAPES: ReadonlySet<number> = new Set([...'"\\bfnrt'].map((c) => c.charCodeAt(0)))
/** The longest escape the view decodes (`&#0000043;`, `&#x00002b;`). */
const MAX_ESCAPE = 10

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39
}

/**
 * Whether the bytes at `p` begin an escape that decodes, or could once the next chunk comes (the
 * chunk ends inside it).
 */
function decodesAt(chunk: Uint8Array, p: number): boolean {
  const end = chunk.length
  if (chunk[p] === PERCENT) return (p + 1 >= end || hex(chunk[p + 1]!) >= 0) && (p + 2 >= end || hex(chunk[p + 2]!) >= 0)
  if (p + 1 >= end) return true
  const next = chunk[p + 1]!
  if (chunk[p] === AMPERSAND) {
    // `&#` then a digit, or `&#x` then a hex digit: an HTML numeric character reference.
    if (next !== HASH) return false
    if (p + 2 >= end || isDigit(chunk[p + 2])) return true
    return (chunk[p + 2]! | 0x20) === X && (p + 3 >= end || hex(chunk[p + 3]!) >= 0)
  }
  if (next === SLASH) return true
  // `\x` then two hex digits, the first below 8 (JavaScript, Python).
  if (next === X) return (p + 2 >= end || (hex(chunk[p + 2]!) >= 0 && hex(chunk[p + 2]!) < 8)) && (p + 3 >= end || hex(chunk[p + 3]!) >= 0)
  if (next !== U) return false
  // `\u00` then a hex digit below 8: a code point below 0x80.
  return (p + 2 >= end || chunk[p + 2] === 0x30) && (p + 3 >= end || chunk[p + 3] === 0x30) && (p + 4 >= end || (chunk[p + 4]! >= 0x30 && chunk[p + 4]! <= 0x37)) && (p + 5 >= end || hex(chunk[p + 5]!) >= 0)
}

/**
 * Finds, in one chunk, the escapes that decode, from left to right: each `indexOf` moves only
 * forward, so a chunk is scanned once however many escapes it holds (calling `indexOf` afresh for
 * each escape made a body full of one kind, `\/` or `%XX`, cost the square of its length).
 */
class EscapeScanner {
  #chunk: Uint8Array = Buffer.alloc(0)
  /** The next `%`, `\\` and `&` at or after the last search (-1: none left; -2: not searched yet). */
  readonly #next = [-2, -2, -2]

  reset(chunk: Uint8Array): void {
    this.#chunk = chunk
    this.#next.fill(-2)
  }

  /** The index of the next escape at or after `from` that decodes, or the chunk's length. */
  next(from: number): number {
    const chunk = this.#chunk
    const next = this.#next
    for (;;) {
      let p = -1
      for (let k = 0; k < 3; k++) {
        if (next[k] !== -1 && next[k]! < from) next[k] = chunk.indexOf(ESCAPE_BYTES[k]!, from)
        if (next[k]! >= 0 && (p < 0 || next[k]! < p)) p = next[k]!
      }
      if (p < 0) return chunk.length
      if (decodesAt(chunk, p)) return p
      from = p + 1
    }
  }
}

/** The bytes an escape the view decodes begins with. */
const ESCAPE_BYTES = [PERCENT, BACKSLASH, AMPERSAND]

/** Reused output buffers of the decoder (grown as needed, never shrunk). */
class DecodedChunk {
  bytes = Buffer.allocUnsafe(0)
  /** Raw stream offsets each decoded byte came from: `[from[i], to[i])`. */
  from = new Float64Array(0)
  to = new Float64Array(0)

  reserve(size: number): void {
    if (this.bytes.length >= size) return
    this.bytes = Buffer.allocUnsafe(size)
    this.from = new Float64Array(size)
    this.to = new Float64Array(size)
  }
}

/**
 * A streaming decoder of both kinds of escape that says, for each decoded byte, where its raw
 * bytes lie in the stream. An escape split across chunks is decoded whole; anything that is not
 * one that decodes (a stray `%`, `\n`, `\u00e9`) stays as written, each byte its own.
 */
class MappedDecoder {
  /** Raw bytes of an escape begun and not yet complete, and the stream offset of its first. */
  readonly #open: number[] = []
  #openAt = 0
  #n = 0
  #out: DecodedChunk | null = null
  /** Whether each decoded byte's raw range is written too (not for outbound detection, which only searches). */
  readonly #mapped: boolean
  /** Whether `%XX` is decoded (not for outbound detection, whose search decodes percent itself: twice would undo `%2573`). */
  readonly #percent: boolean

  constructor(options: { mapped?: boolean; percent?: boolean } = {}) {
    this.#mapped = options.mapped ?? true
    this.#percent = options.percent ?? true
  }

  get pending(): boolean {
    return this.#open.length > 0
  }

  /** Begin with a backslash open (the last byte before, at stream offset `at`, escapes the next). */
  openBackslash(at: number): void {
    this.#open.length = 0
    this.#open.push(BACKSLASH)
    this.#openAt = at
  }

  #emit(byte: number, from: number, to: number): void {
    const out = this.#out!
    out.bytes[this.#n] = byte
    if (this.#mapped) {
      out.from[this.#n] = from
      out.to[this.#n] = to
    }
    this.#n++
  }

  /** Not an escape after all: each held byte as itself. */
  #flush(): void {
    for (let k = 0; k < this.#open.length; k++) this.#emit(this.#open[k]!, this.#openAt + k, this.#openAt + k + 1)
    this.#open.length = 0
  }

  /**
   * One more byte of an HTML numeric character reference begun with `&` (`&#45;`, `&#x2d;`).
   * Returns true when `b` is not part of it and must be read again on its own.
   */
  #reference(b: number, at: number): boolean {
    const open = this.#open
    if (open.length === 1) {
      if (b !== HASH) return this.#flushAgain()
      open.push(b)
      return false
    }
    const hexadecimal = (open[2]! | 0x20) === X
    if (open.length === 2) {
      if ((b | 0x20) !== X && !isDigit(b)) return this.#flushAgain()
      open.push(b)
      return false
    }
    const digits = open.length - (hexadecimal ? 3 : 2)
    if (b === SEMICOLON && digits > 0) {
      let code = 0
      for (let k = hexadecimal ? 3 : 2; k < open.length; k++) code = code * (hexadecimal ? 16 : 10) + (hexadecimal ? hex(open[k]!) : open[k]! - 0x30)
      if (code < 0x80) {
        this.#emit(code, this.#openAt, at + 1)
        open.length = 0
      } else {
        open.push(b)
        this.#flush()
      }
      return false
    }
    if ((hexadecimal ? hex(b) >= 0 : isDigit(b)) && open.length < MAX_ESCAPE - 1) {
      open.push(b)
      return false
    }
    return this.#flushAgain()
  }

  /** What was held goes out as it was; the byte that broke it is read again. */
  #flushAgain(): true {
    this.#flush()
    return true
  }

  /** The end of the text: an escape still open is what it was, bytes as written, after the `n` decoded so far. */
  finish(out: DecodedChunk, n: number): number {
    out.reserve(n + MAX_ESCAPE)
    this.#out = out
    this.#n = n
    this.#flush()
    this.#out = null
    return this.#n
  }

  /** Decode `chunk[from, to)` (chunk byte 0 at stream offset `offset`) into `out`; returns how many bytes. */
  push(chunk: Uint8Array, from: number, to: number, offset: number, out: DecodedChunk): number {
    out.reserve(to - from + MAX_ESCAPE * 2)
    this.#out = out
    this.#n = 0
    const open = this.#open
    for (let i = from; i < to; i++) {
      const b = chunk[i]!
      const at = offset + i
      if (open.length === 0) {
        if ((b === PERCENT && this.#percent) || b === BACKSLASH || b === AMPERSAND) {
          open.push(b)
          this.#openAt = at
        } else {
          this.#emit(b, at, at + 1)
        }
        continue
      }
      if (open[0] === PERCENT) {
        if (hex(b) < 0) {
          this.#flush()
          i--
          continue
        }
        open.push(b)
        if (open.length === 3) {
          this.#emit((hex(open[1]!) << 4) | hex(open[2]!), this.#openAt, at + 1)
          open.length = 0
        }
        continue
      }
      if (open[0] === AMPERSAND) {
        if (this.#reference(b, at)) i--
        continue
      }
      if (open.length === 1) {
        if (b === SLASH) {
          this.#emit(SLASH, this.#openAt, at + 1)
          open.length = 0
        } else if (b === U || b === X) {
          open.push(b)
        } else if (JSON_ESCAPES.has(b)) {
          // `\\`, `\"`, `\n`: two bytes as written (a `\\` cannot begin another escape).
          open.push(b)
          this.#flush()
        } else {
          // Not a JSON escape (`\%73`): the backslash as itself, and `b` starts over.
          this.#flush()
          i--
        }
        continue
      }
      if (hex(b) < 0) {
        this.#flush()
        i--
        continue
      }
      open.push(b)
      // `\uXXXX` or `\xXX`, complete.
      if (open.length === (open[1] === U ? 6 : 4)) {
        let code = 0
        for (let k = 2; k < open.length; k++) code = (code << 4) | hex(open[k]!)
        if (code < 0x80) {
          this.#emit(code, this.#openAt, at + 1)
          open.length = 0
        } else {
          this.#flush()
        }
      }
    }
    this.#out = null
    return this.#n
  }
}

/**
 * Whether `bytes` holds an escape that decodes, or begins one at its end: where outbound detection
 * starts its second view of a request body.
 */
export function holdsEscape(bytes: Uint8Array): boolean {
  for (const start of [BACKSLASH, AMPERSAND]) {
    for (let p = bytes.indexOf(start); p >= 0; p = bytes.indexOf(start, p + 1)) if (decodesAt(bytes, p)) return true
  }
  return false
}

/**
 * The escapes the view reads, decoded as a stream, without the map back to raw bytes: outbound
 * detection searches a request body in this view besides the bytes as sent, with the decoder
 * response scrubbing uses, so the two read the same escapes (a secret with one letter escaped
 * would otherwise get past the tripwire). JSON, JavaScript and HTML escapes only: the detector
 * decodes percent escapes in each view itself. The buffer `push` returns is reused by the next call.
 */
export class EscapeDecoder {
  readonly #decoder = new MappedDecoder({ mapped: false, percent: false })
  readonly #out = new DecodedChunk()

  /** The next chunk, decoded (an escape split across chunks is decoded whole, with the next). */
  push(chunk: Uint8Array): Buffer {
    const n = this.#decoder.push(chunk, 0, chunk.length, 0, this.#out)
    return this.#out.bytes.subarray(0, n)
  }

  /** The end of the body: an escape still open stands for itself. */
  end(): Buffer {
    const n = this.#decoder.finish(this.#out, 0)
    return this.#out.bytes.subarray(0, n)
  }
}

/**
 * A whole text (a header value, a trailer) with every escape the view reads decoded, and for each
 * decoded byte the input range it came from; null when nothing in it decodes.
 */
export function decodedView(bytes: Uint8Array): { decoded: Buffer; from: Float64Array; to: Float64Array } | null {
  const scanner = new EscapeScanner()
  scanner.reset(bytes)
  if (scanner.next(0) >= bytes.length) return null
  const decoder = new MappedDecoder()
  const out = new DecodedChunk()
  const n = decoder.finish(out, decoder.push(bytes, 0, bytes.length, 0, out))
  return { decoded: out.bytes.subarray(0, n), from: out.from.subarray(0, n), to: out.to.subarray(0, n) }
}

/**
 * The escaped view of one response body, searched beside the scrubber's search of the bytes as
 * sent. For each chunk the scrubber calls `begin`, then hands the view the stretches where it may
 * differ (`start`, `window`), with the plain search's state where a stretch begins; `push` adds
 * the raw stream ranges to mask, as start, end, and 1 for a new match (0 for the rest of one).
 */
export class EscapeView {
  readonly #automaton: NeedleAutomaton
  readonly #scanner = new EscapeScanner()
  #decoder: MappedDecoder | null = null
  #state = ROOT
  /** Raw start offsets of the last `longest` decoded bytes (a match may begin before this stretch). */
  #history: number[] = []
  /** Stream offset from which the view reads the same as the plain bytes again. */
  #converges = 0
  /** Decoded bytes still to mask after a match that reaches past what has come (most of a secret, masked as the whole), from `#owedStart`. */
  #owed = 0
  #owedStart = 0
  /**
   * Whether the plain bytes read while the view was off end in an odd run of backslashes: the
   * next chunk's first byte is then escaped by it (`\\` read as a pair, never as the start of
   * `\u...`; found by a review: a chunk ending in `\\` started the view on the pair's second half).
   */
  #oddBackslashes = false
  /** Where in the current chunk the view went off (the plain bytes after it are counted for `#oddBackslashes`). */
  #offAt = 0
  readonly #out = new DecodedChunk()
  readonly #found: number[] = []

  constructor(automaton: NeedleAutomaton) {
    this.#automaton = automaton
  }

  get active(): boolean {
    return this.#decoder !== null
  }

  /** A new chunk. */
  begin(chunk: Uint8Array): void {
    this.#scanner.reset(chunk)
    this.#offAt = 0
  }

  /** The next escape that decodes in the chunk at or after `from`, or its length. Only while the view is off. */
  nextEscape(from: number): number {
    return this.#scanner.next(from)
  }

  /**
   * Where the view must start for an escape at `p` (not before `from`): at the start of the run of
   * backslashes it is in, so pairs are read as pairs.
   */
  start(chunk: Uint8Array, p: number, from: number): number {
    let q = p
    while (q > from && chunk[q - 1] === BACKSLASH) q--
    return q
  }

  /** Begin at the chunk's byte `q` (stream offset `offset + q`), where the plain search stands in `state`. */
  activate(state: number, q: number, offset: number): void {
    const decoder = new MappedDecoder()
    // Only at a chunk's first byte can the backslash before it (the last chunk's) escape it.
    if (q === 0 && this.#oddBackslashes) decoder.openBackslash(offset - 1)
    this.#decoder = decoder
    this.#state = state
    const at = offset + q
    const history: number[] = []
    for (let o = Math.max(0, at - this.#automaton.longest); o < at; o++) history.push(o)
    this.#history = history
    this.#converges = at
  }

  /**
   * How far in `chunk` (at stream offset `offset`) the view must read from `from`: until
   * `longest` bytes after the last escape that decodes, or the chunk's end.
   */
  window(chunk: Uint8Array, from: number, offset: number): number {
    const longest = this.#automaton.longest
    let converges = Math.max(this.#converges, offset + from) - offset
    for (let p = this.#scanner.next(from); p < chunk.length && p < converges; p = this.#scanner.next(p + 1)) converges = Math.max(converges, p + MAX_ESCAPE + longest)
    if (converges <= from) converges = from + MAX_ESCAPE + longest
    this.#converges = offset + converges
    return Math.min(converges, chunk.length)
  }

  /** Search `chunk[from, to)` in the view; append raw ranges to mask to `masks` (start, end, new). */
  push(chunk: Uint8Array, from: number, to: number, offset: number, masks: number[]): void {
    const decoder = this.#decoder!
    const out = this.#out
    const n = decoder.push(chunk, from, to, offset, out)
    const stretchStart = offset + from
    const stretchEnd = offset + to
    if (this.#owed > 0) {
      const covered = Math.min(this.#owed, n)
      // From where the match began (the scrubber clips it to the chunk), so the mask goes on.
      if (covered > 0) masks.push(this.#owedStart, out.to[covered - 1]!, 0)
      this.#owed -= covered
    }
    const found = this.#found
    found.length = 0
    this.#state = this.#automaton.collect(out.bytes, 0, n, this.#state, found)
    const history = this.#history
    for (let i = 0; i < found.length; i += 2) {
      const s = found[i]!
      const e = found[i + 1]!
      const start = s >= 0 ? out.from[s]! : (history[history.length + s] ?? stretchStart)
      const end = e <= n ? (e > 0 ? out.to[e - 1]! : stretchStart) : n > 0 ? out.to[n - 1]! : stretchStart
      if (e > n && e - n > this.#owed) {
        this.#owed = e - n
        this.#owedStart = start
      }
      masks.push(start, Math.min(end, stretchEnd), 1)
    }
    const longest = this.#automaton.longest
    for (let i = Math.max(0, n - longest); i < n; i++) history.push(out.from[i]!)
    if (history.length > longest) history.splice(0, history.length - longest)
    // Converged: nothing open, nothing owed, and `longest` plain bytes since the last escape.
    if (stretchEnd >= this.#converges && !decoder.pending && this.#owed === 0) {
      this.#decoder = null
      this.#oddBackslashes = false
      this.#offAt = to
    } else if (stretchEnd >= this.#converges) {
      this.#converges = stretchEnd + longest
    }
  }

  /** The chunk is read: note whether the plain bytes since the view went off end in an odd run of backslashes. */
  end(chunk: Uint8Array): void {
    if (this.#decoder !== null) return
    let k = chunk.length
    while (k > this.#offAt && chunk[k - 1] === BACKSLASH) k--
    const run = chunk.length - k
    // A run back to where the view went off at the chunk's start goes on from the last chunk's.
    this.#oddBackslashes = (k === 0 && this.#offAt === 0 ? this.#oddBackslashes : false) !== (run % 2 === 1)
  }
}
