import { execFile } from 'node:child_process'
import express from 'express'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { ProxyAgent, request } from 'undici'
import { compileCel } from '../../src/policy/cel.js'
import { celInput } from '../../src/guard/request-guard.js'
import { findAmbiguousKeys } from '../../src/guard/json-keys.js'
import { repeatedQueryParam } from '../../src/guard/query-repeats.js'
import { curl } from '../helpers/clients.js'
import { startGoServer } from '../helpers/servers.js'
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js'
import { startUpstream } from '../helpers/upstream.js'

// Issue #20 item 4: a condition is only worth what the upstream agrees it checked. CEL read
// {"amount": 50, "AMOUNT": 5000} as 50 while Go's encoding/json refunds 5000; CEL took the first of
// two query parameters while PHP and Rails take the last. Against a real Go service (net/http and
// encoding/json, built here), each such request is first shown to make Go act on the other value,
// then shown refused by sidekey with a code and a message naming the key.

const run = promisify(execFile)
const root = new URL('../../..', import.meta.url).pathname
const fixture = new URL('../../../test/fixtures/go-upstream/refunds.go', import.meta.url)

/** Build and start the Go refunds service; resolves with its port. */
async function startGoUpstream(t: Test): Promise<number> {
  return (await startGoServer(t, await readFile(fixture, 'utf8'))).port
}

type GoAnswer = { refunded: number; task: string; order_amount: number; query_amount: string; query_amount_last: string; header_mode: string; header_account: string }

