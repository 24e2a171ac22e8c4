import express from 'express'
import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { startTestSidekey } from '../helpers/sidekey.js'

// A route's conditions and approval apply only when that route decides the request. Two ways a
// request was decided by another route, found by a red-team run against real Express:
// - a spelling only a broad reading matches: `POST /v1/chat/completions/` (a trailing slash),
//   `/V1/Chat/Completions`, `HEAD` for a GET route, fell through to a later `/v1/**` allow without
//   the narrow route's CEL limit and rate limit, and Express (non-strict, case-insensitive routing;
//   HEAD runs the GET handler) ran the narrow route's handler;
// - a method override: `POST /v1/orders` with `X-HTTP-Method-Override: GET` was decided by a GET
//   route that accepts overrides, so the POST route's CEL limit, rate limit and approval never ran,
//   and an upstream that ignores overrides ran the POST.
// Now the first is refused (SIDEKEY_ERR_GUARDED_VARIANT), and so is the second when the route
// deciding the method as sent has guards of its own (SIDEKEY_ERR_METHOD_OVERRIDE).

t.test('a request is never decided by a route that skips the guards of the one it spells', async (t) => {
  const ran: string[] = []
  const app = express()
  app.use(express.json())
  app.post('/v1/chat/completions', (req, res) => {
    ran.push(`chat ${(req.body as { max_tokens?: number }).max_tokens}`)
    res.json({ ok: true })
  })
  app.get('/v1/export', (_req, res) => {
    ran.push('export')
    res.json({ ok: true })
  })
  app.get('/v1/models', (_req, res) => void res.json({ ok: true }))
  app.post('/v1/orders', (req, res) => {
    ran.push(`order ${(req.body as { amount?: number }).amount}`)
    res.json({ ok: true })
  })
  app.get('/v1/orders', (_req, res) => void res.json({ orders: [] }))
  // Rails' `resources` routes PUT and PATCH to one update action.
  const update = (req: express.Request, res: express.Response): void => {
    ran.push(`update ${(req.body as { amount?: number }).amount}`)
    res.json({ ok: true })
  }
  app.put('/v1/refunds/:id', update)
  app.patch('/v1/refunds/:id', update)
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  const sk = await startTestSidekey(
    t,
    `
version: v1
routes:
  - name: chat
    host: api.test
    ports: [${port}]
    addresses: [127.0.0.1]
    methods: [POST]
    paths: [/v1/chat/completions]
    conditions:
      cel: ['body.max_tokens <= 100']
  - name: export
    host: api.test
    ports: [${port}]
    addresses: [127.0.0.1]
    methods: [GET]
    paths: [/v1/export]
    conditions:
      rate: { requests: 1, per_s: 3600 }
  - name: refund-update
    host: api.test
    ports: [${port}]
    addresses: [127.0.0.1]
    methods: [PATCH]
    paths: [/v1/refunds/*]
    conditions:
      cel: ['body.amount <= 1000']
  - name: rest-of-api
    host: api.test
    ports: [${port}]
    addresses: [127.0.0.1]
    paths: [/v1/**]
  - name: orders-write
    host: shop.test
    ports: [${port}]
    addresses: [127.0.0.1]
    methods: [POST]
    paths: [/v1/orders]
    conditions:
      cel: ['body.amount <= 10']
  - name: reads
    host: shop.test
    ports: [${port}]
    addresses: [127.0.0.1]
    methods: [GET]
    paths: [/v1/**]
    method_override: true
`,
    { connectTo: { [`api.test:${port}`]: { host: '127.0.0.1', port }, [`shop.test:${port}`]: { host: '127.0.0.1', port } } },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  const send = async (method: string, host: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await request(`http://${host}:${port}${path}`, { dispatcher, method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    const text = await res.body.text()
    return { status: res.statusCode, error: res.headers['x-sidekey-error'] as string | undefined, text }
  }

  t.test('another spelling of a guarded route is refused, not let through by a later route', async (t) => {
    const direct = await fetch(`http://127.0.0.1:${port}/V1/Chat/Completions/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"max_tokens":7}' })
    t.equal(direct.status, 200, 'Express runs the chat handler for another case and a trailing slash')
    t.same(ran.splice(0), ['chat 7'])
    for (const path of ['/v1/chat/completions/', '/v1/chat/completions/.', '/v1/CHAT/completions/', '/v1/chat/Completions']) {
      const r = await send('POST', 'api.test', path, { max_tokens: 100000 })
      t.same([r.status, r.error], [400, 'SIDEKEY_ERR_GUARDED_VARIANT'], path)
      t.match(JSON.parse(r.text).message, /route "chat" names/, 'the refusal names the guarded route')
    }
    const unrouted = await send('POST', 'api.test', '/V1/Chat/Completions', { max_tokens: 100000 })
    t.same([unrouted.status, unrouted.error], [403, 'SIDEKEY_ERR_NO_ROUTE'], 'a spelling no later route allows stays default deny')
    t.same(ran, [], 'the upstream ran none of them')
    const line = await sk.sink.waitForAudit((a) => a.path === '/v1/chat/completions/')
    t.match(line, { decision: 'deny', reason: 'guarded-variant', route: 'chat', status: 400 })
    const ok = await send('POST', 'api.test', '/v1/chat/completions', { max_tokens: 50 })
    t.equal(ok.status, 200, 'the route as written still works')
    const over = await send('POST', 'api.test', '/v1/chat/completions', { max_tokens: 100000 })
    t.same([over.status, over.error], [403, 'SIDEKEY_ERR_CONDITION_FAILED'])
    t.equal((await send('GET', 'api.test', '/v1/models')).status, 200, 'the rest of the API is unaffected')
    t.equal((await send('POST', 'api.test', '/v1/embeddings/')).status, 404, 'a trailing slash elsewhere reaches the upstream (Express: no such route)')
  })

  t.test('HEAD is GET to the upstream: it does not get past a GET route rate limit', async (t) => {
    t.equal((await send('GET', 'api.test', '/v1/export')).status, 200)
    t.same([(await send('GET', 'api.test', '/v1/export')).status], [429], 'the limit holds')
    ran.length = 0
    const head = await send('HEAD', 'api.test', '/v1/export')
    t.same([head.status, head.error], [400, 'SIDEKEY_ERR_GUARDED_VARIANT'], 'HEAD does not fall through to /v1/**')
    t.same(ran, [], 'the export did not run')
  })

  t.test('PUT for a guarded PATCH (one update action in Rails) is refused too', async (t) => {
    ran.length = 0
    const put = await send('PUT', 'api.test', '/v1/refunds/7', { amount: 5000 })
    t.same([put.status, put.error], [400, 'SIDEKEY_ERR_GUARDED_VARIANT'])
    const patch = await send('PATCH', 'api.test', '/v1/refunds/7', { amount: 5000 })
    t.same([patch.status, patch.error], [403, 'SIDEKEY_ERR_CONDITION_FAILED'])
    t.equal((await send('PATCH', 'api.test', '/v1/refunds/7', { amount: 5 })).status, 200)
    t.same(ran, ['update 5'], 'only the PATCH within the limit ran')
  })

  t.test('a method override is refused when the method as sent has guards of its own', async (t) => {
    ran.length = 0
    const r = await send('POST', 'shop.test', '/v1/orders', { amount: 5000 }, { 'x-http-method-override': 'GET' })
    t.same([r.status, r.error], [400, 'SIDEKEY_ERR_METHOD_OVERRIDE'])
    t.match(JSON.parse(r.text).message, /route "orders-write" decides this request as sent, with conditions/)
    const q = await send('POST', 'shop.test', '/v1/orders?_method=GET', { amount: 5000 })
    t.same([q.status, q.error], [400, 'SIDEKEY_ERR_METHOD_OVERRIDE'], '?_method too')
    t.same(ran, [], 'Express (which ignores overrides) ran no order')
    const plain = await send('POST', 'shop.test', '/v1/orders', { amount: 5000 })
    t.same([plain.status, plain.error], [403, 'SIDEKEY_ERR_CONDITION_FAILED'], 'the POST itself is still checked')
    t.equal((await send('GET', 'shop.test', '/v1/orders', undefined, { 'x-http-method-override': 'GET' })).status, 200, 'an override to the same route is fine')
  })
})
