import { ROOT, type NeedleAutomaton } from './needle-automaton.js'
import { pushPart, type ChunkFilter } from '../http/chunk-filter.js'
import { VALUE_MASK } from './secret-scan.js'
import { SidekeyError } from '../errors.js'

/**
 * Secrets split across the records of a streamed answer. A streamed completion sends its text a
 * few characters per server-sent event (`data: {"delta":"sk-te"}`, then `data:
 * {"delta":"st-..."}`); the agent's client joins the deltas, so an echoed secret is whole in what
 * the agent reads while no single event, and no byte run of the stream, holds it. This filter
 * reads the stream the way the client does: per record (an SSE event, WHATWG HTML section 9.2.6;
 * an NDJSON line), it takes the data, and when the data is JSON, each string value (escapes
 * decoded) under its key path; the strings of one key path (in one event type) are joined across
 * records into a view, searched with state carried from record to record. A match is masked
 * (same length) in every record still held that carries part of it.
 *
 * A record is passed on as soon as it is complete (a client dispatches nothing before the blank
 * line that ends an event, so holding an unfinished one costs the agent nothing), whatever it
 * holds: nothing waits because it could begin a secret, so what the agent receives, and when,
 * tells it nothing about which prefix of a key a stream spelled out (holding records whose view
 * ended in a partial match did: a model asked to spell out candidates would have shown an agent
 * the right one, one character at a time). Two thirds of a secret count as the secret
 * (NeedleAutomaton.collect) and are masked from there on in every record still held; the bytes
 * of it in records already passed on, fewer than two thirds, stay as they were.
 */

/** How records are framed. */
export type RecordFraming = 'sse' | 'ndjson'

/** The framing of a response by its media type, or null for a body that is not a record stream. */
export function recordFraming(contentType: string | undefined): RecordFraming | null {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  if (type === 'text/event-stream') return 'sse'
  if (type === 'application/x-ndjson') return 'ndjson'
  return null
}

/** A record larger than this is not held whole: it passes through with byte-level scrubbing only. */
export const MAX_RECORD_BYTES = 256 * 1024

/**
 * Bound on views (key paths) per stream. Past it a view with nothing in progress makes room, the
 * one used least recently: in its start state and owing no mask it is exactly a new view, so
 * dropping it loses nothing. A view partway through what could be a secret is never dropped (a
 * review found that dropping the least recently used one lost a key's first characters when each
 * event carried 128 other fields after them): when every view is partway, the stream is cut. A
 * stream with that many fields each ending in what could begin a secret is one an upstream (or an
 * agent steering it) made on purpose; cutting it harms only that answer (found by a red-team run:
 * past 64 key paths new ones were not joined at all, and a key streamed three characters an event
 * came out whole).
 */
export const MAX_VIEWS = 128

const LF = 0x0a
const CR = 0x0d

/**
 * Where records end, byte by byte, across chunks: `ends(b)` is true when `b` completes a record (an
 * SSE event's blank line, WHATWG HTML section 9.2.6; an NDJSON line). A CR and the LF after it are
 * one line end.
 */
function recordEnds(framing: RecordFraming): { ends(b: number): boolean } {
  let atLineStart = true
  let afterCR = false
  return {
    ends(b) {
      if (afterCR && b === LF) {
        afterCR = false
        return false
      }
      afterCR = b === CR
      if (b !== LF && b !== CR) {
        atLineStart = false
        return false
      }
      // A line ends here. SSE: a blank line ends the event. NDJSON: every line is a record.
      const ends = framing === 'ndjson' || atLineStart
      atLineStart = true
      return ends
    },
  }
}

/**
 * The bytes of each record through a scrubber of its own (`scrubberFor`: the byte-level scrubber),
 * so that a mask never runs on past the record's end, nor over a line end. Most of a secret at the end of an event used
 * to be masked on over the next event's framing (`"}` and `data: {"delta":"`) for the rest of the
 * secret's length: the next event's JSON broke, so the joined view (recordScrubFilter) could not
 * read it, and the secret's tail in it reached the agent (found by a red-team run: 24 of a key's 25
 * characters over two requests). What goes on in the next record is the joined view's to mask, in
 * the bytes of the same key path. Nothing is held: each chunk goes on as the scrubbers give it.
 */
