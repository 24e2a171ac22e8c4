import { createHash } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { filterStream } from '../../src/http/chunk-filter.js'
import { EscapeDecoder } from '../../src/guard/escape-view.js'
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js'
import { MAX_LIVE_PER_SLOT, scrubFilter, SecretScanner } from '../../src/guard/secret-scan.js'

// The outbound secret scanner, table-driven: each form a managed secret takes on the wire, in each
// place an agent can put it (request target, header name or value, buffered body, streamed body in
// chunks of every size), and near misses that must not trip it. secret-encodings.test.ts
// checks the pieces (forms, decoders, automaton) against each other; this checks what the scanner
// answers.

const SECRET = 'sk-live-4f9Qz7Xw2Lm8'
/** A secret whose percent-, form- and JSON-encodings differ from it. */
const SPECIAL = 'pw/with+special "chars"'

const scanner = new SecretScanner()
scanner.add(SECRET)
scanner.add(SPECIAL)

const b64 = (text: string, encoding: 'base64' | 'base64url' = 'base64'): string => Buffer.from(text).toString(encoding)
const percentAll = (text: string): string => [...text].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')
const jsonAll = (text: string): string => [...text].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')

/** Stream `chunks` through the body filter: the refusal's code (or null), and what was passed on. */
async function filterBody(chunks: readonly Buffer[]): Promise<{ code: string | null; passed: string }> {
  const passed: Buffer[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      passed.push(chunk)
      done()
    },
  })
  const code = await pipeline(Readable.from(chunks), filterStream(scanner.bodyFilter()), sink).then(
    () => null,
    (err: { code?: string }) => err.code ?? 'untyped',
  )
  return { code, passed: Buffer.concat(passed).toString('latin1') }
}

/** `text` through the body filter in `size`-byte chunks. */
function scanBody(text: string, size: number): Promise<{ code: string | null; passed: string }> {
  const bytes = Buffer.from(text, 'latin1')
  return filterBody(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)))
}

const CHUNK_SIZES = [1, 2, 3, 5, 7, 64, 1 << 16]

/**
 * Where the first form searched for begins in `body`: where masking starts, or for a JSON-escaped
 * form (which only bodies decode, and masking does not) where `form` itself does.
 */
function formStart(body: string, form: string): number {
  const masked = scanner.mask(body)
  for (let i = 0; i < body.length; i++) if (masked[i] !== body[i]) return i
  return body.indexOf(form)
}

/** Where a form is looked for: the views every request field has, and those only bodies have. */
type Reach = 'everywhere' | 'bodies'

t.test('each form of a secret is found wherever the agent puts it', async (t) => {
  const table: [rule: string, reach: Reach, forms: string[]][] = [
    ['as is, and in any letter case', 'everywhere', [SECRET, SECRET.toUpperCase(), SPECIAL, `Bearer ${SECRET}`]],
    ['base64 at alignment 0, 1 and 2 inside longer base64, and base64url', 'everywhere', [b64(SECRET), b64(`a${SECRET}!`), b64(`ab${SECRET}!?`), b64(`a${SPECIAL}`, 'base64url'), b64(`xy${SECRET}`, 'base64url')]],
    ['a Basic credential built around it', 'everywhere', [`Basic ${b64(`user:${SECRET}`)}`, `Basic ${b64(`${SECRET}:x`)}`, `Basic ${b64(`u:${SPECIAL}`)}`]],
    ['percent-encoded, whole or in part, hex in any case', 'everywhere', [percentAll(SECRET), '%73%6b-live-4f9Qz7Xw2Lm8', 'sk%2Dlive%2D4f9Qz7Xw2Lm8', percentAll(SPECIAL), encodeURIComponent(SPECIAL)]],
    ['form-encoded (space as +)', 'everywhere', [new URLSearchParams({ k: SPECIAL }).toString().slice(2), SPECIAL.replaceAll(' ', '+')]],
    ['base64, then percent-encoded', 'everywhere', [encodeURIComponent(b64(SPECIAL)), encodeURIComponent(b64(`ab${SECRET}`))]],
    ['JSON-escaped as the JSON text of a string', 'everywhere', [JSON.stringify(SPECIAL).slice(1, -1), JSON.stringify(SPECIAL).slice(1, -1).replaceAll('/', '\\/')]],
    ['JSON \\u escapes of ASCII letters, in bodies', 'bodies', [`\\u0073k-live-4f9Qz7Xw2Lm8`, jsonAll(SECRET), 'sk-live-4f9\\u0051z7Xw2Lm8', jsonAll(SPECIAL)]],
  ]
  for (const [rule, reach, forms] of table) {
    for (const form of forms) {
      const name = `${rule}: ${JSON.stringify(form)}`
      const inFields = reach === 'everywhere'
      t.equal(scanner.foundIn(form), inFields, `${name} as one field`)
      t.equal(scanner.foundInRequest(`/v1/x?q=${form}`, []), inFields, `${name} in the query`)
      t.equal(scanner.foundInRequest(`http://api.test/${form}`, []), inFields, `${name} in the path of an absolute-form target`)
      t.equal(scanner.foundInRequest('/', ['X-Data', form]), inFields, `${name} in a header value`)
      t.equal(scanner.foundInFields(['ok', `prefix ${form} suffix`]), inFields, `${name} among fields`)
      t.ok(scanner.foundInBuffer(Buffer.from(`{"data":"${form}"}`, 'latin1')), `${name} in a buffered body`)
      for (const size of CHUNK_SIZES) {
        const body = `payload=${'a'.repeat(40)}&data=${form}&tail=1`
        const { code, passed } = await scanBody(body, size)
        t.equal(code, 'SIDEKEY_ERR_SECRET_DETECTED', `${name} in a body streamed in ${size}-byte chunks`)
        // Nothing is held back, so its first bytes may have passed, never two thirds of it (which
        // the scanner reads as the secret, decoded or not) nor all of it.
        t.ok(body.startsWith(passed) && passed.length < formStart(body, form) + form.length && !scanner.foundInBuffer(Buffer.from(passed, 'latin1')), `${name}: less than two thirds of it passed (${passed.length} of ${body.length}, ${size}-byte chunks)`)
      }
    }
  }
})

