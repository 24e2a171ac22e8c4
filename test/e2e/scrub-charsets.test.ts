import { gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { ProxyAgent, request } from 'undici'
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js'
import { h2Request, h2ThroughProxy, startH2Upstream } from '../helpers/h2.js'
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js'
import { basicAuth } from '../helpers/tunnels.js'
import { startUpstream, upstreamTrust } from '../helpers/upstream.js'

// An upstream that echoes the Authorization header it got in a body declared UTF-16 or UTF-32:
// the agent, decoding by the declared charset as Python's requests does, reads no secret in any
// form (as is, the base64 of a Basic credential, JSON `\u002d` or `%2D` escapes), and an ordinary
// body in those charsets arrives as the same text, now in UTF-8. Found by a red-team run: the
// scrubber searched UTF-16 only for the secret as is and JSON-escaped, so `Basic
// base64(user:secret)` in `charset=utf-16` reached the agent whole.

const secret = SECRETS.OPENAI
/** What the agent must never read: any run of the secret as long as two thirds of it. */
const PIECES = [...Array(secret.length - partialMatchAlarm(secret.length) + 1).keys()].map((i) => secret.slice(i, i + partialMatchAlarm(secret.length)))

/** How each case's body is written: the declared charset, the byte order, and a byte order mark. */
const CHARSETS: Record<string, { label: string; unit: 2 | 4; order: 'le' | 'be'; bom: boolean }> = {
  // As Python's `str.encode('utf-16')` writes it: a mark, then little-endian.
  'utf-16-bom': { label: 'utf-16', unit: 2, order: 'le', bom: true },
  // No mark: big-endian (RFC 2781 section 4.3).
  'utf-16': { label: 'utf-16', unit: 2, order: 'be', bom: false },
  'utf-16le': { label: 'utf-16le', unit: 2, order: 'le', bom: false },
  'utf-16be': { label: 'utf-16be', unit: 2, order: 'be', bom: false },
  'utf-32be': { label: 'utf-32be', unit: 4, order: 'be', bom: false },
  'utf-32-bom': { label: 'utf-32', unit: 4, order: 'le', bom: true },
}

/** Every character but letters, digits and spaces escaped, as serializers that escape them all write it. */
const jsonEscaped = (s: string): string => s.replace(/[^A-Za-z0-9 ]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
const percentEscaped = (s: string): string => s.replace(/[^A-Za-z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
const SHAPES: Record<string, (auth: string) => string> = {
  json: (auth) => JSON.stringify({ headers: { authorization: auth } }),
  escaped: (auth) => `{"headers":{"authorization":"${jsonEscaped(auth)}"}}`,
  percent: (auth) => JSON.stringify({ next: `https://example.test/cb?auth=${percentEscaped(auth)}` }),
}
/** An answer that echoes nothing: it must arrive as the same text. */
const ORDINARY = 'Grüße, 世界 😀: “quoted”, a \ufeff inside, \\u0041 kept as written, and the end.'

function encode(text: string, charset: { unit: 2 | 4; order: 'le' | 'be'; bom: boolean }): Buffer {
  const points = [...(charset.bom ? `\ufeff${text}` : text)].map((c) => c.codePointAt(0)!)
  if (charset.unit === 2) {
    const le = Buffer.from(String.fromCodePoint(...points), 'utf16le')
    return charset.order === 'le' ? le : le.swap16()
  }
  const out = Buffer.alloc(points.length * 4)
  points.forEach((p, i) => (charset.order === 'le' ? out.writeUInt32LE(p, i * 4) : out.writeUInt32BE(p, i * 4)))
  return out
}

/** The body the way a client decoding by the declared charset reads it (a wide one: in either byte order). */
function decodeAs(bytes: Buffer, contentType: string): string[] {
  const charset = /charset\s*=\s*"?([^";,\s]*)/i.exec(contentType)?.[1]?.toLowerCase() ?? 'utf-8'
  if (charset === 'utf-8') return [new TextDecoder('utf-8', { fatal: true }).decode(bytes)]
  if (charset.startsWith('utf-16')) return ['utf-16le', 'utf-16be'].map((label) => new TextDecoder(label).decode(bytes))
  return [(i: number) => bytes.readUInt32LE(i), (i: number) => bytes.readUInt32BE(i)].map((read) =>
    [...Array(Math.floor(bytes.length / 4)).keys()].map((i) => read(i * 4)).map((p) => (p <= 0x10ffff ? String.fromCodePoint(p) : '\ufffd')).join(''),
  )
}

/** Every way the agent may read `text`: as is, escapes decoded, and each base64 run in those decoded. */
function readings(text: string): string[] {
  const unescaped = text.replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replaceAll('\\/', '/')
  const unpercent = (s: string): string => s.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))
  const plain = [text, unescaped, unpercent(text), unpercent(unescaped)]
  const decoded = plain.flatMap((s) => [...s.matchAll(/[A-Za-z0-9+/=_-]{12,}/g)].map((m) => Buffer.from(m[0], 'base64').toString('latin1')))
  return [...plain, ...decoded]
}