export function perRecordScrubber(framing: RecordFraming, scrubberFor: () => ChunkFilter): ChunkFilter {
  let scrubber = scrubberFor()
  const records = recordEnds(framing)
  return {
    push(chunk) {
      let out: Buffer | null = null
      let from = 0
      const scrub = (to: number): void => {
        out = pushPart(scrubber, chunk, from, to, out)
        // Line ends stay: a mask run on over one (the rest of a secret's length) would join two
        // events, or two NDJSON lines, into one the agent's client cannot read.
        if (out !== null) for (let i = from; i < to; i++) if (chunk[i] === LF || chunk[i] === CR) out[i] = chunk[i]!
      }
      for (let i = 0; i < chunk.length; i++) {
        if (!records.ends(chunk[i]!)) continue
        scrub(i + 1)
        scrubber.end()
        scrubber = scrubberFor()
        from = i + 1
      }
      if (from < chunk.length) scrub(chunk.length)
      return out ?? chunk
    },
    end: () => scrubber.end(),
  }
}

/** One joined view: its search state and where its last `longest` bytes came from in the stream. */
interface View {
  state: number
  /** View bytes still to be masked as they come: the rest of a secret two thirds of which went by. */
  owed: number
  /** View bytes so far. */
  total: number
  /** Ring of absolute stream offsets [start, end) of the latest view bytes. */
  starts: Float64Array
  ends: Float64Array
}

export function recordScrubFilter(automaton: NeedleAutomaton, framing: RecordFraming, onScrub: () => void = () => undefined): ChunkFilter {
  const ring = Math.max(1, automaton.longest)
  const views = new Map<string, View>()
  /** Bytes received and not yet passed on; `base` is the stream offset of buf[0]. */
  let buf: Buffer = Buffer.alloc(0)
  let base = 0
  /** Stream offset where the unfinished record begins. */
  let recordStart = 0
  /** The unfinished record outgrew MAX_RECORD_BYTES: pass it on unread until it ends. */
  let skipping = false
  /** Where records end, its line-end state carried between chunks. */
  const records = recordEnds(framing)

  const viewFor = (key: string): View => {
    let v = views.get(key)
    if (v !== undefined) {
      // Most recently used last (a Map keeps insertion order).
      views.delete(key)
      views.set(key, v)
    } else {
      if (views.size >= MAX_VIEWS) {
        for (const [k, idle] of views) {
          if (idle.state === ROOT && idle.owed === 0) {
            views.delete(k)
            break
          }
        }
        if (views.size >= MAX_VIEWS) throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `the stream carries more than ${MAX_VIEWS} fields each ending in what could begin a secret; sidekey stops the stream rather than pass one unread`)
      }
      v = { state: ROOT, owed: 0, total: 0, starts: new Float64Array(ring), ends: new Float64Array(ring) }
      views.set(key, v)
    }
    return v
  }

  /** Mask stream bytes [start, end) where they are still held (a mask begun in a record passed on goes on where it left off). */
  const maskRange = (start: number, end: number): void => {
    const s = Math.max(start, base) - base
    const e = end - base
    if (e <= s) return
    buf.write(VALUE_MASK.padEnd(end - start, '*').slice(s + base - start, end - start), s, 'latin1')
  }

  /** Append one string (decoded bytes with their stream ranges) to a view, masking what completes a secret. */
  const feed = (key: string, bytes: Uint8Array, starts: ArrayLike<number>, ends: ArrayLike<number>): void => {
    if (bytes.length === 0) return
    const v = viewFor(key)
    const found: number[] = []
    // What a mask begun in an earlier record still covers, whatever these bytes are.
    if (v.owed > 0) {
      const n = Math.min(v.owed, bytes.length)
      found.push(0, n)
      v.owed -= n
    }
    const owing = found.length
    v.state = automaton.collect(bytes, 0, bytes.length, v.state, found)
    for (let m = 0; m < found.length; m += 2) {
      // Counted once: not again for the same secret going on from the bytes before.
      if (m >= owing && (found[m]! >= 0 || owing === 0)) onScrub()
      // A range past these bytes (most of a secret, masked as the whole) goes on in the next ones.
      if (found[m + 1]! > bytes.length) {
        v.owed = Math.max(v.owed, found[m + 1]! - bytes.length)
        found[m + 1] = bytes.length
      }
      // Runs of contiguous stream bytes, masked one run at a time (a match spans records).
      let runStart = -1
      let runEnd = -1
      for (let i = found[m]!; i < found[m + 1]!; i++) {
        const s = i >= 0 ? starts[i]! : v.starts[(((v.total + i) % ring) + ring) % ring]!
        const e = i >= 0 ? ends[i]! : v.ends[(((v.total + i) % ring) + ring) % ring]!
        if (runStart >= 0 && s <= runEnd) runEnd = Math.max(runEnd, e)
        else {
          if (runStart >= 0) maskRange(runStart, runEnd)
          runStart = s
          runEnd = e
        }
      }
      if (runStart >= 0) maskRange(runStart, runEnd)
    }
    for (let i = 0; i < bytes.length; i++) {
      const at = (v.total + i) % ring
      v.starts[at] = starts[i]!
      v.ends[at] = ends[i]!
    }
    v.total += bytes.length
  }

  /** Read one complete record, stream offsets [start, end). */
  const readRecord = (start: number, end: number): void => {
    // A UTF-8 byte order mark before the first record: the client's decoder drops it (WHATWG
    // Encoding), so the first field is `data`, not `\uFEFFdata` (found by a red-team run).
    if (start === 0 && buf[start - base] === 0xef && buf[start - base + 1] === 0xbb && buf[start - base + 2] === 0xbf) start += 3
    const { data, at } = framing === 'sse' ? sseData(buf, start - base, end - base) : ndjsonData(buf, start - base, end - base)
    if (data.length === 0) return
    // `at` maps data bytes to buf offsets; views keep stream offsets. One view per key path, across
    // event types: a stream may send a key's parts as `delta` and then `delta_end` events (found by
    // a red-team run), and joining more than a client does masks more, never less.
    const toStream = (i: number): number => at[i]! + base
    if (!jsonStrings(data, (path, bytes, from, to) => feed(`json\0${path}`, bytes, from.map(toStream), to.map(toStream)))) {
      // Plain data: without the line feeds that join an event's `data:` lines (a key, or its
      // base64, split over two lines reaches the client with a line break a reader skips; found
      // by a red-team run), which are never masked.
      const bytes: number[] = []
      const from: number[] = []
      for (let i = 0; i < data.length; i++) {
        if (data[i] === LF) continue
        bytes.push(data[i]!)
        from.push(at[i]! + base)
      }
      feed('plain\0', Uint8Array.from(bytes), from, from.map((x) => x + 1))
    }
  }

  /** Where held bytes start: the unfinished record (an oversized one is not held, nor anything before it). */
  const holdFrom = (): number => Math.max(skipping ? base + buf.length : recordStart, base)

  const release = (upTo: number): Buffer | null => {
    const cut = upTo - base
    if (cut <= 0) return null
    const out = buf.subarray(0, cut)
    buf = buf.subarray(cut)
    base = upTo
    return out
  }

  return {
    push(chunk) {
      const chunkStart = base + buf.length
      // A private copy: masks are written into it.
      buf = Buffer.concat([buf, chunk])
      for (let i = 0; i < chunk.length; i++) {
        if (!records.ends(chunk[i]!)) continue
        const end = chunkStart + i + 1
        if (!skipping) readRecord(recordStart, end)
        skipping = false
        recordStart = end
      }
      if (!skipping && base + buf.length - recordStart > MAX_RECORD_BYTES) skipping = true
      return release(holdFrom())
    },
    end() {
      if (!skipping && recordStart < base + buf.length) readRecord(recordStart, base + buf.length)
      recordStart = base + buf.length
      return release(base + buf.length)
    },
  }
}