t.test('a secret split at every point between two chunks is caught before two thirds of it pass', async (t) => {
  const forms = [SECRET, percentAll(SECRET), b64(`ab${SECRET}`), jsonAll(SECRET), `\\u0073k-live-4f9Qz7Xw2Lm8`]
  for (const form of forms) {
    const body = `before ${form} after`
    const at = formStart(body, form)
    let missed = 0
    let leaked = 0
    const from = body.indexOf(form)
    for (let split = from + 1; split < from + form.length; split++) {
      const { code, passed } = await filterBody([Buffer.from(body.slice(0, split), 'latin1'), Buffer.from(body.slice(split), 'latin1')])
      if (code === null) missed++
      // Nothing is held back, so what came before the split passed; the rest did not.
      if (passed.length > Math.max(at, split)) leaked++
      if (scanner.foundInBuffer(Buffer.from(passed, 'latin1'))) leaked++
    }
    t.equal(missed, 0, `${JSON.stringify(form)}: caught at each of ${form.length - 1} split points`)
    t.equal(leaked, 0, `${JSON.stringify(form)}: nothing after the split, and never two thirds of it, passed at any split point`)
  }
})

t.test('most of a secret counts as the secret: a hold-back oracle ends at two thirds of it', async (t) => {
  // Found by a red-team run: streamed chunk by chunk through an echoing upstream, the bytes the
  // body filter held back told the agent which prefix of a key was right, one character at a time
  // (35 requests for a 20-character key). A text that holds two thirds of a secret's form is now
  // refused as the secret is, and nothing is held back any more (next test).
  t.equal(partialMatchAlarm(20), 14)
  t.equal(partialMatchAlarm(9), 8)
  t.equal(partialMatchAlarm(6), 6, 'all of a needle shorter than 8')
  for (const text of ['sk-live-4f9Qz7Xw2Lm9', 'sk-live-4f9Qz7Xw2Lm', 'sk-live-4f9Qz7Xw2Lm-8', 'sk-live-4f9Qz7', `#${b64('sk-live-4f9Qz7X')}`]) {
    t.ok(scanner.foundIn(text), `${JSON.stringify(text)} as one field`)
    t.ok(scanner.foundInRequest(`/x?q=${text}`, []), `${JSON.stringify(text)} in a request`)
    t.same((await scanBody(text, 1)).code, 'SIDEKEY_ERR_SECRET_DETECTED', `${JSON.stringify(text)} streamed a byte at a time`)
  }
  t.notOk(scanner.foundIn('sk-live-4f9Qz'), 'a prefix short of two thirds is not')
})

