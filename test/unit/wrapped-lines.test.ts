import t from 'tap'
import { chainFilters, type ChunkFilter } from '../../src/http/chunk-filter.js'
import { envelopePayloadFilter } from '../../src/guard/message-envelopes.js'
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js'
import { automatonFor, scrubWith, SecretScanner } from '../../src/guard/secret-scan.js'
import { wrappedLinesFilter } from '../../src/guard/wrapped-lines.js'

// A secret echoed in base64 broken into lines (MIME, PEM, `openssl base64`, GitHub's contents API
// with `\n` inside a JSON string) or in a token wrapped by a formatter: the scrubber also reads the
// body with its line breaks left out (src/guard/wrapped-lines.ts). Before, a break within the
// first two thirds of the secret's base64 carried it past (a red-team run: about 30% of echoes).

const SECRET = 'sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c'
const scanner = new SecretScanner()
scanner.add(SECRET)
const needles = scanner.needles()
const automaton = automatonFor(needles)

/** The scrubber as the response guard builds it: the bytes as sent, then across line breaks. */
function scrubber(): ChunkFilter {
  return chainFilters([scrubWith(automaton), wrappedLinesFilter(needles)!])!
}

function scrub(body: Buffer, cuts: readonly number[] = []): Buffer {
  const f = scrubber()
  const out: Buffer[] = []
  let at = 0
  for (const cut of [...cuts, body.length]) {
    out.push(f.push(body.subarray(at, cut)) ?? Buffer.alloc(0))
    at = cut
  }
  return Buffer.concat(out)
}

function wrap(text: string, width: number, separator: string): string {
  let out = ''
  for (let i = 0; i < text.length; i += width) out += text.slice(i, i + width) + separator
  return out
}

/** Whether `text` holds two thirds of the secret anywhere (what the scrubber must never let through). */
function holdsMostOf(text: string): boolean {
  const n = partialMatchAlarm(SECRET.length)
  for (let k = 0; k + n <= SECRET.length; k++) if (text.includes(SECRET.slice(k, k + n))) return true
  return false
}

let seed = 11
function random(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed % n
}

t.test('base64 in lines: no break position, width, separator or chunking carries the secret past', async (t) => {
  let cases = 0
  let leaks = 0
  let lengthChanged = 0
  for (const width of [76, 64, 60, 33, 20]) {
    for (const prefix of ['', 'x', 'xy', 'Authorization: Bearer ']) {
      for (let shift = 0; shift < width; shift += 3) {
        const b64 = Buffer.from('A'.repeat(shift) + prefix + SECRET + ' and some more text after it').toString('base64')
        for (const separator of ['\n', '\r\n', '\r', '\\n', '\\r\\n']) {
          const body = Buffer.from(`{"content":"${wrap(b64, width, separator)}","encoding":"base64"}`)
          const cuts = [random(body.length), random(body.length), random(body.length)].sort((a, b) => a - b)
          for (const out of [scrub(body), scrub(body, cuts)]) {
            cases++
            if (out.length !== body.length) lengthChanged++
            const joined = out.toString('latin1').replace(/\\[nr]|[\r\n]/g, '')
            const content = joined.slice('{"content":"'.length, joined.indexOf('","encoding"'))
            if (holdsMostOf(Buffer.from(content, 'base64').toString('latin1'))) leaks++
          }
        }
      }
    }
  }
  t.ok(cases > 1000, `${cases} cases`)
  t.equal(leaks, 0, 'no decoded body holds two thirds of the secret')
  t.equal(lengthChanged, 0, 'masks keep the length')
})

t.test('the mask leaves the line breaks where they were', async (t) => {
  const b64 = Buffer.from(`Bearer ${SECRET}`).toString('base64')
  const body = Buffer.from(wrap(b64, 20, '\r\n'))
  const out = scrub(body)
  t.not(out.toString(), body.toString(), 'masked')
  t.same(
    [...out.toString().matchAll(/\r\n/g)].map((m) => m.index),
    [...body.toString().matchAll(/\r\n/g)].map((m) => m.index),
    'every CRLF is where it was',
  )
  t.match(out.toString(), /\[redacted\]\r\n\*{20}\r\n/, 'the mask runs on across the breaks, in the lines')
})

t.test('a key wrapped as plain text is masked too', async (t) => {
  const body = Buffer.from(`Your key:\n${SECRET.slice(0, 12)}\n${SECRET.slice(12)}\nkeep it safe\n`)
  const out = scrub(body).toString()
  t.notOk(holdsMostOf(out.replaceAll('\n', '')), out)
  t.match(out, /^Your key:\n/)
  t.match(out, /\nkeep it safe\n$/)
})

