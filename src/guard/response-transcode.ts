import type { ChunkFilter } from '../http/chunk-filter.js'
import type { WideCharset } from './response-charset.js'

/**
 * A response body declared in UTF-16 or UTF-32, re-encoded as UTF-8 as it streams, so that the
 * scrubbers read it as they read any other body. A client that decodes by the declared charset
 * (Python's requests) reads an echoed secret out of a UTF-16 body in every form the scrubbers know
 * in ASCII (base64 in a Basic credential, percent and JSON escapes, base64 in lines), and no list
 * of wide byte patterns keeps up with all of them and their combinations: so the body is made
 * UTF-8 first, and the agent is told so (response-guard.ts rewrites the `charset` parameter).
 * Found by a red-team run: `Basic base64(user:secret)` echoed in `charset=utf-16` reached the agent.
 *
 * Byte order: a byte order mark, when the body starts with one, decides it (and is dropped), even
 * against a declared `utf-16le`/`utf-16be`, as the WHATWG Encoding standard's decode does; a body
 * that starts so was written in that order. Without one, the declared order holds, and for plain
 * `utf-16` or `utf-32` big-endian, the default of the IANA charset (RFC 2781 section 4.3; the
 * Unicode standard says the same for UTF-32). `new TextDecoder('utf-16')` is not used for that:
 * WHATWG makes `utf-16` a label of UTF-16LE, and it decodes a BOM-less body little-endian. Either
 * choice is safe, since the agent reads only the UTF-8 this writes, and that is what is scrubbed;
 * a body in the other order arrives as the wrong characters, not as the secret.
 *
 * Malformed input never throws: an odd last byte, a lone surrogate, a UTF-32 unit beyond U+10FFFF
 * or in the surrogate range each become U+FFFD, as a decoder replacing errors reads them. Nothing
 * is held back beyond the bytes of one unfinished character (and, at the start, of a possible
 * byte order mark).
 */

type ByteOrder = 'le' | 'be'

/** Decodes one chunk of the body to UTF-8; `last` flushes what an unfinished character left. */
type Decode = (chunk: Buffer, last: boolean) => Buffer

/** A ChunkFilter turning a body in `charset` into UTF-8, for the filters after it. */
export function transcodeToUtf8(charset: WideCharset): ChunkFilter {
  const unit = charset.startsWith('utf-16') ? 2 : 4
  const declared: ByteOrder | null = charset.endsWith('le') ? 'le' : charset.endsWith('be') ? 'be' : null
  // The body's first bytes, until there are enough to tell whether they are a byte order mark.
  let head: Buffer | null = Buffer.alloc(0)
  let decode: Decode | null = null
  const start = (bytes: Buffer): { decode: Decode; rest: Buffer } => {
    const bom = byteOrderMark(bytes, unit)
    const order = bom ?? declared ?? 'be'
    return { decode: unit === 2 ? utf16Decoder(order) : utf32Decoder(order), rest: bom === null ? bytes : bytes.subarray(unit) }
  }
  return {
    push(chunk) {
      if (decode !== null) return nonEmpty(decode(chunk, false))
      head = head!.length === 0 ? chunk : Buffer.concat([head!, chunk])
      if (head.length < unit) return null
      const begun = start(head)
      head = null
      decode = begun.decode
      return nonEmpty(decode(begun.rest, false))
    },
    end() {
      if (decode !== null) return nonEmpty(decode(Buffer.alloc(0), true))
      // A body shorter than a byte order mark (or empty).
      const begun = start(head!)
      head = null
      decode = begun.decode
      return nonEmpty(decode(begun.rest, true))
    },
  }
}

function nonEmpty(b: Buffer): Buffer | null {
  return b.length === 0 ? null : b
}

/** The byte order a leading byte order mark (U+FEFF) names, in units of `unit` bytes; null for none. */
function byteOrderMark(bytes: Buffer, unit: number): ByteOrder | null {
  if (bytes.length < unit) return null
  if (unit === 2) return bytes[0] === 0xfe && bytes[1] === 0xff ? 'be' : bytes[0] === 0xff && bytes[1] === 0xfe ? 'le' : null
  const be = bytes.readUInt32BE(0)
  return be === 0xfeff ? 'be' : bytes.readUInt32LE(0) === 0xfeff ? 'le' : null
}

/**
 * UTF-16 by Node's TextDecoder (its streaming mode keeps half a character, or half a surrogate
 * pair, for the next chunk). `ignoreBOM`: a leading mark was already taken off, and a U+FEFF
 * further on is a character the agent should get.
 */
function utf16Decoder(order: ByteOrder): Decode {
  const decoder = new TextDecoder(order === 'le' ? 'utf-16le' : 'utf-16be', { ignoreBOM: true })
  return (chunk, last) => Buffer.from(decoder.decode(chunk, { stream: !last }), 'utf8')
}

const REPLACEMENT = Buffer.from('\ufffd', 'utf8')

/** UTF-32 (TextDecoder has none): each 4-byte unit one code point, written as UTF-8. */
function utf32Decoder(order: ByteOrder): Decode {
  // Up to 3 bytes of a unit the last chunk ended inside.
  let carry: Buffer = Buffer.alloc(0)
  return (chunk, last) => {
    const bytes = carry.length === 0 ? chunk : Buffer.concat([carry, chunk])
    const whole = bytes.length - (bytes.length % 4)
    // UTF-8 takes at most 4 bytes a code point, as many as UTF-32 does.
    const out = Buffer.allocUnsafe(whole + (last ? REPLACEMENT.length : 0))
    let o = 0
    for (let i = 0; i < whole; i += 4) {
      const p = order === 'le' ? bytes.readUInt32LE(i) : bytes.readUInt32BE(i)
      if (p > 0x10ffff || (p >= 0xd800 && p <= 0xdfff)) o += REPLACEMENT.copy(out, o)
      else if (p < 0x80) out[o++] = p
      else if (p < 0x800) {
        out[o++] = 0xc0 | (p >> 6)
        out[o++] = 0x80 | (p & 0x3f)
      } else if (p < 0x10000) {
        out[o++] = 0xe0 | (p >> 12)
        out[o++] = 0x80 | ((p >> 6) & 0x3f)
        out[o++] = 0x80 | (p & 0x3f)
      } else {
        out[o++] = 0xf0 | (p >> 18)
        out[o++] = 0x80 | ((p >> 12) & 0x3f)
        out[o++] = 0x80 | ((p >> 6) & 0x3f)
        out[o++] = 0x80 | (p & 0x3f)
      }
    }
    // Copied: a view would keep the whole chunk in memory for its last few bytes.
    carry = Buffer.from(bytes.subarray(whole))
    // An unfinished unit at the end of the body: one replacement, as for an odd UTF-16 byte.
    if (last && carry.length > 0) {
      o += REPLACEMENT.copy(out, o)
      carry = Buffer.alloc(0)
    }
    return out.subarray(0, o)
  }
}