t.test('nothing is held back: what passes, and when, does not depend on whether it begins a secret', async (t) => {
  // The oracle itself, closed: a candidate prefix of the key, right or wrong, passes whole and at
  // once, in a request body and through response scrubbing alike. Before, the right one's bytes
  // were held back (and a bidirectional stream whose message ended in them stalled).
  const alarm = partialMatchAlarm(SECRET.length)
  const responses = scrubFilter(scanner.needles())
  for (let k = 1; k < alarm; k++) {
    for (const candidate of [SECRET.slice(0, k), `${SECRET.slice(0, k - 1)}#`]) {
      const chunk = Buffer.from(`message ${candidate}`, 'latin1')
      const body = scanner.bodyFilter()
      t.same(body.push(chunk), chunk, `request: ${JSON.stringify(candidate)} passed whole`)
      t.same(responses.push(chunk), chunk, `response: ${JSON.stringify(candidate)} passed whole`)
    }
  }
  const body = scanner.bodyFilter()
  t.throws(() => body.push(Buffer.from(`message ${SECRET.slice(0, alarm)}`)), { code: 'SIDEKEY_ERR_SECRET_DETECTED' }, 'two thirds of it are the secret')
  const scrub = scrubFilter(scanner.needles())
  t.equal(scrub.push(Buffer.from(`message ${SECRET.slice(0, alarm)}`))?.toString(), `message ${'[redacted]'.padEnd(alarm, '*')}`, 'and masked in a response as they pass')
  t.equal(scrub.push(Buffer.from(`${SECRET.slice(alarm)} ok`))?.toString(), `${'*'.repeat(SECRET.length - alarm)} ok`, 'with the rest of it, as it comes')
  // Past two thirds, the mask covers the secret's length whatever comes: one that stopped where
  // the echo stopped spelling the secret would tell an agent whether its next character was right.
  for (const next of [SECRET.slice(alarm), 'X'.repeat(SECRET.length - alarm), '#!']) {
    const f = scrubFilter(scanner.needles())
    const out = [f.push(Buffer.from(`a ${SECRET.slice(0, alarm)}`)), f.push(Buffer.from(`${next} tail`))].map((b) => b?.toString() ?? '').join('')
    const masked = SECRET.length + 2
    t.equal(out.slice(0, masked), `a ${'[redacted]'.padEnd(SECRET.length, '*')}`.slice(0, Math.min(masked, 2 + alarm + next.length + 5)), `followed by ${JSON.stringify(next)}: the same mask`)
    t.equal(out.length, `a ${SECRET.slice(0, alarm)}${next} tail`.length, 'the same length')
  }
})

t.test('JavaScript and HTML escapes are read where sidekey masks (response heads, its own log lines) and in request bodies, not in request fields', async (t) => {
  for (const text of ['\\x73k-live-4f9Qz7Xw2Lm8', '&#115;k-live-4f9Qz7Xw2Lm8', '&#x73;k-live-4f9Qz7Xw2Lm8']) {
    t.not(scanner.mask(text), text, `${text} is masked`)
    t.notOk(scanner.foundIn(text), `${text} is not refused as a field (docs/security.md: what detection cannot catch)`)
    // One decoder for outbound bodies and response scrubbing (guard/escape-view.ts).
    t.ok(scanner.foundInBuffer(Buffer.from(`{"k":"${text}"}`)), `${text} is refused in a buffered body`)
    for (const size of [1, 3, 64]) t.equal((await scanBody(`{"k":"${text}"}`, size)).code, 'SIDEKEY_ERR_SECRET_DETECTED', `${text} streamed in ${size}-byte chunks`)
  }
})

t.test('near misses pass untouched', async (t) => {
  const table: [rule: string, texts: string[]][] = [
    ['one character changed, missing or added within its first two thirds', ['sk-live-4f9QzXw2Lm8', 'k-live-4f9Qz7Xw2Lm8', 'sk-live-4f9Qz 7Xw2Lm8', 'sk-lIve-4f9Qz7Xw2Lm8'.replace('I', 'X')]],
    ['base64 of a secret that differs in its middle', [b64('sk-live-4f9Qz7Xw2Lm8'.replace('Q', 'R')), b64('ab' + 'sk-live-4f9Qz7Xw2Lm8'.replace('9', '8'))]],
    ['encodings the scanner does not undo (layered, hex, reversed)', [encodeURIComponent(percentAll(SECRET)), '%2573k-live-4f9Qz7Xw2Lm8', Buffer.from(SECRET).toString('hex'), [...SECRET].reverse().join('')]],
    ['JSON escapes that do not spell the letter', ['\\u00g3k-live-4f9Qz7Xw2Lm8', '\\u0173k-live-4f9Qz7Xw2Lm8', '\\\\u0073k-live-4f9Qz7Xw2Lm8']],
    ['ordinary text around a prefix of it', ['sk-live-4f9 and more', '100% sure %41 sk-', '{"model":"gpt-4o","stream":true}']],
  ]
  for (const [rule, texts] of table) {
    for (const text of texts) {
      const name = `${rule}: ${JSON.stringify(text)}`
      t.notOk(scanner.foundIn(text), `${name} as one field`)
      t.notOk(scanner.foundInRequest(`/x?q=${text}`, ['X-Data', text]), `${name} in a request`)
      t.notOk(scanner.foundInBuffer(Buffer.from(text, 'latin1')), `${name} in a buffered body`)
      t.equal(scanner.mask(text), text, `${name} is not masked`)
      for (const size of [1, 3, 64]) t.same(await scanBody(text, size), { code: null, passed: text }, `${name} streamed whole in ${size}-byte chunks`)
    }
  }
})

