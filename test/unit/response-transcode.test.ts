import t from 'tap'
import { declaredCharsets, refuseUnscrubbableCharset, wideCharset, withUtf8Charset, type WideCharset } from '../../src/guard/response-charset.js'
import { transcodeToUtf8 } from '../../src/guard/response-transcode.js'
import { responseGuard } from '../../src/guard/response-guard.js'
import { SecretScanner } from '../../src/guard/secret-scan.js'
import type { Route } from '../../src/policy/types.js'

// A body declared UTF-16 or UTF-32 is re-encoded as UTF-8 as it streams, before the scrubbers read
// it (src/guard/response-transcode.ts): right wherever the chunks are cut, the byte order from a
// byte order mark or the label (big-endian without either), malformed input replaced, not thrown.

const TEXT = 'A-Z, Grüße, 世界 😀 𝄞 and a \ufeff inside'

function encode(text: string, unit: 2 | 4, order: 'le' | 'be'): Buffer {
  if (unit === 2) {
    const le = Buffer.from(text, 'utf16le')
    return order === 'le' ? le : le.swap16()
  }
  const points = [...text].map((c) => c.codePointAt(0)!)
  const out = Buffer.alloc(points.length * 4)
  points.forEach((p, i) => (order === 'le' ? out.writeUInt32LE(p, i * 4) : out.writeUInt32BE(p, i * 4)))
  return out
}

function transcode(charset: WideCharset, body: Buffer, cuts: readonly number[] = []): string {
  const f = transcodeToUtf8(charset)
  const out: Buffer[] = []
  let at = 0
  for (const cut of [...cuts, body.length]) {
    out.push(f.push(body.subarray(at, cut)) ?? Buffer.alloc(0))
    at = cut
  }
  out.push(f.end() ?? Buffer.alloc(0))
  return Buffer.concat(out).toString('utf8')
}

const CASES: [WideCharset, 2 | 4, 'le' | 'be', boolean][] = [
  ['utf-16le', 2, 'le', false],
  ['utf-16be', 2, 'be', false],
  ['utf-16', 2, 'be', false],
  ['utf-16', 2, 'le', true],
  ['utf-16', 2, 'be', true],
  ['utf-32le', 4, 'le', false],
  ['utf-32be', 4, 'be', false],
  ['utf-32', 4, 'be', false],
  ['utf-32', 4, 'le', true],
]

t.test('every charset and byte order, cut at every pair of places', async (t) => {
  for (const [charset, unit, order, bom] of CASES) {
    const body = encode(bom ? `\ufeff${TEXT}` : TEXT, unit, order)
    let wrong = 0
    for (let a = 0; a <= body.length; a++) {
      for (let b = a; b <= body.length; b += 3) if (transcode(charset, body, [a, b]) !== TEXT) wrong++
    }
    t.equal(wrong, 0, `${charset} ${order}${bom ? ' with a byte order mark' : ''}: the same text, the mark dropped`)
    t.equal(transcode(charset, body, [...Array(body.length).keys()]), TEXT, `${charset} ${order}: one byte a chunk`)
  }
})

t.test('a byte order mark decides against the label; without one, plain utf-16 and utf-32 are big-endian', async (t) => {
  t.equal(transcode('utf-16le', encode(`\ufeff${TEXT}`, 2, 'be')), TEXT)
  t.equal(transcode('utf-32be', encode(`\ufeff${TEXT}`, 4, 'le')), TEXT)
  t.equal(transcode('utf-16', Buffer.from([0x00, 0x61, 0x00, 0x62])), 'ab', 'not as TextDecoder("utf-16") reads it (little-endian)')
  t.equal(transcode('utf-16', Buffer.from([0xff, 0xfe, 0xff, 0xfe, 0x61, 0x00])), '\ufeffa', 'only the first mark is dropped')
})