t.test('the scanners find what parsers disagree on, and nothing else', async (t) => {
  t.match(findAmbiguousKeys('{"amount": 50, "AMOUNT": 5000}'), { at: 'body', first: 'amount', second: 'AMOUNT', kind: 'case' })
  t.match(findAmbiguousKeys('{"amount":50,"\\u0061mount":5000}'), { at: 'body', kind: 'duplicate' }, 'escapes are decoded before comparing')
  t.match(findAmbiguousKeys('{"order":{"items":[{"a":1},{"b":2,"B":3}]}}'), { at: 'body.order.items[1]', first: 'b', second: 'B' })
  t.match(findAmbiguousKeys('[{"x":1},{"x":2,"y":{"x":3,"X":4}}]'), { at: 'body[1].y' })
  t.match(findAmbiguousKeys('{"task":"a","ta\u017fk":"b"}'), { kind: 'case' }, 'long s folds to s, as Go folds it')
  t.match(findAmbiguousKeys('{"kind":"a","\u212aind":"b"}'), { kind: 'case' }, 'the Kelvin sign folds to k')
  t.match(findAmbiguousKeys('{"a\\ud800":1,"a\\udbff":2}'), { kind: 'case' }, 'lone surrogates are one key to Go (both U+FFFD)')
  t.match(findAmbiguousKeys('{"we ird\\"key":1,"WE IRD\\"KEY":2}'), { at: 'body', first: 'we ird"key' })
  t.equal(findAmbiguousKeys('{"a":{"x":1},"b":{"x":2},"c":[{"x":3},{"x":4}]}'), null, 'one key per object is fine, however often it recurs')
  t.equal(findAmbiguousKeys('{"note":"\\"amount\\": 5, \\"AMOUNT\\": 6","amount":5}'), null, 'keys inside strings are text')
  t.equal(findAmbiguousKeys('{"stra\u00dfe":1,"strasse":2}'), null, 'full case folding (ß to ss) is not simple folding; Go keeps them apart')
  t.equal(findAmbiguousKeys('"amount"'), null)
  t.match(findAmbiguousKeys('{"a":{"__proto__":{"admin":true}}}'), { at: 'body.a', first: '__proto__', kind: 'prototype' }, 'a key copying servers take for the prototype')
  t.match(findAmbiguousKeys('{"a":{"__pro\\u0074o__":1}}'), { kind: 'prototype' }, 'escaped too')
  t.equal(findAmbiguousKeys('{"proto":"__proto__"}'), null, 'as a value it is text')

  const reads = new Set(['amount'])
  t.match(repeatedQueryParam('amount=50&amount=5000', reads), { name: 'amount', spellings: ['amount', 'amount'] })
  for (const q of ['amount=50&AMOUNT=5000', 'amount=50&%61mount=5000', 'amount=50;amount=5000', 'amount=50&amount[]=5000', 'amount[x]=1&amount=2', '?amount=50&amount=5000', 'a=1&amount&amount=2']) {
    t.ok(repeatedQueryParam(q, reads), `${q} repeats amount`)
  }
  t.ok(repeatedQueryParam('a_b=1&a.b=2', new Set(['a_b'])), "PHP reads a.b as a_b")
  // PHP cuts a name at a NUL and drops leading spaces (found by a red-team run against PHP 8.2).
  for (const q of ['amount=50&amount%00=5000', 'amount=50&amount%00x=5000', 'amount=50&+amount=5000', 'amount=50&%20%20amount=5000']) t.ok(repeatedQueryParam(q, reads), `${q} repeats amount (PHP)`)
  t.equal(repeatedQueryParam('tag=a&tag=b&amount=5', reads), null, 'a repeated parameter no condition reads is left alone')
  t.ok(repeatedQueryParam('tag=a&tag=b', 'any'), 'a condition that reads the query as a whole refuses any repeat')
  t.equal(repeatedQueryParam('amount=5&other=6', 'any'), null)

  const readsOf = (source: string) => {
    const p = compileCel(source, 'x')
    if (typeof p === 'string') throw new Error(p)
    return p.queryReads === 'any' ? 'any' : [...p.queryReads]
  }
  t.same(readsOf('request.query.amount == "5" && request.query["to"] == "x" && has(request.query.memo) && "dry" in request.query'), ['amount', 'to', 'memo', 'dry'])
  t.same(readsOf('request.headers["x"] == "y" && request.method == "POST" && body.amount < 5'), [])
  t.equal(readsOf('request.query.exists(k, k == "dry")'), 'any')
  t.equal(readsOf('request.query[workload] == "1"'), 'any')
  t.equal(readsOf('size(request.query) == 0'), 'any')
  t.equal(readsOf('[request].size() == 1'), 'any', 'request passed around as a whole')
  const headerReadsOf = (source: string) => {
    const p = compileCel(source, 'x')
    if (typeof p === 'string') throw new Error(p)
    return p.headerReads === 'any' ? 'any' : [...p.headerReads]
  }
  t.same(headerReadsOf('request.headers["X-Mode"] == "a" && "x-b" in request.headers && has(request.headers.c) && request.query.d == "1"'), ['x-mode', 'x-b', 'c'], 'header names, lower case')
  t.equal(headerReadsOf('request.headers.exists(k, k.startsWith("x-"))'), 'any')
})

