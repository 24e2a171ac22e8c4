import t from 'tap'
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js'
import { automatonFor, foundInTexts, maskText, scrubWith, SecretScanner } from '../../src/guard/secret-scan.js'

// The response scrubber masks a secret echoed with some characters escaped, percent or JSON, as
// the agent would decode it (found by a red-team run: `s\u006b-...` and `s%6b-...` passed). Random
// bodies, random escapes of random characters, random chunk boundaries: decoding what comes out
// never gives back the secret, nor two thirds of it; masks keep the length.

const SECRETS = ['sk-test-openai-5f2b8e0c1d7a9b3c', 'ab/cd+ef/ghIJKLmnop12QR==']
const scanner = new SecretScanner()
for (const s of SECRETS) scanner.add(s)
const automaton = automatonFor(scanner.needles())

/** A JSON string's escapes decoded left to right, as a parser reads them (`\\\\` is one backslash). */
function jsonDecoded(text: string): string {
  return text.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, e: string) => (e.length === 5 ? String.fromCharCode(parseInt(e.slice(1), 16)) : e === '/' ? '/' : e === '\\' ? '\\' : `\\${e}`))
}

/** Percent escapes decoded. */
function percentDecoded(text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
}

/** HTML numeric character references and JavaScript `\\xXX` escapes decoded. */
function otherDecoded(text: string): string {
  return text.replace(/&#x([0-9a-fA-F]+);|&#([0-9]+);|\\x([0-9a-fA-F]{2})/g, (_, h?: string, d?: string, x?: string) => String.fromCharCode(h !== undefined ? parseInt(h, 16) : d !== undefined ? Number(d) : parseInt(x!, 16)))
}

/** Every reading an agent could make of the text. */
function decoded(text: string): string {
  return [text, jsonDecoded(text), percentDecoded(text), percentDecoded(jsonDecoded(text)), jsonDecoded(percentDecoded(text)), otherDecoded(text)].join('\n')
}

let seed = 7
function random(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff
  return seed % n
}

function escaped(secret: string): string {
  return [...secret]
    .map((c) => {
      const r = random(9)
      if (r === 0) return `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`
      if (r === 1) return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
      if (r === 2 && c === '/') return '\\/'
      if (r === 3) return `&#${c.charCodeAt(0)};`
      if (r === 4) return `&#x${c.charCodeAt(0).toString(16)};`
      if (r === 5) return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
      return c
    })
    .join('')
}

function scrubbed(body: Buffer): Buffer {
  const filter = scrubWith(automaton)
  const out: Buffer[] = []
  for (let i = 0; i < body.length; ) {
    const size = 1 + random(random(2) === 0 ? 4 : 40)
    out.push(Buffer.from(filter.push(body.subarray(i, i + size))!))
    i += size
  }
  return Buffer.concat(out)
}

t.test('random escapes and chunk boundaries: nothing decodes back to a secret', async (t) => {
  let failures = 0
  for (let round = 0; round < 3000 && failures < 5; round++) {
    const secret = SECRETS[random(SECRETS.length)]!
    const filler = ['{"echo":"', 'next=', 'x%zz\\n\\"', '', 'token: Bearer ', 'x\\\\', 'a%20b\\', '\\\\\\'][random(8)]!
    const body = Buffer.from(`${filler}${escaped(secret)}${['"}', '&more=1', '', '\\u00e9 done'][random(4)]}`)
    const out = scrubbed(body)
    const seen = decoded(out.toString('latin1'))
    const most = secret.slice(0, partialMatchAlarm(secret.length))
    if (out.length !== body.length || seen.includes(secret) || seen.includes(most)) {
      failures++
      t.fail(`round ${round}: ${JSON.stringify(body.toString())} came out as ${JSON.stringify(out.toString())}`)
    }
  }
  t.equal(failures, 0)
})

t.test('text without escapes, and escapes that are not a secret, pass unchanged', async (t) => {
  for (const text of ['{"text":"Hello\\nworld \\u00e9 \\/ 100% sure, a%2Fb"}', 'plain words, nothing more', 'sk-test-op is not it (%73k-test)']) {
    t.equal(scrubbed(Buffer.from(text)).toString(), text)
  }
})

t.test('each form of escape alone, in one chunk', async (t) => {
  const secret = SECRETS[0]!
  const u = (s: string) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')
  for (const body of [`{"echo":"${u(secret)}"}`, `{"echo":"s${u('k')}${secret.slice(2)}"}`, `next=s%6b${secret.slice(2)}`, `next=${[...secret].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}`]) {
    const filter = scrubWith(automaton)
    const out = Buffer.from(filter.push(Buffer.from(body))!).toString()
    t.notOk(decoded(out).includes(secret.slice(0, 10)), `${body.slice(0, 24)}... is masked: ${out.slice(0, 40)}`)
    t.equal(out.length, body.length)
  }
})

t.test('the inputs a review found', async (t) => {
  const secret = SECRETS[0]!
  for (const chunks of [
    // A chunk ending in an escaped backslash: the next chunk's `\u0073` is an escape all the same.
    ['{"a":"x\\\\', `\\u0073${secret.slice(1)}"}`],
    [`{"a":"x\\\\\\u0073${secret.slice(1)}"}`],
    // A backslash before a percent escape is no JSON escape: `%73` still decodes.
    [`a%20b\\%73${secret.slice(1)}`],
    ['a%20b\\', `%73${secret.slice(1)}`],
  ]) {
    const filter = scrubWith(automaton)
    const out = chunks.map((c) => Buffer.from(filter.push(Buffer.from(c))!).toString('latin1')).join('')
    t.notOk(decoded(out).includes(secret.slice(0, partialMatchAlarm(secret.length))), `${JSON.stringify(chunks)} came out as ${JSON.stringify(out)}`)
    t.equal(out.length, chunks.join('').length)
  }
})

t.test('header values and trailers: every escape form, masked in place', async (t) => {
  const secret = SECRETS[0]!
  const forms = [
    `Bearer sk\\u002dtest\\u002dopenai\\u002d${secret.slice(15)}`,
    `<p>sk&#x2d;test&#x2d;openai&#x2d;${secret.slice(15)}</p>`,
    `sk&#45;test&#45;openai&#45;${secret.slice(15)}`,
    `sk\\x2dtest\\x2dopenai\\x2d${secret.slice(15)}`,
    `s%6b${secret.slice(2)}`,
  ]
  for (const value of forms) {
    t.ok(foundInTexts(automaton, ['x-echo', value], true), `found: ${value.slice(0, 30)}`)
    const masked = maskText(automaton, value, '[redacted]')
    t.notOk(decoded(masked).includes(secret.slice(0, 12)), `masked: ${masked}`)
    t.equal(masked.length, value.length)
  }
})
