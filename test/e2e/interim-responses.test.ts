import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { curl } from '../helpers/clients.js'
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js'
import { startUpstream } from '../helpers/upstream.js'

// An upstream that sends interim answers (102 Processing, 103 Early Hints, RFC 8297) before its
// final one: the agent gets the final answer whole (found by a red-team run: the 103 was written
// as the final head and the connection closed, so the real answer was lost).

t.test('interim answers before the final one', async (t) => {
  const upstream = await startUpstream((req, res) => {
    if (req.url === '/processing') res.writeProcessing()
    // Early hints that echo the key: not relayed at all.
    res.writeEarlyHints({ link: `</style.css?k=${String(req.headers.authorization)}>; rel=preload` })
    res.writeHead(200, { 'content-type': 'text/plain' }).end('the final answer')
  })
  t.teardown(() => upstream.close())
  const port = upstream.port
  const sk = await startTestSidekey(t, `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: api, host: api.test, ports: [${port}], addresses: [127.0.0.1], credential: key }
`, { connectTo: { [`api.test:${port}`]: { host: '127.0.0.1', port } } })
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  for (const path of ['/hints', '/processing']) {
    const res = await request(`http://api.test:${port}${path}`, { dispatcher })
    t.equal(res.statusCode, 200, `${path}: the final status`)
    t.equal(await res.body.text(), 'the final answer', 'and its body')
  }
  const viaCurl = await curl(['-x', sk.proxyUrlFor('agent'), `http://api.test:${port}/hints`])
  t.equal(viaCurl.status, 200)
  t.equal(viaCurl.body, 'the final answer')
  t.notOk(viaCurl.headers.includes(SECRETS.OPENAI), 'no interim head reached curl')
  const audit = await sk.sink.waitForAudit((a) => a.path === '/processing')
  t.equal(audit.status, 200)
  t.equal(audit.error, null)
  noSecretsLogged(t, sk)
})