t.test('text that merely has line breaks is passed on unchanged', async (t) => {
  const prose = Buffer.from('The quick brown fox\njumps over the lazy dog.\r\nA line ending in aVeryLongWordIndeed\nfollowed by another\n'.repeat(200))
  t.equal(scrubber().push(prose), prose, 'the same buffer: nothing copied')
  const json = Buffer.from(`{"a":"line one\\nline two\\\\nnot a break","b":"${'Zm9v'.repeat(30)}\\n${'YmFy'.repeat(30)}"}`)
  t.equal(scrub(json).toString(), json.toString(), 'long base64 lines that hold no secret stay')
})

t.test('a cut anywhere, inside `\\r\\n` too, lets no more than a third of the secret out', async (t) => {
  // Bytes before the cut have gone when the rest shows what they begin: fewer than two thirds of
  // the secret may pass (nothing is held back, as in the scrubber), never more.
  const body = Buffer.from(`{"pem":"${wrap(Buffer.from(`x${SECRET}`).toString('base64'), 16, '\\r\\n')}"}`)
  let leaks = 0
  for (let cut = 1; cut < body.length; cut++) {
    const out = scrub(body, [cut])
    if (out.length !== body.length) leaks++
    const content = out.toString('latin1').slice('{"pem":"'.length, -2).replaceAll('\\r\\n', '')
    if (holdsMostOf(Buffer.from(content, 'base64').toString('latin1'))) leaks++
  }
  t.equal(leaks, 0)
})

t.test('no view when no form of a secret is made of base64 letters', async (t) => {
  t.equal(wrappedLinesFilter([Buffer.from('a b c d e f g h')]), null)
})

/** One envelope: flags, 4-byte big-endian length, payload. */
function envelope(payload: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.writeUInt32BE(payload.length, 1)
  return Buffer.concat([head, payload])
}

/** The payloads of a body of envelopes. */
function payloads(body: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let at = 0; at < body.length; ) {
    const n = body.readUInt32BE(at + 1)
    out.push(body.subarray(at + 5, at + 5 + n))
    at += 5 + n
  }
  return out
}

t.test('gRPC messages are scrubbed each on its own, their heads untouched', async (t) => {
  // Most of the secret at the end of one message: its mask (the rest of the secret's length) ran on
  // over the next message's head before, and the agent's client could read nothing after it.
  const first = Buffer.from(`echo: ${SECRET.slice(0, 32)}`)
  const second = Buffer.from('the next message, as sent')
  const body = Buffer.concat([envelope(first), envelope(second), envelope(Buffer.from(`again ${SECRET} and on`))])
  for (const cuts of [[], [3], [first.length + 4], [first.length + 7, first.length + 12], [body.length - 9]]) {
    const filter = envelopePayloadFilter(scrubber)
    const out: Buffer[] = []
    let at = 0
    for (const cut of [...cuts, body.length]) {
      out.push(filter.push(body.subarray(at, cut))!)
      at = cut
    }
    const result = Buffer.concat(out)
    t.equal(result.length, body.length, `cuts ${cuts.join(',')}: the length`)
    const messages = payloads(result)
    t.equal(messages.length, 3, 'three messages, framed as sent')
    t.match(messages[0]!.toString(), /^echo: \[redacted\]\*+$/, 'the first masked to its end, not beyond')
    t.equal(messages[1]!.toString(), second.toString(), 'the second as sent')
    t.match(messages[2]!.toString(), /^again \[redacted\]\*+ and on$/)
  }
})

t.test('outbound detection reads across line breaks too: an agent sending the secret in base64 lines is refused', async (t) => {
  let missed = 0
  let cases = 0
  for (const width of [76, 64, 20]) {
    for (let shift = 0; shift < 12; shift++) {
      const b64 = Buffer.from('A'.repeat(shift) + SECRET).toString('base64')
      for (const separator of ['\r\n', '\\n']) {
        const body = Buffer.from(`{"attachment":"${wrap(b64, width, separator)}"}`)
        cases++
        if (!scanner.foundInBuffer(body)) missed++
        const filter = scanner.bodyFilter()
        let refused = false
        try {
          for (let i = 0; i < body.length; i += 17) filter.push(body.subarray(i, i + 17))
          filter.end()
        } catch (err) {
          refused = (err as { code?: string }).code === 'SIDEKEY_ERR_SECRET_DETECTED'
        }
        if (!refused) missed++
      }
    }
  }
  t.equal(missed, 0, `all ${cases} bodies refused, buffered and streamed in 17-byte chunks`)
  const prose = Buffer.from('{"prompt":"Summarise this:\\nThe quick brown fox jumps over the lazy dog\\nagain and again\\n"}')
  t.notOk(scanner.foundInBuffer(prose), 'a prompt with line breaks passes')
  t.doesNotThrow(() => scanner.bodyFilter().push(prose))
})