/** The data of an SSE event: its `data` lines joined with LF, and the buffer offset of each byte. */
function sseData(buf: Buffer, start: number, end: number): { data: Uint8Array; at: number[] } {
  const bytes: number[] = []
  const at: number[] = []
  let i = start
  while (i < end) {
    let e = i
    while (e < end && buf[e] !== LF && buf[e] !== CR) e++
    let nameEnd = i
    while (nameEnd < e && buf[nameEnd] !== 0x3a) nameEnd++
    const name = buf.toString('latin1', i, nameEnd)
    // The value starts after the colon and one optional space.
    let v = nameEnd + 1
    if (v < e && buf[v] === 0x20) v++
    if (name === 'data') {
      if (at.length > 0) {
        bytes.push(LF)
        at.push(i - 1)
      }
      for (let j = Math.min(v, e); j < e; j++) {
        bytes.push(buf[j]!)
        at.push(j)
      }
    }
    i = e + 1
    if (i < end && buf[i - 1] === CR && buf[i] === LF) i++
  }
  return { data: Uint8Array.from(bytes), at }
}

/** The data of an NDJSON line (its line end left out). */
function ndjsonData(buf: Buffer, start: number, end: number): { data: Uint8Array; at: number[] } {
  let e = end
  while (e > start && (buf[e - 1] === LF || buf[e - 1] === CR)) e--
  return { data: buf.subarray(start, e), at: Array.from({ length: e - start }, (_, i) => start + i) }
}

