import type { ChunkFilter } from '../http/chunk-filter.js'
import { NeedleAutomaton, partialMatchAlarm, ROOT } from './needle-automaton.js'

/**
 * A secret echoed inside text broken into lines: base64 as MIME writes it (76 characters a line,
 * RFC 2045 section 6.8), as PEM (64, RFC 7468) and `openssl base64` do, or a long token wrapped by
 * a formatter. The agent joins the lines back (every base64 decoder skips line breaks), but in the
 * bytes as sent a line break sits inside the secret's form and the scrubber's search, which reads
 * the bytes as they are, finds nothing whenever the break falls within the first two thirds of it
 * (a red-team run found about 30% of such echoes passed).
 *
 * So the response scrubber also reads a view that skips line breaks: from a break that follows a
 * letter, digit or base64 sign (`+ / = - _`) and around which such bytes run long enough for most
 * of a secret (two thirds of its shortest form), the view holds the run of such bytes before it (up
 * to the longest form of a secret) and everything after it, with the breaks left out, until a byte
 * that is neither (a space, a quote, the scrubber's own mask), or until the longest form has been
 * read since the last break (nothing that crosses a break can still be in progress). A break is
 * CR, LF, or the JSON escapes `\n` and `\r` (a PEM echoed inside a JSON string). Where the view
 * finds a secret, the raw bytes it came from are masked, and the breaks between them stay, so the
 * text keeps its lines and its length. The view searches only the forms made of those bytes (the
 * others, percent- or UTF-16-encoded, cannot occur in it). Text without line breaks costs two
 * `indexOf` per chunk, prose a look at the words around each break; base64 in lines is searched
 * twice. The view copies nothing: it searches each line's bytes where they lie, carrying the
 * search from line to line, and maps a match back to the lines it came from.
 *
 * It runs after the scrubber (`scrubWith`), on bytes already masked there, and, like it, holds
 * nothing back: most of a secret (two thirds) is masked as the whole, the rest as it comes.
 */

const LF = 0x0a
const CR = 0x0d
const BACKSLASH = 0x5c
const LETTER_N = 0x6e
const LETTER_R = 0x72
const SLASH = 0x2f

/** Bytes of base64 and base64url (RFC 4648 sections 4 and 5), which are also most keys' letters. */
const TOKEN = new Uint8Array(256)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_') TOKEN[c.charCodeAt(0)] = 1

/** The automaton of the forms made of TOKEN bytes, and the run around a break that could hold most of one. */
interface TokenSearch {
  readonly automaton: NeedleAutomaton
  readonly minRun: number
}

/** Token searches by needle array (the scanner's array changes only when it learns a secret). */
const searches = new WeakMap<readonly Uint8Array[], TokenSearch | null>()

function tokenSearchFor(needles: readonly Uint8Array[]): TokenSearch | null {
  let search = searches.get(needles)
  if (search === undefined) {
    const tokens = needles.filter((n) => n.every((b) => TOKEN[b] === 1))
    search = tokens.length === 0 ? null : { automaton: new NeedleAutomaton(tokens), minRun: Math.min(...tokens.map((n) => partialMatchAlarm(n.length))) }
    searches.set(needles, search)
  }
  return search
}

/**
 * The next backslash at or after `i` that begins `\n` or `\r` in `chunk`, or -1 (one at the chunk's
 * end is read with the next chunk).
 */
function nextEscapedBreak(chunk: Buffer, i: number): number {
  for (let p = chunk.indexOf(BACKSLASH, i); p >= 0 && p + 1 < chunk.length; p = chunk.indexOf(BACKSLASH, p + 2)) {
    const next = chunk[p + 1]
    if (next === LETTER_N || next === LETTER_R) return p
  }
  return -1
}

/** The mask written over what the view finds (as `scrubWith` writes it). */
const MASK = '[redacted]'
const SLASH_BYTE = Buffer.from('/')
const EMPTY = Buffer.alloc(0)

/**
 * A stretch of the view that lies in one piece of the stream: view positions `[view, view + length)`
 * read raw bytes `[raw, raw + length)`, or, for an escaped `/` (`length` 1, `rawLength` 2), both
 * bytes of `\/`.
 */
interface Stretch {
  view: number
  length: number
  raw: number
  rawLength: number
}