t.test('base64 drops the last character when the secret ends mid-group, so only that character may differ', async (t) => {
  // 20 bytes end 2 bytes into a 3-byte group: the last base64 character also holds bits of what
  // follows, so it is not part of the form searched for. A text that differs from the secret only
  // in the low 4 bits of its last byte ("8" and "9" do) has the same searched form.
  t.ok(scanner.foundIn(b64('sk-live-4f9Qz7Xw2Lm9')), 'base64 of the secret with its last character 8 -> 9 is found')
  // (Both also hold two thirds of a form of the secret, which is refused on its own: see above.)
  t.notOk(scanner.foundIn(b64('sk-live-4fXQz7Xw2Lm8')), 'base64 of a text that differs before two thirds is not')
})

t.test('the request: Proxy-Authorization is sidekey\'s own, fields are searched apart, header names count', async (t) => {
  const table: [rule: string, path: string, headers: string[], found: boolean][] = [
    ['the run token header is never forwarded, so not searched', '/', ['Proxy-Authorization', SECRET, 'proxy-authorization', b64(SECRET)], false],
    ['a header name', '/', [`X-${SECRET}`, '1'], true],
    ['a header value', '/', ['Authorization', `Bearer ${SECRET}`], true],
    ['the host of an absolute-form target', `http://${SECRET}.evil.test/`, [], true],
    ['two fields that each hold half', '/', ['X-A', SECRET.slice(0, 10), 'X-B', SECRET.slice(10)], false],
    ['the path and a header that each hold half', `/${SECRET.slice(0, 10)}`, ['X-B', SECRET.slice(10)], false],
  ]
  for (const [rule, path, headers, found] of table) t.equal(scanner.foundInRequest(path, headers), found, rule)
})

t.test('what the scanner remembers', async (t) => {
  const fresh = new SecretScanner()
  t.same([fresh.foundIn(SECRET), fresh.foundInBuffer(Buffer.from(SECRET)), fresh.foundInRequest(SECRET, []), fresh.mask(SECRET)], [false, false, false, SECRET], 'nothing known, nothing found')
  fresh.add('1234567')
  t.equal(fresh.size, 0, 'a secret shorter than 8 characters is not scanned for')
  fresh.add('12345678')
  fresh.add('12345678')
  t.equal(fresh.size, 1, 'adding is idempotent')
  // A static secret (no slot) is pinned: a red-team run pushed one out with a thousand forced
  // token refreshes, after which the agent could send it anywhere unnoticed.
  // Distinct tokens (two thirds of one would count as another sharing its prefix).
  const token = (i: number): string => createHash('sha256').update(String(i)).digest('hex').slice(0, 24)
  for (let i = 0; i < 1500; i++) fresh.add(token(i), `slot-${i}`)
  t.equal(fresh.size, 1001, 'at most 1000 obtained secrets, besides the pinned ones')
  t.ok(fresh.foundIn('x 12345678 x'), 'a pinned secret is never forgotten')
  t.notOk(fresh.foundIn(`x ${token(499)} x`), 'the oldest obtained one is forgotten first')
  t.ok(fresh.foundIn(`x ${token(1499)} x`))
  const slots = new SecretScanner()
  slots.add('static-secret-1', null)
  for (let i = 0; i < 50; i++) slots.add(token(i), 'crm\0agent')
  t.equal(slots.size, 3, 'a slot keeps its last two tokens, however often it is refilled')
  t.same([token(48), token(49), token(47), 'static-secret-1'].map((x) => slots.foundIn(`x ${x} x`)), [true, true, false, true])
  slots.add('static-secret-1', 'static\0agent')
  for (let i = 100; i < 103; i++) slots.add(token(i), 'static\0agent')
  t.ok(slots.foundIn('x static-secret-1 x'), 'obtained through a slot too, a pinned secret stays')
  const needles = slots.needles()
  slots.add(token(49), 'crm\0agent')
  t.equal(slots.needles(), needles, 'a secret used again changes nothing to search for')
  t.equal(fresh.needles(), fresh.needles(), 'the common case shares one array (and so one automaton)')
  t.equal(fresh.needles(['short', 'long-enough-extra']).length, fresh.needles().length + 1, 'extra forms shorter than 8 are left out')
})