t.test('ambiguous bodies and queries against a real Go upstream', async (t) => {
  const port = await startGoUpstream(t)
  const sk = await startTestSidekey(
    t,
    `
version: v1
routes:
  - name: refunds
    host: refunds.test
    ports: [${port}]
    addresses: [127.0.0.1]
    methods: [POST]
    conditions:
      cel: ['body.amount <= 1000']
  - name: nested
    host: nested.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['body.order.amount <= 1000']
  - name: tasks
    host: tasks.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['body.task == "read"']
  - name: query-refunds
    host: query.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['int(request.query.amount) <= 1000']
  - name: dry-runs
    host: dry.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['request.query.exists(k, k == "dry")']
  - name: held
    host: held.test
    ports: [${port}]
    addresses: [127.0.0.1]
    approval: { timeout_s: 1 }
  - name: modes
    host: modes.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['!("x-mode" in request.headers) || request.headers["x-mode"] != "write"']
  - name: accounts
    host: accounts.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['request.headers["x-account"] == "sandbox"']
  - name: held-writes
    host: held-writes.test
    ports: [${port}]
    addresses: [127.0.0.1]
    approval: { when: '"x-mode" in request.headers && request.headers["x-mode"] == "write"', timeout_s: 1 }
`,
    { connectTo: Object.fromEntries(['refunds', 'nested', 'tasks', 'query', 'dry', 'held', 'modes', 'accounts', 'held-writes'].map((h) => [`${h}.test:${port}`, { host: '127.0.0.1', port }])) },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  /** Through sidekey. */
  const send = async (host: string, path: string, body?: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
    const res = await request(`http://${host}:${port}${path}`, { dispatcher, method: 'POST', headers, body })
    const text = await res.body.text()
    return { status: res.statusCode, error: res.headers['x-sidekey-error'] as string | undefined, text }
  }
  /** Straight to the Go service: what it acts on. */
  const direct = async (path: string, body?: string): Promise<GoAnswer> => {
    const res = await request(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    return (await res.body.json()) as GoAnswer
  }
  /** What the route's condition made of the same request before this change (it read the body with JSON.parse, the query's first value). */
  const conditionPasses = (source: string, path: string, body: string | null): boolean => {
    const p = compileCel(source, 'x')
    if (typeof p === 'string') throw new Error(p)
    const outcome = p.evaluate(celInput({ workload: 'agent', host: 'h', port, method: 'POST', pathname: path.split('?')[0]!, path, rawHeaders: [] }, body === null ? null : Buffer.from(body)))
    return outcome.ok && outcome.value
  }

  t.test('a body with keys differing only in case: Go refunds the second, sidekey refuses it', async (t) => {
    const attack = '{"amount": 50, "AMOUNT": 5000}'
    t.equal((await direct('/refund', attack)).refunded, 5000, 'Go matches keys case-insensitively and keeps the last')
    t.ok(conditionPasses('body.amount <= 1000', '/refund', attack), 'the condition alone reads 50 and passes')
    const r = await send('refunds.test', '/refund', attack)
    t.equal(r.status, 400)
    t.equal(r.error, 'SIDEKEY_ERR_AMBIGUOUS_BODY')
    t.match(r.text, /"amount\\" and \\"AMOUNT\\" in body, which differ only in letter case/)
    t.match(r.text, /send each key once/)
    const audit = await sk.sink.waitForAudit((a) => a.error === 'SIDEKEY_ERR_AMBIGUOUS_BODY' && a.host === 'refunds.test')
    t.equal(audit.condition, 'ambiguous_body')
    t.equal(audit.status, 400)
    const fine = await send('refunds.test', '/refund', '{"amount": 50, "note": "AMOUNT"}')
    t.equal(fine.status, 200, 'one spelling of each key goes through')
    t.equal((JSON.parse(fine.text) as GoAnswer).refunded, 50)
  })

  t.test('the same at any depth, and with exact duplicates', async (t) => {
    const nested = '{"order": {"amount": 50, "Amount": 5000}}'
    t.equal((await direct('/refund', nested)).order_amount, 5000)
    t.ok(conditionPasses('body.order.amount <= 1000', '/refund', nested))
    const r = await send('nested.test', '/refund', nested)
    t.equal(r.error, 'SIDEKEY_ERR_AMBIGUOUS_BODY')
    t.match(r.text, /in body\.order,/, 'the message names the key path')
    const twice = await send('refunds.test', '/refund', '{"amount": 50, "amount": 5000}')
    t.equal(twice.error, 'SIDEKEY_ERR_AMBIGUOUS_BODY')
    t.match(twice.text, /the key \\"amount\\" twice in body/)
    const escaped = await send('refunds.test', '/refund', '{"amount": 50, "\\u0061mount": 5000}')
    t.equal(escaped.error, 'SIDEKEY_ERR_AMBIGUOUS_BODY', 'an escaped spelling is the same key')
  })

  t.test('Unicode case folding: Go takes the long s for s', async (t) => {
    const attack = '{"task": "read", "ta\u017fk": "delete"}'
    t.equal((await direct('/refund', attack)).task, 'delete', 'Go folds \u017f to s and keeps the last')
    t.ok(conditionPasses('body.task == "read"', '/refund', attack))
    const r = await send('tasks.test', '/refund', attack)
    t.equal(r.error, 'SIDEKEY_ERR_AMBIGUOUS_BODY')
  })

  t.test('numbers a double cannot hold exactly are refused where a condition reads the body', async (t) => {
    // CEL reads doubles: -1e999 is -Infinity (<= 1000), and an id past 2^53 is its nearest double,
    // while an upstream in Go (int64) or Python (int) reads the literal (found by a red-team run).
    // A one-digit exponent too: 9007199254740.993e3 is ...993 to Python's Decimal and ...992 to CEL
    // (found by a red-team run: the pre-filter wanted two exponent digits).
    for (const literal of ['-1e999', '1e400', '12345678901234567890', '-9007199254740993', '9007199254740.993e3', '900719925474099.3E1']) {
      const r = await send('refunds.test', '/refund', `{"amount": ${literal}}`)
      t.equal(r.status, 400, literal)
      t.equal(r.error, 'SIDEKEY_ERR_AMBIGUOUS_BODY', literal)
      t.match(r.text, /which a double cannot hold exactly/, literal)
    }
    t.equal((await send('refunds.test', '/refund', '{"amount": 9007199254740991, "note": "id 12345678901234567890"}')).status, 403, 'a safe integer is read (and refused by the condition); digits in a string are text')
    t.equal((await send('refunds.test', '/refund', '{"amount": 12.5e1}')).status, 200, 'an exponent within range is fine')
  })

  t.test('a JSON body declared as a form is refused where a condition reads it as JSON', async (t) => {
    const r = await send('refunds.test', '/refund', '{"amount": 50}', { 'content-type': 'application/x-www-form-urlencoded' })
    t.equal(r.status, 400)
    t.equal(r.error, 'SIDEKEY_ERR_AMBIGUOUS_BODY')
    t.match(r.text, /declared as application\/x-www-form-urlencoded/)
  })

  t.test('a repeated query parameter a condition reads: the upstream acts on the other value, sidekey refuses', async (t) => {
    // PHP and Rails take the last value (the Go service reports it as query_amount_last).
    const last = await direct('/refund?amount=50&amount=5000')
    t.equal(last.query_amount_last, '5000')
    t.ok(conditionPasses('int(request.query.amount) <= 1000', '/refund?amount=50&amount=5000', null), 'the condition read the first value')
    // Go's own reading: a leading `?` in the query is part of the first name to Go, not to URLSearchParams.
    const goOwn = await direct('/refund??amount=50&amount=5000')
    t.equal(goOwn.query_amount, '5000', "Go's Query().Get takes 5000 here")
    t.ok(conditionPasses('int(request.query.amount) <= 1000', '/refund??amount=50&amount=5000', null), 'while the condition read 50')
    for (const q of ['amount=50&amount=5000', 'amount=50&AMOUNT=5000', 'amount=50&%61mount=5000', 'amount=50;amount=5000', 'amount=50&amount[]=5000', '?amount=50&amount=5000']) {
      const r = await send('query.test', `/refund?${q}`)
      t.equal(r.status, 400, q)
      t.equal(r.error, 'SIDEKEY_ERR_AMBIGUOUS_QUERY', q)
      t.match(r.text, /the query parameter \\"amount\\" is given 2 times/, q)
    }
    const ok = await send('query.test', '/refund?amount=50&tag=a&tag=b')
    t.equal(ok.status, 200, 'a repeated parameter that no condition reads is left alone')
    t.equal((JSON.parse(ok.text) as GoAnswer).query_amount, '50')
  })

  t.test('a condition that reads the query as a whole refuses any repeat', async (t) => {
    t.equal((await send('dry.test', '/refund?dry=1&x=1')).status, 200)
    const r = await send('dry.test', '/refund?dry=1&x=1&x=2')
    t.equal(r.error, 'SIDEKEY_ERR_AMBIGUOUS_QUERY')
  })

  t.test('a route with approval reads the body too (a person does): ambiguous keys are refused before holding', async (t) => {
    const r = await send('held.test', '/refund', '{"amount": 50, "AMOUNT": 5000}')
    t.equal(r.error, 'SIDEKEY_ERR_AMBIGUOUS_BODY')
    const { body } = await request(`${sk.adminUrl}/v1/approvals`, { headers: { authorization: `Bearer ${sk.adminToken}` } })
    t.same(((await body.json()) as { approvals: unknown[] }).approvals, [], 'nothing was held')
  })

  t.test('headers a condition reads: given twice or with "_" for "-" is refused; CEL reads them as they go upstream', async (t) => {
    // Found by a red-team run: CEL read `X-Mode: write` sent twice as "write, write", so a
    // condition against "write" passed while Go acted on "write"; `X_Mode` is X-Mode to CGI-style
    // servers and another header to the rest; and a header the agent's Connection named was
    // checked by CEL and then dropped as hop-by-hop, so the upstream acted on its default.
    const viaCurl = async (host: string, headers: string[]) => {
      const r = await curl(['-x', sk.proxyUrlFor('curl-agent'), ...headers.flatMap((h) => ['-H', h]), '--data', '{}', `http://${host}:${port}/refund`])
      return { status: r.status, error: /x-sidekey-error: (\S+)/i.exec(r.headers)?.[1], body: r.body }
    }
    const directly = await curl(['-H', 'X-Mode: write', '-H', 'X-Mode: write', '--data', '{}', `http://127.0.0.1:${port}/refund`])
    t.equal((JSON.parse(directly.body) as GoAnswer).header_mode, 'write', 'Go acts on the first X-Mode')
    t.equal((await viaCurl('modes.test', ['X-Mode: write'])).error, 'SIDEKEY_ERR_CONDITION_FAILED', 'one X-Mode: write is refused')
    const twice = await viaCurl('modes.test', ['X-Mode: write', 'X-Mode: write'])
    t.same([twice.status, twice.error], [400, 'SIDEKEY_ERR_AMBIGUOUS_HEADER'], 'twice: refused as ambiguous, not read as "write, write"')
    t.match(twice.body, /the header \\"x-mode\\" is given 2 times/)
    const underscore = await viaCurl('modes.test', ['X_Mode: write'])
    t.same([underscore.status, underscore.error], [400, 'SIDEKEY_ERR_AMBIGUOUS_HEADER'], 'X_Mode: refused (wsgiref, Rack and PHP read it as X-Mode)')
    t.match(underscore.body, /spelled with \\"-\\"/)
    t.equal((await viaCurl('modes.test', ['X-Mode: read', 'X-Tag: a', 'X-Tag: b'])).status, 200, 'a repeated header no condition reads is left alone')
    const held = await viaCurl('held-writes.test', ['X-Mode: write', 'X-Mode: write'])
    t.equal(held.error, 'SIDEKEY_ERR_AMBIGUOUS_HEADER', 'approval.when reads headers the same way: not let through unasked')

    const sandbox = await viaCurl('accounts.test', ['X-Account: sandbox'])
    t.equal(sandbox.status, 200)
    t.equal((JSON.parse(sandbox.body) as GoAnswer).header_account, 'sandbox')
    const dropped = await viaCurl('accounts.test', ['X-Account: sandbox', 'Connection: x-account'])
    t.equal(dropped.status, 403, 'a header the agent\'s Connection names never reaches the upstream, so CEL does not see it either')
    t.match(dropped.error, /^SIDEKEY_ERR_CONDITION_(FAILED|UNDECIDABLE)$/)
  })

  t.test('sidekey explain tells the same truth', async (t) => {
    const cli = join(root, 'dist', 'src', 'cli', 'main.js')
    // Asked of the running sidekey, which reaches these hosts through --connect-to.
    const explain = (url: string, body: string) =>
      run(process.execPath, [cli, 'explain', 'POST', url, '--admin', sk.adminUrl.replace('http://', ''), '--workload', 'agent', '--body', body]).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
      )
    const body = await explain(`http://refunds.test:${port}/refund`, '{"amount": 50, "AMOUNT": 5000}')
    t.equal(body.code, 1)
    t.match(body.stdout, /fail\s+ambiguous_body/)
    t.match(body.stdout, /SIDEKEY_ERR_AMBIGUOUS_BODY/)
    const query = await explain(`http://query.test:${port}/refund?amount=50&amount=5000`, '{}')
    t.equal(query.code, 1)
    t.match(query.stdout, /fail\s+ambiguous_query/)
    t.equal((await explain(`http://refunds.test:${port}/refund`, '{"amount": 50}')).code, 0)
  })

  t.test('curl sees the same refusal', async (t) => {
    const r = await curl(['-x', sk.proxyUrlFor('curl-agent'), '-H', 'content-type: application/json', '--data', '{"amount":50,"AMOUNT":5000}', `http://refunds.test:${port}/refund`])
    t.equal(r.status, 400)
    t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_AMBIGUOUS_BODY/i)
  })

  noSecretsLogged(t, sk)
})

