import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { pollFor } from '../helpers/poll.js'
import { h2Request, h2ThroughProxy, startH2Upstream } from '../helpers/h2.js'
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js'
import { basicAuth } from '../helpers/tunnels.js'
import { startUpstream, upstreamTrust } from '../helpers/upstream.js'

// HTTP/2 through sidekey: an agent that picks h2 in ALPN inside an intercepted tunnel gets an
// HTTP/2 server; each stream is decided, injected and audited as one request. Upstream, sidekey
// offers h2 in ALPN and falls back to HTTP/1.1, so each side's protocol is independent.

t.test('HTTP/2 agent and upstream', async (t) => {
  const trust = await upstreamTrust()
  const h2api = await startH2Upstream(trust, 'h2.api.test')
  t.teardown(() => h2api.close())
  const h1api = await startUpstream(undefined, { trust, host: 'h1.api.test' })
  t.teardown(() => h1api.close())
  const both = await startH2Upstream(trust, 'both.api.test', undefined, { allowHTTP1: true })
  t.teardown(() => both.close())
  const sk = await startTestSidekey(
    t,
    `
version: v1
credentials:
  openai:
    type: static
    env: TEST_OPENAI_KEY
routes:
  - name: h2
    host: h2.api.test
    credential: openai
    addresses: [127.0.0.1]
  - name: h1
    host: h1.api.test
    credential: openai
    addresses: [127.0.0.1]
  - name: both-forced-h1
    host: both.api.test
    credential: openai
    addresses: [127.0.0.1]
    http2: false
`,
    {
      upstreamCaFile: trust.caFile,
      connectTo: {
        'h2.api.test:443': { host: '127.0.0.1', port: h2api.port },
        'h1.api.test:443': { host: '127.0.0.1', port: h1api.port },
        'both.api.test:443': { host: '127.0.0.1', port: both.port },
      },
    },
  )
  const { token } = sk.runTokens.mint('agent')
  const auth = basicAuth('agent', token)
  const port = Number(new URL(sk.proxyUrl).port)

  t.test('h2 agent to an h2 upstream: injected, one audit line per stream with protocol h2', async (t) => {
    const session = await h2ThroughProxy(port, 'h2.api.test:443', { auth, ca: sk.ca.certPem })
    t.teardown(() => session.close())
    const r = await h2Request(session, { ':method': 'POST', ':path': '/v1/chat', authorization: 'Bearer placeholder', 'content-type': 'application/json' }, '{"q":1}')
    t.equal(r.status, 200)
    t.match(JSON.parse(r.body.toString()), { httpVersion: '2.0', path: '/v1/chat', bytes: 7 })
    t.equal(h2api.seen.at(-1)!.headers.authorization, `Bearer ${SECRETS.OPENAI}`)
    const line = await sk.sink.waitForAudit((a) => a.event === 'request' && a.path === '/v1/chat')
    t.match(line, { protocol: 'h2', scheme: 'https', host: 'h2.api.test', route: 'h2', decision: 'allow', status: 200, bytes_up: 7 })
    t.type(line.tunnel, 'string')
  })

  t.test('h2 agent to an HTTP/1.1-only upstream', async (t) => {
    const session = await h2ThroughProxy(port, 'h1.api.test:443', { auth, ca: sk.ca.certPem })
    t.teardown(() => session.close())
    const r = await h2Request(session, { ':method': 'GET', ':path': '/v1/models' })
    t.equal(r.status, 200)
    t.match(JSON.parse(r.body.toString()), { ok: true, path: '/v1/models' })
    t.equal(h1api.seen.at(-1)!.headers.authorization, `Bearer ${SECRETS.OPENAI}`)
    t.equal(h1api.seen.at(-1)!.headers.host, 'h1.api.test')
  })

  t.test('HTTP/1.1 agent to an h2-only upstream', async (t) => {
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), requestTls: { ca: sk.ca.certPem } })
    t.teardown(() => dispatcher.close())
    const res = await request('https://h2.api.test/v1/from-h1', { dispatcher })
    t.equal(res.statusCode, 200)
    t.match(await res.body.json(), { httpVersion: '2.0', path: '/v1/from-h1' })
    const line = await sk.sink.waitForAudit((a) => a.path === '/v1/from-h1')
    t.equal(line.protocol, undefined, 'an HTTP/1.1 request carries no protocol field')
  })

  t.test('route http2: false keeps the upstream on HTTP/1.1', async (t) => {
    const session = await h2ThroughProxy(port, 'both.api.test:443', { auth, ca: sk.ca.certPem })
    t.teardown(() => session.close())
    const r = await h2Request(session, { ':method': 'GET', ':path': '/v1/forced' })
    t.equal(r.status, 200)
    t.equal(both.seen.at(-1)!.httpVersion, '1.1')
  })

  t.test('streams multiplex upstream: many at once share one h2 connection', async (t) => {
    const session = await h2ThroughProxy(port, 'h2.api.test:443', { auth, ca: sk.ca.certPem })
    t.teardown(() => session.close())
    const before = new Set<unknown>()
    h2api.server.on('session', (s) => before.add(s))
    const answers = await Promise.all(Array.from({ length: 64 }, (_, i) => h2Request(session, { ':method': 'GET', ':path': `/v1/many/${i}` })))
    t.same(new Set(answers.map((a) => a.status)), new Set([200]))
    const lines = await pollFor(() => sk.sink.audits.filter((a) => a.path?.startsWith('/v1/many/') === true), (l) => l.length === 64)
    t.equal(new Set(lines.map((a) => a.tunnel)).size, 1, 'all 64 streams came on one agent connection')
    t.ok(before.size <= 1, `the upstream saw ${before.size} new connection(s) for 64 requests`)
  })

  t.test('a stream naming another :authority is refused; the connection serves the next', async (t) => {
    const session = await h2ThroughProxy(port, 'h2.api.test:443', { auth, ca: sk.ca.certPem })
    t.teardown(() => session.close())
    const wrong = await h2Request(session, { ':method': 'GET', ':path': '/v1/elsewhere', ':authority': 'evil.test' })
    t.equal(wrong.status, 421)
    t.equal(wrong.headers['x-sidekey-error'], 'SIDEKEY_ERR_HOST_MISMATCH')
    const line = await sk.sink.waitForAudit((a) => a.error === 'SIDEKEY_ERR_HOST_MISMATCH' && a.protocol === 'h2')
    t.match(line, { decision: 'deny', status: 421 })
    const conflict = await h2Request(session, { ':method': 'GET', ':path': '/v1/two', host: 'evil.test' })
    t.equal(conflict.status, 421, 'a host field that disagrees with :authority is refused')
    const ok = await h2Request(session, { ':method': 'GET', ':path': '/v1/after' })
    t.equal(ok.status, 200, 'the same connection still serves')
    t.notOk(h2api.seen.some((s) => s.path === '/v1/elsewhere' || s.path === '/v1/two'))
  })

  t.test('a refusal on h2 is the JSON refusal, without a reason phrase', async (t) => {
    const session = await h2ThroughProxy(port, 'h2.api.test:443', { auth, ca: sk.ca.certPem })
    t.teardown(() => session.close())
    const r = await h2Request(session, { ':method': 'GET', ':path': '/v1/leak', 'x-note': SECRETS.OPENAI })
    t.equal(r.status, 403)
    t.equal(r.headers['x-sidekey-error'], 'SIDEKEY_ERR_SECRET_DETECTED')
    t.match(JSON.parse(r.body.toString()), { code: 'SIDEKEY_ERR_SECRET_DETECTED' })
  })

  noSecretsLogged(t, sk)
})