t.test('a slot remembers its tokens while they are valid, and says when no more may be replaced early', async (t) => {
  // Found by a red-team run: an agent had an upstream answer 401 twice, 10 s apart; the slot kept
  // two tokens, so the person's first one, valid for most of an hour still, was forgotten, read back
  // unmasked from an echoing endpoint, and sent out unnoticed.
  let now = 1_000_000
  const scanner = new SecretScanner(() => now)
  const token = (i: number): string => createHash('sha256').update(`rotation-${i}`).digest('hex').slice(0, 24)
  const hour = 3_600_000
  const slot = 'grant\0agent'
  let i = 0
  while (scanner.mayReplace(slot)) {
    scanner.add(token(i++), slot, now + hour)
    now += 10_000
  }
  t.equal(i, MAX_LIVE_PER_SLOT - 1, 'replaced early until the slot holds as many valid tokens as it keeps, less one')
  for (let k = 0; k < i; k++) t.ok(scanner.foundIn(`x ${token(k)} x`), `token ${k}, still valid, is still known`)
  // The next one (its expiry) comes anyway: still nothing valid forgotten.
  scanner.add(token(i++), slot, now + hour)
  t.ok(scanner.foundIn(`x ${token(0)} x`))
  // Once they expire, they go; the last two stay whatever their expiry.
  now += 2 * hour
  scanner.add(token(i++), slot, now + hour)
  t.ok(scanner.mayReplace(slot))
  t.equal(scanner.size, 2, 'expired ones forgotten, the last two kept')
  t.ok(scanner.foundIn(`x ${token(i - 2)} x`), 'the one before, expired, is still one of the last two')
  t.notOk(scanner.foundIn(`x ${token(0)} x`))
  // A token without a known expiry is kept only as one of the last two (as before).
  for (let k = 100; k < 110; k++) scanner.add(token(k), 'static-ish\0agent')
  t.equal(scanner.size, 4)
})

t.test('masking for what sidekey writes: same length, whole escaped span', async (t) => {
  const table: [text: string, masked: string][] = [
    [`a ${SECRET} b`, 'a [redacted]********** b'],
    [`${SECRET.toUpperCase()}.evil`, '[redacted]**********.evil'],
    ['%73%6b-live-4f9Qz7Xw2Lm8', '[redacted]**************'],
    // base64: from the first character that holds only the secret's bits to the last that does.
    [`x=${b64(`ab${SECRET}`)}`, 'x=YWJ[redacted]****************A=='],
    ['nothing here', 'nothing here'],
  ]
  for (const [text, masked] of table) {
    t.equal(scanner.mask(text), masked, JSON.stringify(text))
    t.equal(scanner.mask(text).length, text.length, `${JSON.stringify(text)}: the length is kept`)
  }
})

t.test('escapes decoded as a stream (the decoder outbound detection and response scrubbing share): an escape split across chunks decodes whole', async (t) => {
  const table: [rule: string, chunks: string[], decoded: string][] = [
    ['\\u escape of an ASCII character, split at every point', ['\\', 'u', '0', '0', '7', '3'], 's'],
    ['\\/ split', ['a\\', '/b'], 'a/b'],
    ['other escapes stay as written, and \\\\ starts no new one', ['\\n \\"', ' \\\\u0073'], '\\n \\" \\\\u0073'],
    ['a code point of 0x80 or more stays escaped', ['\\u00e9 \\u12', '34'], '\\u00e9 \\u1234'],
    ['a broken escape stays as written, and the byte that broke it starts over', ['\\u00', 'g\\u0041'], '\\u00gA'],
    ['an escape open at the end stands for itself', ['x \\u00'], 'x \\u00'],
    ['JavaScript \\x and HTML references, split', ['\\x', '2d &#4', '5; &#x', '2D;'], '- - -'],
    ['percent escapes stay: the detector decodes them in each view itself (twice would undo %2573)', ['%7', '3k %2573'], '%73k %2573'],
  ]
  for (const [rule, chunks, decoded] of table) {
    const d = new EscapeDecoder()
    const out = chunks.map((c) => d.push(Buffer.from(c, 'latin1')).toString('latin1')).join('') + d.end().toString('latin1')
    t.equal(out, decoded, rule)
  }
})