/** Writes `body` in pieces of 7 bytes (inside a character in every wide charset), a pause between. */
function writeSplit(res: { write(b: Buffer): unknown; end(b: Buffer): unknown; destroyed: boolean }, body: Buffer): void {
  let at = 0
  const next = (): void => {
    if (res.destroyed) return
    if (at + 7 >= body.length) return void res.end(body.subarray(at))
    res.write(body.subarray(at, at + 7))
    at += 7
    setTimeout(next, 2)
  }
  next()
}

t.test('echoes in UTF-16 and UTF-32 bodies are masked as the agent decodes them', async (t) => {
  const upstream = await startUpstream((req, res) => {
    const [, kind, name, shape] = (req.url ?? '/').split('/') as [string, string, string, string]
    const auth = String(req.headers.authorization ?? '')
    if (kind === 'echo' || kind === 'plain') {
      const charset = CHARSETS[name]!
      res.writeHead(200, { 'content-type': `application/json; charset=${charset.label}` })
      return writeSplit(res, encode(kind === 'echo' ? SHAPES[shape]!(auth) : ORDINARY, charset))
    }
    const le16 = (text: string): Buffer => encode(text, CHARSETS['utf-16le']!)
    if (kind === 'sized') {
      const body = le16(ORDINARY)
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-16le', 'content-length': body.length })
      return void res.end(body)
    }
    if (kind === 'gzip') {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-16le', 'content-encoding': 'gzip' })
      return void res.end(gzipSync(le16(SHAPES.escaped!(auth))))
    }
    if (kind === 'quoted') {
      res.writeHead(200, { 'content-type': 'application/json; charset="UTF-16BE"' })
      return writeSplit(res, encode(SHAPES.percent!(auth), CHARSETS['utf-16be']!))
    }
    if (kind === 'twice') {
      // The field repeated (a CDN may send it twice): the repeats arrive joined with ", ".
      const second = name === 'agree' ? 'application/json; charset=utf-16le' : name === 'param' ? 'application/json; charset=utf-16le; charset=utf-8' : 'application/json; charset=utf-8'
      res.writeHead(200, ['content-type', 'application/json; charset=utf-16le', 'content-type', second])
      return writeSplit(res, le16(SHAPES.escaped!(auth)))
    }
    if (kind === 'undeclared') {
      // UTF-16 with no charset declared: a client guesses it (Python's requests: by the byte order
      // mark, or by RFC 4627's NUL pattern for JSON). Found by a red-team run.
      const bom = name === 'bom'
      const body = Buffer.concat([bom ? Buffer.from([0xff, 0xfe]) : Buffer.alloc(0), le16(JSON.stringify({ authorization: auth }))])
      res.writeHead(200, shape === 'none' ? {} : { 'content-type': shape === 'quoted' ? 'text/plain; "charset"=utf-16' : 'application/problem+json' })
      return writeSplit(res, shape === 'quoted' ? encode(JSON.stringify({ authorization: auth }), CHARSETS['utf-16-bom']!) : body)
    }
    res.writeHead(404)
    res.end()
  })
  t.teardown(() => upstream.close())
  const trust = await upstreamTrust()
  // The same over HTTP/2, from upstream to agent.
  const h2 = await startH2Upstream(trust, 'h2.test', (req, res) => {
    const auth = String(req.headers.authorization ?? '')
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-16' })
    writeSplit(res, encode(req.url === '/ordinary' ? ORDINARY : SHAPES.escaped!(auth), CHARSETS['utf-16-bom']!))
  })
  t.teardown(() => h2.close())
  const port = upstream.port
  const sk = await startTestSidekey(
    t,
    `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: api, host: api.test, ports: [${port}], addresses: [127.0.0.1], credential: key }
  - { name: basic, host: basic.test, ports: [${port}], addresses: [127.0.0.1], credential: key, inject: { basic: { username: "user", password: "{secret}" } } }
  - { name: h2, host: h2.test, addresses: [127.0.0.1], credential: key }
`,
    { upstreamCaFile: trust.caFile, connectTo: { [`api.test:${port}`]: { host: '127.0.0.1', port }, [`basic.test:${port}`]: { host: '127.0.0.1', port }, 'h2.test:443': { host: '127.0.0.1', port: h2.port } } },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  const get = async (url: string) => {
    const res = await request(url, { dispatcher })
    const body = Buffer.from(await res.body.arrayBuffer())
    return { status: res.statusCode, type: String(res.headers['content-type']), headers: res.headers, body }
  }
  /** Asserts that no reading of what the agent got holds two thirds of the secret. */
  const noSecret = (t: Test, texts: string[], what: string): void => {
    const found = texts.flatMap(readings).flatMap((r) => PIECES.filter((p) => r.includes(p)))
    t.same(found, [], `${what}: the agent reads no two thirds of the secret (${texts[0]!.slice(0, 70)})`)
  }

  for (const route of ['api', 'basic']) {
    t.test(`${route === 'api' ? 'Bearer' : 'Basic'} credential echoed in every wide charset, as is and escaped`, async (t) => {
      for (const name of Object.keys(CHARSETS)) {
        for (const shape of Object.keys(SHAPES)) {
          const r = await get(`http://${route}.test:${port}/echo/${name}/${shape}`)
          t.equal(r.status, 200, `${name} ${shape}`)
          t.equal(r.type, 'application/json; charset=utf-8', `${name} ${shape}: the agent is told the body is UTF-8`)
          const texts = decodeAs(r.body, r.type)
          noSecret(t, texts, `${name} ${shape}`)
          t.match(texts[0], shape === 'percent' ? /^\{"next":"https:\/\/example\.test\/cb\?auth=/ : /^\{"headers":\{"authorization":"/, `${name} ${shape}: the rest of the answer arrived`)
        }
      }
      const line = await sk.sink.waitForAudit((a) => a.host === `${route}.test` && a.path === '/echo/utf-32-bom/percent')
      t.ok((line.scrubbed ?? 0) >= 1, 'the audit line counts the mask')
    })
  }

  t.test('an ordinary body in a wide charset arrives as the same text, in UTF-8', async (t) => {
    for (const name of Object.keys(CHARSETS)) {
      const r = await get(`http://api.test:${port}/plain/${name}`)
      t.equal(r.type, 'application/json; charset=utf-8', name)
      t.equal(r.body.toString('utf8'), ORDINARY, `${name}: the same text (a leading byte order mark dropped)`)
    }
    const sized = await get(`http://api.test:${port}/sized`)
    t.equal(sized.type, 'text/plain; charset=utf-8')
    t.equal(sized.body.toString('utf8'), ORDINARY, 'a body with a Content-Length arrives whole')
    t.not(sized.headers['content-length'], String(encode(ORDINARY, CHARSETS['utf-16le']!).length), 'its Content-Length is not the UTF-16 one')
  })

  t.test('a gzip body in UTF-16 is decoded, then re-encoded, then scrubbed', async (t) => {
    const r = await get(`http://basic.test:${port}/gzip`)
    t.equal(r.status, 200)
    t.equal(r.headers['content-encoding'], undefined)
    t.equal(r.type, 'application/json; charset=utf-8')
    noSecret(t, decodeAs(r.body, r.type), 'gzip')
  })

  t.test('a quoted charset, and one given twice alike, are re-encoded; two that disagree are refused', async (t) => {
    const quoted = await get(`http://basic.test:${port}/quoted`)
    t.equal(quoted.type, 'application/json; charset=utf-8')
    noSecret(t, decodeAs(quoted.body, quoted.type), 'quoted')
    const agree = await get(`http://basic.test:${port}/twice/agree`)
    t.equal(agree.status, 200)
    t.notMatch(agree.type, /utf-16/i, 'every repeat says utf-8')
    noSecret(t, decodeAs(agree.body, agree.type), 'repeated alike')
    for (const how of ['disagree', 'param']) {
      const r = await get(`http://basic.test:${port}/twice/${how}`)
      t.equal(r.status, 502, how)
      t.equal(r.headers['x-sidekey-error'], 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE')
      t.match(JSON.parse(r.body.toString()).message, /declared two charsets for one answer, "utf-16le" and "utf-8"/)
      noSecret(t, [r.body.toString('utf8'), r.body.toString('utf16le')], how)
    }
  })

  t.test('UTF-16 that declares no charset (or hides it in a quoted name) never reaches the agent unscrubbed', async (t) => {
    for (const [name, shape] of [['bom', 'problem'], ['bom', 'none'], ['nul', 'problem'], ['nul', 'none']] as const) {
      const r = await request(`http://basic.test:${port}/undeclared/${name}/${shape}`, { dispatcher })
      const body = await r.body.arrayBuffer().then((b) => Buffer.from(b), () => Buffer.alloc(0))
      noSecret(t, [body.toString('utf16le'), body.toString('utf8')], `${name}, ${shape}`)
      t.ok(body.length <= 4, `${name}, ${shape}: cut after at most the first four bytes (${body.length})`)
    }
    const quoted = await get(`http://basic.test:${port}/undeclared/x/quoted`)
    t.equal(quoted.type, 'text/plain; "charset"=utf-8', 'a quoted parameter name, as requests reads it, is a charset: re-encoded')
    noSecret(t, decodeAs(quoted.body, 'text/plain; charset=utf-8'), 'quoted name')
  })

  t.test('over HTTP/2, upstream and agent', async (t) => {
    const proxyPort = Number(new URL(sk.proxyUrl).port)
    const session = await h2ThroughProxy(proxyPort, 'h2.test:443', { auth: basicAuth('agent', sk.runTokens.mint('agent').token), ca: sk.ca.certPem })
    t.teardown(() => session.close())
    const echo = await h2Request(session, { ':method': 'GET', ':path': '/echo' })
    t.equal(echo.status, 200)
    t.equal(echo.headers['content-type'], 'application/json; charset=utf-8')
    t.equal(h2.seen.at(-1)!.headers.authorization, `Bearer ${secret}`, 'the upstream got the credential')
    noSecret(t, decodeAs(echo.body, String(echo.headers['content-type'])), 'h2')
    const ordinary = await h2Request(session, { ':method': 'GET', ':path': '/ordinary' })
    t.equal(ordinary.body.toString('utf8'), ORDINARY)
  })

  noSecretsLogged(t, sk)
})
