import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { join } from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js'
import { startH2Sidekey, startH2Upstream } from '../helpers/h2.js'
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js'
import { startUpstream, upstreamTrust } from '../helpers/upstream.js'

// Two ways an echoed credential got past the response scrubber, through the real proxy:
// - base64 broken into lines (MIME's 76 characters with CRLF, PEM's 64, GitHub's contents API with
//   `\n` inside a JSON string): a line break within the first two thirds of the secret's base64
//   hid it (a red-team run: about 30% of such echoes passed). src/guard/wrapped-lines.ts.
// - a gRPC message ending in most of the secret: its mask ran on over the next message's 5-byte
//   head, and the agent's client could read nothing after it (the call failed). Each message is
//   now scrubbed on its own (src/guard/message-envelopes.ts).

const secret = SECRETS.OPENAI

/** Whether `text` holds two thirds of the secret anywhere. */
function holdsMostOf(text: string): boolean {
  const n = partialMatchAlarm(secret.length)
  for (let k = 0; k + n <= secret.length; k++) if (text.includes(secret.slice(k, k + n))) return true
  return false
}

function wrap(text: string, width: number, separator: string): string {
  let out = ''
  for (let i = 0; i < text.length; i += width) out += text.slice(i, i + width) + separator
  return out
}

t.test('base64 in lines: an echoed credential never reaches the agent, whatever the line breaks', async (t) => {
  // Echoes the Authorization header it got in base64, in lines as the query says, after `pad`
  // bytes so that the breaks fall at every place in the secret.
  const upstream = await startUpstream((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const width = Number(url.searchParams.get('width'))
    const pad = 'x'.repeat(Number(url.searchParams.get('pad')))
    const b64 = Buffer.from(`${pad}${String(req.headers.authorization)}`).toString('base64')
    if (url.pathname === '/mime') {
      res.writeHead(200, { 'content-type': 'message/rfc822' })
      res.end(`Content-Transfer-Encoding: base64\r\n\r\n${wrap(b64, width, '\r\n')}`)
    } else {
      // GitHub's contents API: base64 in lines of 60, `\n` escaped in a JSON string.
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ encoding: 'base64', content: wrap(b64, width, '\n') }))
    }
  })
  t.teardown(() => upstream.close())
  const sk = await startTestSidekey(
    t,
    `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: api, host: api.test, ports: [${upstream.port}], addresses: [127.0.0.1], credential: key }
`,
    { connectTo: { [`api.test:${upstream.port}`]: { host: '127.0.0.1', port: upstream.port } } },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())

  let echoes = 0
  let leaks = 0
  let scrubbed = 0
  for (const [kind, width] of [['mime', 76], ['json', 60], ['mime', 64], ['json', 20]] as const) {
    for (let pad = 0; pad < 46; pad += 5) {
      const res = await request(`http://api.test:${upstream.port}/${kind}?width=${width}&pad=${pad}`, { dispatcher })
      const text = await res.body.text()
      t.equal(res.statusCode, 200)
      echoes++
      // What the agent decodes: the base64, its lines joined.
      const b64 = kind === 'json' ? (JSON.parse(text) as { content: string }).content : text.split('\r\n\r\n')[1]!
      const decoded = Buffer.from(b64.replace(/[\r\n]/g, ''), 'base64').toString('latin1')
      if (holdsMostOf(decoded)) leaks++
      if (b64.replace(/[\r\n]/g, '').includes('[redacted]')) scrubbed++
    }
  }
  t.equal(leaks, 0, `none of ${echoes} echoes decodes to two thirds of the secret`)
  t.equal(scrubbed, echoes, 'each was masked')
  noSecretsLogged(t, sk)
})

interface Msg {
  text?: string
}
interface EchoClient extends grpc.Client {
  ServerStream(req: Msg, md?: grpc.Metadata): grpc.ClientReadableStream<Msg>
}
const definition = protoLoader.loadSync(join(process.cwd(), 'test/fixtures/grpc/echo.proto'), { keepCase: true, longs: Number, defaults: true })
const EchoService = (grpc.loadPackageDefinition(definition) as unknown as { sidekey: { test: { Echo: grpc.ServiceClientConstructor } } }).sidekey.test.Echo

/** One envelope holding `Msg { text }` (field 1; texts under 128 bytes). */
function message(text: string): Buffer {
  const bytes = Buffer.from(text)
  const payload = Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes])
  const head = Buffer.alloc(5)
  head.writeUInt32BE(payload.length, 1)
  return Buffer.concat([head, payload])
}

t.test('a gRPC stream whose message ends in most of the secret: masked, and every message after it arrives', async (t) => {
  const trust = await upstreamTrust()
  // A streaming upstream that echoes the authorization it got cut after `x-cut` bytes, then two
  // more messages, all in one write: the first message's mask used to run over the second's head.
  const echo = await startH2Upstream(trust, 'echo.api.test', (req: Http2ServerRequest, res: Http2ServerResponse) => {
    const auth = String(req.headers.authorization)
    const cut = Number(req.headers['x-cut'])
    res.writeHead(200, { 'content-type': 'application/grpc' })
    res.addTrailers({ 'grpc-status': '0' })
    res.end(Buffer.concat([message(`echo ${auth.slice(0, cut)}`), message('second'), message('third')]))
  })
  t.teardown(() => echo.close())
  const sk = await startH2Sidekey(
    t,
    trust,
    `  - name: echo
    host: echo.api.test
    credential: openai
    addresses: [127.0.0.1]
`,
    { 'echo.api.test': echo.port },
  )
  const before = process.env.grpc_proxy
  process.env.grpc_proxy = sk.proxyUrlFor('agent')
  t.teardown(() => {
    if (before === undefined) delete process.env.grpc_proxy
    else process.env.grpc_proxy = before
  })
  const client = new EchoService('echo.api.test:443', grpc.credentials.createSsl(Buffer.from(sk.ca.certPem))) as unknown as EchoClient
  t.teardown(() => client.close())

  const bearer = `Bearer ${secret}`
  for (const cut of [bearer.length - 6, bearer.length - 2, bearer.length]) {
    const md = new grpc.Metadata()
    md.set('x-cut', String(cut))
    const got: string[] = []
    for await (const m of client.ServerStream({}, md) as AsyncIterable<Msg>) got.push(m.text ?? '')
    t.equal(got.length, 3, `cut at ${cut}: all three messages arrived`)
    t.match(got[0], /^echo Bearer \[redacted\]\**$/, 'the first masked to its own end')
    t.same(got.slice(1), ['second', 'third'], 'the next ones as sent')
    t.notOk(holdsMostOf(got.join('')))
  }
})