t.test('malformed input becomes U+FFFD, never an exception', async (t) => {
  t.equal(transcode('utf-16le', Buffer.from([0x61, 0x00, 0x62])), 'a\ufffd', 'an odd last byte')
  t.equal(transcode('utf-16be', Buffer.from([0xd8, 0x3d, 0x00, 0x61])), '\ufffda', 'a lone high surrogate')
  t.equal(transcode('utf-16be', Buffer.from([0xde, 0x00])), '\ufffd', 'a lone low surrogate')
  t.equal(transcode('utf-32be', Buffer.from([0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xd8, 0x00, 0x00, 0x00, 0x00, 0x61])), '\ufffd\ufffda', 'beyond U+10FFFF, a surrogate')
  t.equal(transcode('utf-32le', Buffer.from([0x61, 0x00, 0x00, 0x00, 0x62]), [1, 3]), 'a\ufffd', 'an unfinished last unit')
  t.equal(transcode('utf-32', Buffer.from([0x00, 0x00])), '\ufffd', 'shorter than a byte order mark')
  t.equal(transcode('utf-16', Buffer.alloc(0)), '', 'empty')
  t.equal(transcodeToUtf8('utf-32').push(Buffer.from([0x00, 0x00, 0xfe])), null, 'a possible mark is held until it is known')
})

t.test('the declared charset: wide ones found, quoted or repeated; two that disagree refused', async (t) => {
  t.equal(wideCharset('application/json; charset=UTF-16'), 'utf-16')
  t.equal(wideCharset('text/plain;charset="utf-32be"'), 'utf-32be')
  t.equal(wideCharset('application/json; charset=utf-16le, application/json; charset=UTF-16LE'), 'utf-16le')
  t.equal(wideCharset('application/json; charset=utf-8'), null)
  t.equal(wideCharset('application/json'), null)
  for (const type of ['application/json; charset=utf-16; charset=utf-8', 'application/json; charset=utf-8, text/plain; charset="utf-32"', 'text/plain; charset=utf-16le; charset=utf-16be']) {
    t.throws(() => wideCharset(type), { code: 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', message: /declared two charsets/ }, type)
  }
  t.equal(withUtf8Charset('application/json; charset="UTF-16"; x=y'), 'application/json; charset=utf-8; x=y')
  t.same(withUtf8Charset(['text/plain; charset=utf-16be', 'text/plain']), ['text/plain; charset=utf-8', 'text/plain'])
})

t.test('the response guard re-encodes before it scrubs, and says so in the head', async (t) => {
  const secret = 'sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c'
  const scanner = new SecretScanner()
  scanner.add(secret)
  const plan = responseGuard({ pinSha256: null } as unknown as Route, scanner.needles(), { scrubbed: 0 })!
  const body = Buffer.from(`{"auth":"Basic ${Buffer.from(`user:${secret}`).toString('base64')}"}`, 'utf16le')
  const shaped = plan.begin(200, { 'content-type': 'application/json; charset=utf-16le', 'content-length': String(body.length) })
  t.same(shaped.headers, { 'content-type': 'application/json; charset=utf-8' }, 'charset utf-8, no Content-Length')
  const out = Buffer.concat([shaped.filter!.push(body.subarray(0, 33)) ?? Buffer.alloc(0), shaped.filter!.push(body.subarray(33)) ?? Buffer.alloc(0), shaped.filter!.end() ?? Buffer.alloc(0)]).toString('utf8')
  t.match(out, /^\{"auth":"Basic dXNlcj[A-Za-z0-9]*\[redacted\]\*+"\}$/, `the base64 of the Basic credential is masked: ${out}`)
  t.throws(() => plan.begin(200, { 'content-type': 'application/grpc; charset=utf-16' }), { code: 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', message: /gRPC or Connect stream/ }, 'not a gRPC stream')
  t.same(plan.begin(200, { 'content-type': 'text/plain' }).headers, { 'content-type': 'text/plain' }, 'a body with no charset is left as it is')
})

t.test('a charset parameter is read as Python requests reads it: quotes and spaces trimmed from each end of its name on their own', async (t) => {
  // Found by red-team runs: `"charset"=utf-16` and `charset"=utf-7` were not seen as charsets.
  for (const [field, charset] of [['text/plain; "charset"=utf-16', 'utf-16'], ['application/json; charset"=utf-7', 'utf-7'], ['text/plain; "charset\'=UTF-7', 'utf-7'], ['a/b; charset="UTF-16LE"', 'utf-16le']] as const) {
    t.same(declaredCharsets(field), [charset], field)
  }
  t.throws(() => refuseUnscrubbableCharset('application/json; charset"=utf-7'), /charset "utf-7"/, 'UTF-7 behind a stray quote is refused')
})