t.test('a "__proto__" key against a Node upstream that copies the body with Object.assign', async (t) => {
  // Found by a red-team run (on MCP arguments): JSON.parse keeps "__proto__" as an ordinary key, so
  // a condition sees no `force`; a server that copies the object sets the copy's prototype from it
  // and reads force: true.
  const upstream = await startUpstream((_req, res, body) => {
    const options = Object.assign({}, JSON.parse(body) as object) as { force?: boolean }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ forced: options.force === true }))
  })
  t.teardown(() => upstream.close())
  const sk = await startTestSidekey(
    t,
    `
version: v1
routes:
  - name: deploys
    host: deploy.test
    ports: [${upstream.port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['!has(body.force)']
`,
    { connectTo: { [`deploy.test:${upstream.port}`]: { host: '127.0.0.1', port: upstream.port } } },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  const post = async (body: string) => {
    const r = await request(`http://deploy.test:${upstream.port}/deploy`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body })
    return { status: r.statusCode, error: r.headers['x-sidekey-error'], text: await r.body.text() }
  }
  t.match(await post('{"env":"staging"}'), { status: 200, text: '{"forced":false}' })
  t.match(await post('{"env":"staging","force":true}'), { status: 403, error: 'SIDEKEY_ERR_CONDITION_FAILED' })
  const before = upstream.seen.length
  const proto = await post('{"env":"staging","__proto__":{"force":true}}')
  t.match(proto, { status: 400, error: 'SIDEKEY_ERR_AMBIGUOUS_BODY' })
  t.match(JSON.parse(proto.text).message, /has a "__proto__" key in body; a JavaScript server that copies the object/)
  t.equal(upstream.seen.length, before, 'the upstream, which would have read force: true, got nothing')
})