/**
 * Call `onString` for each string value (not key) of the JSON text `data`, with its key path
 * (array indices left out: `.choices[].delta.content`), its bytes (escapes decoded, UTF-8) and,
 * per byte, the data offsets [from, to) it was read from (an escape maps to all its characters).
 * Lenient: it reads structure, it does not validate. False when `data` is not JSON.
 */
export function jsonStrings(data: Uint8Array, onString: (path: string, bytes: Uint8Array, from: number[], to: number[]) => void): boolean {
  let i = 0
  const space = (b: number | undefined): boolean => b === 0x20 || b === 0x09 || b === LF || b === CR
  while (i < data.length && space(data[i])) i++
  if (i < data.length && data[i] === 0x22) {
    // A string as the whole text (`data: "sk-te"`, an NDJSON line that is a string).
    const read = readString(data, i + 1)
    if (read === null) return false
    let j = read.end + 1
    while (j < data.length && space(data[j])) j++
    if (j < data.length) return false
    onString('', read.bytes, read.from, read.to)
    return true
  }
  if (i === data.length || (data[i] !== 0x7b && data[i] !== 0x5b)) return false
  /** Open containers: an object's path and current key, or an array's path. */
  const stack: { array: boolean; path: string; key: string | null; expectKey: boolean }[] = []
  const valuePath = (): string => {
    const top = stack.at(-1)
    if (top === undefined) return ''
    return top.array ? `${top.path}[]` : `${top.path}.${top.key ?? ''}`
  }
  for (; i < data.length; i++) {
    const b = data[i]!
    if (b === 0x7b || b === 0x5b) {
      const path = valuePath()
      stack.push({ array: b === 0x5b, path, key: null, expectKey: b === 0x7b })
    } else if (b === 0x7d || b === 0x5d) {
      if (stack.pop() === undefined) return false
    } else if (b === 0x3a) {
      const top = stack.at(-1)
      if (top !== undefined && !top.array) top.expectKey = false
    } else if (b === 0x2c) {
      const top = stack.at(-1)
      if (top !== undefined && !top.array) top.expectKey = true
    } else if (b === 0x22) {
      const read = readString(data, i + 1)
      if (read === null) return false
      const top = stack.at(-1)
      if (top !== undefined && !top.array && top.expectKey) top.key = Buffer.from(read.bytes).toString('utf8')
      else onString(valuePath(), read.bytes, read.from, read.to)
      i = read.end
    }
  }
  return stack.length === 0
}

const ESCAPES: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 }

/** Read a JSON string whose opening quote is just before `start` (RFC 8259 section 7). */
function readString(data: Uint8Array, start: number): { bytes: Uint8Array; from: number[]; to: number[]; end: number } | null {
  const bytes: number[] = []
  const from: number[] = []
  const to: number[] = []
  let i = start
  while (i < data.length) {
    const b = data[i]!
    if (b === 0x22) return { bytes: Uint8Array.from(bytes), from, to, end: i }
    if (b !== 0x5c) {
      bytes.push(b)
      from.push(i)
      to.push(i + 1)
      i++
      continue
    }
    const e = data[i + 1]
    if (e === undefined) return null
    if (e !== 0x75) {
      const decoded = ESCAPES[e]
      if (decoded === undefined) return null
      bytes.push(decoded)
      from.push(i)
      to.push(i + 2)
      i += 2
      continue
    }
    let unit = hex4(data, i + 2)
    if (unit < 0) return null
    let end = i + 6
    // A surrogate pair is two escapes for one character.
    if (unit >= 0xd800 && unit < 0xdc00 && data[end] === 0x5c && data[end + 1] === 0x75) {
      const low = hex4(data, end + 2)
      if (low >= 0xdc00 && low < 0xe000) {
        unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
        end += 6
      }
    }
    for (const byte of Buffer.from(String.fromCodePoint(unit), 'utf8')) {
      bytes.push(byte)
      from.push(i)
      to.push(end)
    }
    i = end
  }
  return null
}

/** The value of the four hex digits at `at`, or -1. */
function hex4(data: Uint8Array, at: number): number {
  if (at + 4 > data.length) return -1
  let n = 0
  for (let i = at; i < at + 4; i++) {
    const b = data[i]!
    const l = b | 0x20
    const d = b >= 0x30 && b <= 0x39 ? b - 0x30 : l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1
    if (d < 0) return -1
    n = n * 16 + d
  }
  return n
}
