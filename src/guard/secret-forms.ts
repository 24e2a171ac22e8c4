/**
 * The forms a secret takes on the wire when code encodes it the way HTTP and its usual payloads
 * do, without meaning to hide it: as is, percent-encoded (RFC 3986 section 2.1), form-encoded
 * (WHATWG URL, application/x-www-form-urlencoded: space as `+`), escaped inside a JSON string
 * (RFC 8259 section 7, with or without `\/`), and base64 and base64url (RFC 4648 sections 4 and 5)
 * of the secret or of its percent-encoding, at each of the three byte alignments a secret can have
 * inside a longer base64 text; and the secret as is and JSON-escaped in UTF-16 and UTF-32, either
 * byte order, whose bytes (a NUL between every two letters) match no UTF-8 form. A response that
 * declares one of those charsets is re-encoded as UTF-8 before it is searched
 * (guard/response-transcode.ts), so every form above is found in it; the wide forms are for
 * bodies in UTF-16 that declare no charset (a client may still guess it, as Python's requests
 * does for JSON) and for request bodies.
 * Computed once per secret, when sidekey learns it; the request path only searches for them.
 *
 * Deliberate obfuscation (hex, reversal, compression, encryption, layered encodings, a secret
 * split across requests) is out of reach of any list of forms: see docs/security.md.
 */

/**
 * Every form of `secret` worth searching for, as bytes (UTF-8), without duplicates. Forms shorter
 * than `minLength` are left out (too likely to occur by chance).
 */
export function secretForms(secret: string, minLength: number): Buffer[] {
  const json = JSON.stringify(secret).slice(1, -1)
  const texts = new Set([secret, encodeURIComponent(secret), formEncode(secret), secret.replaceAll(' ', '+'), json, json.replaceAll('/', '\\/')])
  const forms = new Set<string>()
  for (const text of texts) forms.add(Buffer.from(text, 'utf8').toString('latin1'))
  // base64 of the secret itself and of its percent-encoding (what a URL-safe token looks like in a
  // Basic credential built from an already-encoded value).
  for (const source of new Set([secret, encodeURIComponent(secret)])) {
    const bytes = Buffer.from(source, 'utf8')
    for (const alignment of [0, 1, 2] as const) {
      forms.add(base64Aligned(bytes, alignment, 'base64'))
      forms.add(base64Aligned(bytes, alignment, 'base64url'))
    }
  }
  for (const text of new Set([secret, json])) for (const wide of wideForms(text)) forms.add(wide.toString('latin1'))
  return [...forms].filter((f) => f.length >= minLength).map((f) => Buffer.from(f, 'latin1'))
}

/** `text` in UTF-16 and UTF-32, little- and big-endian, without a byte order mark. */
function wideForms(text: string): Buffer[] {
  const utf16le = Buffer.from(text, 'utf16le')
  const utf16be = Buffer.from(utf16le).swap16()
  const points = [...text].map((c) => c.codePointAt(0)!)
  const utf32le = Buffer.alloc(points.length * 4)
  const utf32be = Buffer.alloc(points.length * 4)
  points.forEach((p, i) => {
    utf32le.writeUInt32LE(p, i * 4)
    utf32be.writeUInt32BE(p, i * 4)
  })
  return [utf16le, utf16be, utf32le, utf32be]
}

/** application/x-www-form-urlencoded serialisation of one value (WHATWG URL section 5.2). */
export function formEncode(value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1)
}

/**
 * The characters that base64 (or base64url) of any text holding `bytes` at offset
 * `alignment` (mod 3) is certain to contain, whatever comes before and after. base64 turns each
 * 3 bytes into 4 characters (RFC 4648 section 4); a character that mixes bits of a byte outside
 * `bytes` depends on that byte and is left out: 2 leading characters at alignment 1, 3 at
 * alignment 2, and the last one when `bytes` does not end on a 3-byte boundary. So
 * `base64("x:" + secret)` (a Basic credential) holds `base64Aligned(secret, 2)`.
 */
export function base64Aligned(bytes: Uint8Array, alignment: 0 | 1 | 2, encoding: 'base64' | 'base64url'): string {
  const padded = Buffer.concat([Buffer.alloc(alignment), bytes])
  const text = padded.toString(encoding).replace(/=+$/, '')
  const skip = [0, 2, 3][alignment]!
  const partialEnd = padded.length % 3 !== 0
  return text.slice(skip, partialEnd ? text.length - 1 : text.length)
}
