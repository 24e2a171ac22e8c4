import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { h2ThroughProxy, startH2Upstream } from '../helpers/h2.js'
import { pollFor } from '../helpers/poll.js'
import { startTestSidekey } from '../helpers/sidekey.js'
import { basicAuth } from '../helpers/tunnels.js'
import { upstreamTrust } from '../helpers/upstream.js'

// Bodies read whole (CEL over `body`) are bounded per workload and in total, not only per request:
// an HTTP/2 agent that opened 128 streams, sent 960 KiB on each and never ended them held 120 MiB
// of sidekey's memory per connection (found by a red-team run). Past its budget a workload's next
// body is refused (429 SIDEKEY_ERR_BODIES_BUFFERED) before more of it is read; other workloads go on.

const BUDGET = 4 * 1024 * 1024

t.test('a workload holding bodies open cannot take sidekey\'s memory', async (t) => {
  const trust = await upstreamTrust()
  const api = await startH2Upstream(trust, 'pay.api.test', (_req, res, body) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes: body.length })))
  t.teardown(() => api.close())
  const sk = await startTestSidekey(t, `version: v1
routes:
  - name: pay
    host: pay.api.test
    addresses: [127.0.0.1]
    conditions: { cel: ['body.amount < 100'] }
`, { upstreamCaFile: trust.caFile, connectTo: { 'pay.api.test:443': { host: '127.0.0.1', port: api.port } }, config: { maxBufferedBodyBytes: BUDGET } })
  const port = Number(new URL(sk.proxyUrl).port)
  const session = await h2ThroughProxy(port, 'pay.api.test:443', { auth: basicAuth('hog', sk.runTokens.mint('hog').token), ca: sk.ca.certPem })
  t.teardown(() => session.destroy())

  // Sixteen streams of 512 KiB each, never ended: 8 MiB asked, 4 MiB the budget.
  const piece = Buffer.alloc(512 * 1024, 0x20)
  const answers: Promise<{ status: number; error: string | undefined }>[] = []
  for (let i = 0; i < 16; i++) {
    const stream = session.request({ ':method': 'POST', ':path': `/pay/${i}`, 'content-type': 'application/json' }, { endStream: false })
    stream.write(piece)
    answers.push(new Promise((resolve) => {
      stream.on('response', (h) => resolve({ status: Number(h[':status']), error: h['x-sidekey-error'] as string | undefined }))
      stream.on('error', () => resolve({ status: 0, error: 'reset' }))
      stream.resume()
    }))
  }
  const answered: { status: number; error: string | undefined }[] = []
  for (const a of answers) void a.then((x) => answered.push(x))
  // The budget holds 8 bodies of 512 KiB: the other 8 streams are refused as their bodies come,
  // while the 8 held ones wait for the ends that never come.
  await pollFor(() => answered.length, (n) => n >= 8, 10_000, 50)
  await new Promise((r) => setTimeout(r, 300))
  t.equal(answered.length, 8, 'the streams past the budget are answered at once, the others still read')
  t.ok(answered.every((a) => a.status === 429 && a.error === 'SIDEKEY_ERR_BODIES_BUFFERED'), `each refused 429 SIDEKEY_ERR_BODIES_BUFFERED: ${JSON.stringify(answered)}`)
  t.equal(sk.bodies.held('hog'), BUDGET, 'what the workload holds is its budget, no more')

  // Another workload is served meanwhile.
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('other'), requestTls: { ca: sk.ca.certPem } })
  t.teardown(() => dispatcher.close())
  const ok = await request('https://pay.api.test/pay', { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"amount":5}' })
  t.equal(ok.statusCode, 200, 'another workload is served')
  await ok.body.dump()

  // The held streams end: their share comes back.
  session.destroy()
  await new Promise((r) => setTimeout(r, 300))
  t.equal(sk.bodies.held(), 0, 'nothing held once the streams are gone')
})
