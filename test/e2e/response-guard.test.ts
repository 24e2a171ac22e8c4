import { createHash } from 'node:crypto'
import { brotliCompressSync, gzipSync } from 'node:zlib'
import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js'
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js'
import { startUpstream } from '../helpers/upstream.js'

// The response guard through the real proxy: an upstream that echoes the injected secret (as is,
// base64, URL-encoded, as the Basic credential, split across chunks, gzip- or brotli-compressed,
// in server-sent events) never hands it to the agent; pinned downloads arrive whole only when
// their SHA-256 matches.

const secret = SECRETS.OPENAI
const file = Buffer.alloc(256 * 1024, 'model-weights ')
const fileSha = createHash('sha256').update(file).digest('hex')

t.test('secret-echo scrubbing and pinned downloads', async (t) => {
  let release: () => void = () => undefined
  let paced: () => unknown = () => undefined
  const upstream = await startUpstream((req, res) => {
    const url = req.url ?? '/'
    const auth = String(req.headers.authorization ?? req.headers['x-api-key'] ?? '')
    const token = auth.replace(/^(Bearer|Basic) /, '')
    if (url.startsWith('/echo')) {
      const body = `you sent ${auth}; b64 ${Buffer.from(token).toString('base64')}; url ${encodeURIComponent(token)}; end`
      res.writeHead(200, { 'content-type': 'text/plain', 'x-echo': auth, 'content-length': Buffer.byteLength(body) })
      res.end(body)
    } else if (url.startsWith('/split')) {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write(`head ${token.slice(0, 7)}`)
      setTimeout(() => res.end(`${token.slice(7)} tail`), 50)
    } else if (url.startsWith('/gzip')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' })
      res.end(gzipSync(JSON.stringify({ debug: { headers: { authorization: auth } } })))
    } else if (url.startsWith('/br')) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'br' })
      res.end(brotliCompressSync(JSON.stringify({ echoed: auth })))
    } else if (url.startsWith('/wide-')) {
      // A debug endpoint answering in the charset the URL names (as a server honouring
      // Accept-Charset would), with a byte order mark as Python's codecs write one.
      const charset = url.slice('/wide-'.length)
      const text = JSON.stringify({ headers: { authorization: auth } })
      const le16 = Buffer.from(text, 'utf16le')
      const be16 = Buffer.from(le16).swap16()
      const be32 = Buffer.alloc(text.length * 4)
      for (let i = 0; i < text.length; i++) be32.writeUInt32BE(text.charCodeAt(i), i * 4)
      const le32 = Buffer.alloc(text.length * 4)
      for (let i = 0; i < text.length; i++) le32.writeUInt32LE(text.charCodeAt(i), i * 4)
      const body = { 'utf-16le': le16, 'utf-16be': be16, 'utf-16': Buffer.concat([Buffer.from([0xff, 0xfe]), le16]), 'utf-32be': be32, 'utf-32le': le32 }[charset]!
      res.writeHead(200, { 'content-type': `application/json; charset=${charset}` })
      // In two writes, split inside the secret's wide bytes.
      res.write(body.subarray(0, 41))
      setTimeout(() => res.end(body.subarray(41)), 20)
    } else if (url.startsWith('/charset-')) {
      // A debug endpoint answering in the charset the URL names, and telling what Accept-Charset it got.
      const charset = url.slice('/charset-'.length)
      res.writeHead(200, { 'content-type': `application/json; charset=${charset}`, 'x-accept-charset': String(req.headers['accept-charset'] ?? 'none') })
      res.end(charset === 'utf-8' ? JSON.stringify({ authorization: auth }) : 'bytes the scrubber cannot read')
    } else if (url.startsWith('/zstd')) {
      res.writeHead(200, { 'content-encoding': 'zstd' })
      res.end('not really zstd')
    } else if (url.startsWith('/sse')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      res.write(`data: {"delta":"hello"}\n\n`)
      release = () => res.end(`data: {"delta":"${token}"}\n\n`)
    } else if (url.startsWith('/b64-echo')) {
      // What a debug endpoint that base64-encodes the request headers it saw sends back.
      const body = JSON.stringify({ headers: { authorization: Buffer.from(auth).toString('base64'), 'x-json': Buffer.from(JSON.stringify({ auth })).toString('base64url') } })
      res.writeHead(200, { 'content-type': 'application/json', 'x-auth-b64': Buffer.from(auth).toString('base64'), [`x-seen-${token}`]: '1', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    } else if (url.startsWith('/stream-split')) {
      // A streamed completion that echoes the key a few characters per event, and the issue's
      // plain-data example.
      // `-twice`: the field repeated, as a CDN may send it (Node joins the repeats with ", ").
      res.writeHead(200, url.includes('twice') ? ['content-type', 'text/event-stream', 'content-type', 'text/event-stream'] : { 'content-type': 'text/event-stream' })
      const text = `Your key is ${token}, keep it safe.`
      const events = url.includes('plain') ? [`data: ${token.slice(0, 5)}\n\n`, `data: ${token.slice(5)}\n\n`] : []
      for (let i = 0; i < text.length && !url.includes('plain'); i += 3) events.push(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text.slice(i, i + 3) } }] })}\n\n`)
      events.push('data: [DONE]\n\n')
      let i = 0
      const next = (): void => {
        if (i === events.length) return void res.end()
        res.write(events[i++])
        setTimeout(next, 2)
      }
      next()
    } else if (url.startsWith('/stream-paced')) {
      // One event at a time, the next only once the test has seen the previous.
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      let n = 0
      paced = () => (n < 5 ? res.write(`data: ${JSON.stringify({ delta: `word ${n++} ` })}\n\n`) : res.end())
      paced()
    } else if (url === '/tiny') {
      // Arrives in one chunk, all of it held back until its hash is known.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': 4 })
      res.end('evil')
    } else if (url.startsWith('/file')) {
      const body = url.includes('tampered') ? Buffer.concat([file.subarray(0, file.length - 1), Buffer.from('X')]) : file
      if (url.includes('chunked')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        res.write(body.subarray(0, 100_000))
        setTimeout(() => res.end(body.subarray(100_000)), 20)
      } else {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
        res.end(body)
      }
    } else {
      res.writeHead(404)
      res.end('not here')
    }
  })
  t.teardown(() => upstream.close())
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
  - { name: raw, host: raw.test, ports: [${port}], addresses: [127.0.0.1], credential: key, scrub: false }
  - { name: weights, host: files.test, ports: [${port}], addresses: [127.0.0.1], pin_sha256: "${fileSha}" }
  - { name: tiny, host: tiny.test, ports: [${port}], addresses: [127.0.0.1], pin_sha256: "${createHash('sha256').update('good').digest('hex')}" }
`,
    { connectTo: Object.fromEntries(['api', 'basic', 'raw', 'files', 'tiny'].map((h) => [`${h}.test:${port}`, { host: '127.0.0.1', port }])) },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const res = await request(url, { dispatcher, headers })
    const body = await res.body.text()
    return { status: res.statusCode, headers: res.headers, body }
  }

  t.test('echoed in a header and the body, as is, base64 and URL-encoded', async (t) => {
    const r = await get(`http://api.test:${port}/echo`)
    t.equal(r.status, 200)
    t.notMatch(r.body, secret)
    t.notMatch(r.body, Buffer.from(secret).toString('base64'))
    t.notMatch(String(r.headers['x-echo']), secret)
    t.match(r.body, /you sent Bearer \[redacted\]/)
    t.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body), 'same-length masks keep Content-Length true')
    t.ok(await sk.sink.waitForAudit((a) => a.path === '/echo' && (a.scrubbed ?? 0) >= 4))
  })

  t.test('the Basic credential as sent', async (t) => {
    const r = await get(`http://basic.test:${port}/echo`)
    t.notMatch(String(r.headers['x-echo']), Buffer.from(`user:${secret}`).toString('base64'))
    t.notMatch(r.body, Buffer.from(`user:${secret}`).toString('base64'))
  })

  t.test('split across chunks', async (t) => {
    const r = await get(`http://api.test:${port}/split`)
    // Nothing is held back for what it could become (a held tail was an oracle for which prefix of
    // a key is right): the first chunk's 7 bytes of it, short of two thirds, went out as they were.
    t.notMatch(r.body, secret.slice(7))
    t.equal(r.body, `head ${secret.slice(0, 7)}${'[redacted]'.padEnd(secret.length - 7, '*')} tail`)
  })

  t.test('gzip and brotli bodies are decoded and scrubbed, whatever the agent accepts', async (t) => {
    const gz = await get(`http://api.test:${port}/gzip`, { 'accept-encoding': 'gzip' })
    t.equal(gz.headers['content-encoding'], undefined)
    t.notMatch(gz.body, secret)
    t.match(JSON.parse(gz.body), { debug: { headers: { authorization: /^Bearer \[redacted\]/ } } })
    t.equal(upstream.seen.at(-1)!.headers['accept-encoding'], 'gzip, deflate, br', 'asked only for codings sidekey can decode')
    const br = await get(`http://api.test:${port}/br`, { 'accept-encoding': 'zstd' })
    t.notMatch(br.body, secret)
    t.match(br.body, /\[redacted\]/)
  })

  t.test('an echo in UTF-16 or UTF-32 (either byte order) is masked, as the agent decodes it', async (t) => {
    // The body reaches the agent re-encoded as UTF-8, and says so (guard/response-transcode.ts;
    // every escaped and encoded form: test/e2e/scrub-charsets.test.ts). Before, it passed in its
    // charset with only the secret as is and JSON-escaped masked in it.
    for (const charset of ['utf-16le', 'utf-16be', 'utf-16', 'utf-32le', 'utf-32be']) {
      const res = await request(`http://api.test:${port}/wide-${charset}`, { dispatcher })
      const bytes = Buffer.from(await res.body.arrayBuffer())
      t.equal(res.statusCode, 200)
      t.equal(res.headers['content-type'], 'application/json; charset=utf-8', `${charset}: the agent is told the body is UTF-8`)
      const decoded = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
      t.notOk(decoded.includes(secret), `${charset}: the secret is not in the text the agent decodes`)
      t.match(decoded, /^\{"headers":\{"authorization":"Bearer \[redacted\]\**"\}\}$/, `${charset}: the rest of the answer arrived, the secret masked`)
    }
  })

  t.test('Accept-Charset does not go up, and an answer in a charset the scrubber cannot read is refused', async (t) => {
    // Found by a red-team run: asked for ibm037 (EBCDIC), a server echoed the key in bytes sidekey
    // never matched, and Python's requests decoded them back to the key.
    for (const charset of ['ibm037', 'cp500', 'cp1140', 'utf-7', '"UTF-7"']) {
      const res = await request(`http://api.test:${port}/charset-${encodeURIComponent(charset)}`, { dispatcher, headers: { 'accept-charset': charset } })
      const text = await res.body.text()
      t.equal(res.statusCode, 502, charset)
      t.equal(res.headers['x-sidekey-error'], 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE')
      t.match(JSON.parse(text).message, /in charset ".*", in which sidekey cannot find an echoed secret/)
    }
    const ok = await request(`http://api.test:${port}/charset-utf-8`, { dispatcher, headers: { 'accept-charset': 'ibm037' } })
    t.equal(ok.statusCode, 200)
    t.equal(ok.headers['x-accept-charset'], 'none', 'the Accept-Charset was not forwarded')
    t.notOk((await ok.body.text()).includes(secret), 'and the UTF-8 echo is masked')
  })

  t.test('a coding sidekey cannot decode is refused, not passed through', async (t) => {
    const r = await get(`http://api.test:${port}/zstd`)
    t.equal(r.status, 502)
    t.equal(r.headers['x-sidekey-error'], 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE')
  })

  t.test('server-sent events still stream, and are scrubbed', async (t) => {
    const res = await request(`http://api.test:${port}/sse`, { dispatcher })
    const chunks: string[] = []
    const first = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the first event was held back')), 3000)
      res.body.once('data', (c: Buffer) => {
        clearTimeout(timer)
        resolve(c.toString())
      })
    })
    t.match(first, /"hello"/, 'the first event arrives before the stream ends')
    release()
    for await (const c of res.body) chunks.push((c as Buffer).toString())
    t.notMatch(chunks.join(''), secret)
    t.match(chunks.join(''), /\[redacted\]/)
  })

  t.test('base64 and base64url of the whole injected value, and a header name, are masked', async (t) => {
    const r = await get(`http://api.test:${port}/b64-echo`)
    t.equal(r.status, 200)
    const bearer = Buffer.from(`Bearer ${secret}`).toString('base64')
    t.notMatch(r.body, bearer.slice(12, 28), 'no run of the base64 of "Bearer <secret>" that encodes the secret')
    t.notMatch(String(r.headers['x-auth-b64']), bearer.slice(12, 28))
    t.match(String(r.headers['x-auth-b64']), /^QmVhcmVyI.*\[redacted\]/, 'what encodes "Bearer " survives; the secret is masked')
    const json = JSON.parse(r.body) as { headers: { 'x-json': string } }
    t.notMatch(Buffer.from(json.headers['x-json'], 'base64url').toString('latin1'), /5f2b8e0c1d/, 'base64url of JSON holding the value')
    t.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body))
    const names = Object.keys(r.headers)
    t.notOk(names.some((n) => n.includes(secret)), 'no header name holds the secret')
    t.ok(names.some((n) => /^x-seen-redacted\*+$/.test(n)), `the name is masked with token characters: ${names.join(', ')}`)
  })

  for (const variant of ['deltas', 'plain', 'deltas-twice']) {
    t.test(`a secret split across server-sent events (${variant}) is masked in what the agent joins`, async (t) => {
      const res = await request(`http://api.test:${port}/stream-split-${variant}`, { dispatcher })
      const raw = await res.body.text()
      const events = raw.split('\n\n').filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]')
      const joined = variant === 'plain' ? events.map((e) => e.slice(6)).join('') : events.map((e) => (JSON.parse(e.slice(6)) as { choices: { delta: { content: string } }[] }).choices[0]!.delta.content).join('')
      // No event waits for the next (a held event told an agent which prefix of a key a model had
      // spelled out): what the agent can join of the secret is short of two thirds of it.
      t.notMatch(joined, secret.slice(0, partialMatchAlarm(secret.length)), 'the agent cannot assemble two thirds of the secret from the events')
      t.notMatch(joined, secret.slice(-6), 'nor its end')
      t.match(joined, variant === 'plain' ? new RegExp(`^${secret.slice(0, 5)}\\[reda`) : /^Your key is .*\[re.*, keep it safe\.$/)
      t.match(raw, /data: \[DONE\]\n\n$/, 'the stream ends as it was sent')
    })
  }

  t.test('ordinary events are not held back: each arrives before the next is sent', async (t) => {
    const res = await request(`http://api.test:${port}/stream-paced`, { dispatcher })
    const seen: string[] = []
    let buffered = ''
    for await (const chunk of res.body) {
      buffered += (chunk as Buffer).toString()
      const complete = buffered.split('\n\n')
      buffered = complete.pop()!
      seen.push(...complete)
      // Only now does the upstream write the next event: a held event would stall the stream.
      paced()
    }
    t.same(seen, [0, 1, 2, 3, 4].map((n) => `data: {"delta":"word ${n} "}`))
  })

  t.test('scrub: false passes echoes through (the documented opt-out)', async (t) => {
    const r = await get(`http://raw.test:${port}/echo`)
    t.match(r.body, secret)
  })

  t.test('pinned download: the right file arrives whole', async (t) => {
    const res = await request(`http://files.test:${port}/file`, { dispatcher })
    const body = Buffer.from(await res.body.arrayBuffer())
    t.equal(res.statusCode, 200)
    t.equal(createHash('sha256').update(body).digest('hex'), fileSha)
    t.equal(upstream.seen.at(-1)!.headers['accept-encoding'], 'identity')
  })

  for (const variant of ['tampered', 'tampered-chunked']) {
    t.test(`pinned download, ${variant}: the agent sees a failed download, never a complete wrong file`, async (t) => {
      const res = await request(`http://files.test:${port}/file-${variant}`, { dispatcher })
      t.equal(res.statusCode, 200)
      const got: Buffer[] = []
      const err = await (async () => {
        try {
          for await (const c of res.body) got.push(c as Buffer)
          return null
        } catch (e) {
          return e as Error
        }
      })()
      t.ok(err, 'the body fails')
      t.ok(Buffer.concat(got).length < file.length, `${Buffer.concat(got).length} of ${file.length} bytes arrived`)
      const audit = await sk.sink.waitForAudit((a) => a.path === `/file-${variant}`)
      t.equal(audit.error, 'SIDEKEY_ERR_PIN_MISMATCH')
    })
  }

  t.test('pinned download, wrong and held back whole: refused with 502 before any of it goes out', async (t) => {
    // Its head used to be written ahead of the body: the agent got a bare close after it, no status.
    const r = await get(`http://tiny.test:${port}/tiny`)
    t.equal(r.status, 502)
    t.equal(r.headers['x-sidekey-error'], 'SIDEKEY_ERR_PIN_MISMATCH')
    t.notMatch(r.body, /evil/, 'none of the wrong file')
    t.match(await sk.sink.waitForAudit((a) => a.path === '/tiny'), { status: 502, error: 'SIDEKEY_ERR_PIN_MISMATCH' })
  })

  noSecretsLogged(t, sk)
})