/** A view over a response body that reads across line breaks (see the file's comment); null when no form of a secret could show in it. */
export function wrappedLinesFilter(needles: readonly Uint8Array[], onScrub: () => void = () => undefined): ChunkFilter | null {
  const search = tokenSearchFor(needles)
  if (search === null) return null
  const { automaton, minRun } = search
  const longest = automaton.longest
  /**
   * How long the view stays awake past a break: `longest` would do (no form that crosses a break
   * is still in progress after it), but base64 lines are about as long, and waking at every line
   * costs more than reading on (measured: 3 times).
   */
  const awakeFor = Math.max(2 * longest, 256)
  /** The last bytes read before this chunk (for a run or a break that began in an earlier chunk). */
  let carry: Buffer = EMPTY
  /** Stream offset of the chunk's first byte. */
  let offset = 0

  // The view, while awake.
  let awake = false
  let state = ROOT
  /** View bytes read since it woke. */
  let viewLength = 0
  /** The stretches holding the view's last `longest` bytes (a match may begin in an earlier one). */
  const stretches: Stretch[] = []
  /** View bytes read since the last break: past `awakeFor`, the view sleeps. */
  let sinceBreak = 0
  /** A backslash read last (its stream offset): a break if `n` or `r` follows, an escaped `/` if `/` does. */
  let backslashAt = -1
  /** A match reaching past what has come: its mask and the view positions it covers. */
  let owed: { mask: string; start: number; end: number } | null = null
  const found: number[] = []
  // The chunk being read, and its copy once something in it is masked.
  let chunk: Buffer = EMPTY
  let out: Buffer | null = null

  const byteAt = (i: number): number => (i >= 0 ? chunk[i]! : (carry[carry.length + i] ?? -1))

  /** Where the break that ends at `p` (a LF, or the backslash of `\n`) begins: back over CRs and `\r`s. */
  const breakStart = (p: number): number => {
    let q = p
    for (;;) {
      if (byteAt(q - 1) === CR) q -= 1
      else if (byteAt(q - 1) === LETTER_R && byteAt(q - 2) === BACKSLASH && byteAt(q - 3) !== BACKSLASH) q -= 2
      else return q
    }
  }

  /**
   * Whether the token bytes around the break from `g` to `p` (and any breaks after it) run to
   * `minRun`: else no secret's form that crosses it could be two thirds there. A run that reaches
   * the chunk's end might, and counts.
   */
  const longRun = (g: number, p: number): boolean => {
    let run = 0
    while (run < minRun && TOKEN[byteAt(g - 1 - run)] === 1) run++
    for (let i = byteAt(p) === BACKSLASH ? p + 2 : p + 1; run < minRun; i++) {
      if (i >= chunk.length) return true
      const b = chunk[i]!
      if (TOKEN[b] === 1) run++
      else if (b === BACKSLASH && i + 1 < chunk.length && (chunk[i + 1] === LETTER_N || chunk[i + 1] === LETTER_R || chunk[i + 1] === SLASH)) i++
      else if (b !== LF && b !== CR) return false
    }
    return true
  }

  /** Wake at the break beginning at `g` (a chunk index, negative in `carry`): the view begins with the run of token bytes before it. */
  const wake = (g: number): void => {
    let r = g
    while (g - r < longest && r - 1 >= -carry.length && TOKEN[byteAt(r - 1)] === 1) r--
    // The run lies on one line, where the scrubber searched it already: only the state is needed.
    found.length = 0
    if (r >= 0) state = automaton.collect(chunk, r, g, ROOT, found)
    else state = automaton.collect(Buffer.concat([carry.subarray(carry.length + r), chunk.subarray(0, Math.max(g, 0))]), 0, g - r, ROOT, found)
    stretches.length = 0
    stretches.push({ view: 0, length: g - r, raw: offset + r, rawLength: g - r })
    viewLength = g - r
    awake = true
    sinceBreak = 0
    backslashAt = -1
    owed = null
  }

  const sleep = (): void => {
    awake = false
    stretches.length = 0
    owed = null
    backslashAt = -1
  }

  /** Write one mask byte over the raw bytes of view position `v` that lie in this chunk (bytes passed on stay as they went). */
  const write = (v: number, byte: number): void => {
    for (let k = stretches.length - 1; k >= 0; k--) {
      const s = stretches[k]!
      if (v < s.view) continue
      if (v >= s.view + s.length) return
      const start = s.rawLength === s.length ? s.raw + (v - s.view) : s.raw
      const end = s.rawLength === s.length ? start + 1 : s.raw + s.rawLength
      for (let r = Math.max(start, offset); r < end && r < offset + chunk.length; r++) {
        out ??= Buffer.from(chunk)
        out[r - offset] = byte
      }
      return
    }
  }

  /** Search `bytes[from, to)`, the view's next stretch, read from raw stream offset `raw` (`rawLength` bytes). */
  const searchStretch = (bytes: Uint8Array, from: number, to: number, raw: number, rawLength: number): void => {
    const view = viewLength
    stretches.push({ view, length: to - from, raw, rawLength })
    viewLength += to - from
    sinceBreak += to - from
    if (owed !== null) {
      const o = owed
      for (let v = Math.max(o.start, view); v < Math.min(o.end, viewLength); v++) write(v, o.mask.charCodeAt(v - o.start))
      if (o.end <= viewLength) owed = null
    }
    found.length = 0
    state = automaton.collect(bytes, from, to, state, found)
    for (let f = 0; f < found.length; f += 2) {
      const start = view + (found[f]! - from)
      const end = view + (found[f + 1]! - from)
      const mask = MASK.padEnd(end - start, '*').slice(0, end - start)
      onScrub()
      for (let v = Math.max(start, stretches[0]!.view); v < Math.min(end, viewLength); v++) write(v, mask.charCodeAt(v - start))
      if (end > viewLength && (owed === null || end > owed.end)) owed = { mask, start, end }
    }
    // Only the stretches a later match could begin in are kept.
    while (stretches.length > 1 && stretches[1]!.view <= viewLength - longest) stretches.shift()
  }

  /** Read the chunk from `i` while the view is awake; returns where it fell asleep, or the chunk's length. */
  const read = (i: number): number => {
    let p = i
    while (p < chunk.length) {
      const b = chunk[p]!
      if (backslashAt >= 0) {
        const at = backslashAt
        backslashAt = -1
        if (b === LETTER_N || b === LETTER_R) {
          sinceBreak = 0
          p++
          continue
        }
        if (b !== SLASH) break
        searchStretch(SLASH_BYTE, 0, 1, at, offset + p + 1 - at)
        p++
        continue
      }
      if (b === LF || b === CR) {
        sinceBreak = 0
        p++
        continue
      }
      if (b === BACKSLASH) {
        backslashAt = offset + p
        p++
        continue
      }
      if (TOKEN[b] !== 1 || (sinceBreak >= awakeFor && owed === null)) break
      // A line's run of token bytes, searched where it lies.
      let q = p + 1
      while (q < chunk.length && TOKEN[chunk[q]!] === 1) q++
      searchStretch(chunk, p, q, offset + p, q - p)
      p = q
    }
    if (p < chunk.length) sleep()
    return p
  }

  return {
    push(next) {
      chunk = next
      out = null
      let i = 0
      if (awake) i = read(0)
      else if (carry.length > 0 && carry[carry.length - 1] === BACKSLASH && (chunk[0] === LETTER_N || chunk[0] === LETTER_R)) {
        // A `\n` split across chunks.
        const g = breakStart(-1)
        if (TOKEN[byteAt(g - 1)] === 1 && longRun(g, -1)) {
          wake(g)
          backslashAt = offset - 1
          i = read(0)
        }
      }
      // Each search moves only forward, so a chunk of many lines is scanned once (-2: not yet searched).
      let lf = -2
      let cr = -2
      let escape = -2
      while (i < chunk.length) {
        // Asleep: the next break that follows a token byte (a lone CR too: old Mac line ends).
        if (lf !== -1 && lf < i) lf = chunk.indexOf(LF, i)
        if (cr !== -1 && cr < i) cr = chunk.indexOf(CR, i)
        if (escape !== -1 && escape < i) escape = nextEscapedBreak(chunk, i)
        let p = -1
        for (const q of [lf, cr, escape]) if (q >= 0 && (p < 0 || q < p)) p = q
        if (p < 0) break
        const g = breakStart(p)
        if (TOKEN[byteAt(g - 1)] !== 1 || !longRun(g, p)) {
          i = p + 1
          continue
        }
        wake(g)
        i = Math.max(read(Math.max(g, 0)), p + 1)
      }
      // Kept only when the chunk ends in a run or a break the next one may go on with (most end in
      // `}` or a newline, and cost no copy).
      const last = chunk[chunk.length - 1]
      const keep = longest + 4
      if (last === undefined) return chunk
      if (TOKEN[last] !== 1 && last !== CR && last !== BACKSLASH) carry = EMPTY
      else carry = chunk.length >= keep ? Buffer.from(chunk.subarray(chunk.length - keep)) : Buffer.concat([carry, chunk]).subarray(-keep)
      offset += chunk.length
      const result = out ?? chunk
      chunk = EMPTY
      out = null
      return result
    },
    end() {
      return null
    },
  }
}