t.test('a body CEL reads as UTF-8 JSON that the upstream reads otherwise: no JSON Content-Type, another charset', async (t) => {
  // Found by a red-team run against real Rack, Werkzeug and Express. Express here is real
  // (express.json(), which decodes a declared utf-7); the form reading of a POST without a
  // Content-Type follows Rack's documented rule (Rack::Request#form_data? is true for a POST with no
  // media type), written with URLSearchParams.
  const app = express()
  app.post('/express', express.json({ type: () => true }), (req, res) => void res.json({ amount: (req.body as { amount?: number }).amount }))
  app.post('/rack-like', express.text({ type: () => true }), (req, res) => {
    const form = req.headers['content-type'] === undefined || req.headers['content-type'] === '' ? Object.fromEntries(new URLSearchParams(String(req.body))) : {}
    res.json({ amount: form.amount ?? null })
  })
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as { port: number }).port
  const sk = await startTestSidekey(
    t,
    `
version: v1
routes:
  - name: refunds
    host: pay.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      cel: ['body.amount <= 1000']
  - name: held
    host: held.test
    ports: [${port}]
    addresses: [127.0.0.1]
    approval: { timeout_s: 1 }
`,
    { connectTo: { [`pay.test:${port}`]: { host: '127.0.0.1', port }, [`held.test:${port}`]: { host: '127.0.0.1', port } } },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  const post = async (host: string, path: string, body: string, headers: Record<string, string>) => {
    const r = await request(`http://${host}:${port}${path}`, { dispatcher, method: 'POST', headers, body })
    return { status: r.statusCode, error: r.headers['x-sidekey-error'], text: await r.body.text() }
  }
  // utf-7: what CEL reads as UTF-8 is {"amount":5,"note":"+ACI..."}; Express decodes a second amount.
  const utf7 = '{"amount":5,"note":"+ACIALAAiAGEAbQBvAHUAbgB0ACIAOgA1ADAAMAAwACwAIgB4ACIAOgAi-"}'
  const before = (await fetch(`http://127.0.0.1:${port}/express`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-7' }, body: utf7 }).then((r) => r.json())) as { amount: number }
  t.equal(before.amount, 5000, 'Express itself reads 5000 from it')
  for (const contentType of ['application/json; charset=utf-7', 'application/json; charset="UTF-16"', 'application/json; charset=utf-8; charset=utf-7']) {
    const r = await post('pay.test', '/express', utf7, { 'content-type': contentType })
    t.match(r, { status: 400, error: 'SIDEKEY_ERR_AMBIGUOUS_BODY' }, contentType)
    t.match(JSON.parse(r.text).message, /the body declares charset.*reads the body as UTF-8/)
  }
  t.match(await post('pay.test', '/express', '{"amount":5}', { 'content-type': 'application/json; charset=UTF-8' }), { status: 200, text: '{"amount":5}' }, 'utf-8 declared is fine')
  // No Content-Type: the form reading finds a second amount after the "&".
  const smuggled = '{"amount":5,"x":"&amount=5000&"}'
  const direct = (await fetch(`http://127.0.0.1:${port}/rack-like`, { method: 'POST', body: smuggled, headers: {} }).then((r) => r.json())) as { amount: string | null }
  t.ok(direct.amount === '5000' || direct.amount === null, 'the stand-in reads it as a form when fetch sends no Content-Type')
  for (const headers of [{}, { 'content-type': '' }, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-url-encoded' }, { 'content-type': 'multipart/mixed; boundary=x' }] as Record<string, string>[]) {
    const r = await post('pay.test', '/rack-like', smuggled, headers)
    t.match(r, { status: 400, error: 'SIDEKEY_ERR_AMBIGUOUS_BODY' }, JSON.stringify(headers))
    t.match(JSON.parse(r.text).message, /the body is JSON but is (sent without a Content-Type|declared as [a-z/-]+); route "refunds" reads it as JSON/)
  }
  t.match(await post('pay.test', '/express', '{"amount":5}', {}), { status: 200 }, 'JSON with no separator in it reads the same as a form: let through')
  // The person approving reads the body as UTF-8 too: another charset is refused before holding.
  t.match(await post('held.test', '/express', utf7, { 'content-type': 'application/json; charset=utf-7' }), { status: 400, error: 'SIDEKEY_ERR_AMBIGUOUS_BODY' })
  t.equal((await sk.state.listApprovals()).length, 0, 'nothing was held')
})
