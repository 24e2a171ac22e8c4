import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ProxyAgent, request } from 'undici'
import { startTestSidekey } from '../helpers/sidekey.js'

// One parameter given in the query and in the body: servers that hand a handler one merged map
// disagree on which wins, so a condition that read one place passed what the upstream read in the
// other (found by a red-team run, against real Rack and Rails: a refund of 5000 through
// `int(request.query.amount) <= 1000` with `?amount=5` and a form field `amount=5000`, and through
// `body.amount <= 1000` with `{"amount":5}` and `?amount=5000`). src/guard/merged-params.ts.
// The upstream is real Rack and Rails parameter parsing (Debian's ruby-rack and ruby-actionpack):
// it answers with the `amount` each would act on.

interface Read {
  rack: unknown
  rails: unknown
}

async function startRackAndRails(t: Test): Promise<number> {
  const child = spawn('ruby', [join(process.cwd(), 'test/fixtures/ruby/merged-params.rb')], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => {
    child.kill('SIGKILL')
  })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve)
    child.once('exit', (code) => reject(new Error(`ruby exited with ${code}`)))
  })
  return Number(line)
}

t.test('a parameter in the query and in the body is refused where a condition reads it', async (t) => {
  const port = await startRackAndRails(t)
  const sk = await startTestSidekey(
    t,
    `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - name: query-limit
    host: pay.test
    ports: [${port}]
    addresses: [127.0.0.1]
    methods: [POST]
    paths: [/q/refund]
    credential: key
    conditions:
      cel: ['int(request.query.amount) <= 1000']
  - name: body-limit
    host: pay.test
    ports: [${port}]
    addresses: [127.0.0.1]
    methods: [POST]
    paths: [/b/refund]
    credential: key
    conditions:
      cel: ['body.amount <= 1000']
`,
    { connectTo: { [`pay.test:${port}`]: { host: '127.0.0.1', port } } },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  const post = async (path: string, body: string | Buffer, contentType?: string): Promise<{ status: number; error: string | undefined; read: Read | null; message: string }> => {
    const res = await request(`http://pay.test:${port}${path}`, { method: 'POST', dispatcher, body, headers: contentType === undefined ? {} : { 'content-type': contentType } })
    const text = await res.body.text()
    const error = res.headers['x-sidekey-error'] as string | undefined
    return { status: res.statusCode, error, read: error === undefined ? (JSON.parse(text) as Read) : null, message: text }
  }
  /** What the upstream reads when the request goes to it directly: the differential is real. */
  const direct = async (path: string, body: string, contentType?: string): Promise<Read> => {
    const res = await request(`http://127.0.0.1:${port}${path}`, { method: 'POST', body, headers: contentType === undefined ? {} : { 'content-type': contentType } })
    return (await res.body.json()) as Read
  }

  t.test('a condition on the query, the same name in a form body (Rack takes the form)', async (t) => {
    t.same(await direct('/q/refund?amount=5', 'amount=5000', 'application/x-www-form-urlencoded'), { rack: '5000', rails: '5', path: '/q/refund' }, 'Rack acts on the form field')
    const refused = await post('/q/refund?amount=5', 'amount=5000', 'application/x-www-form-urlencoded')
    t.same([refused.status, refused.error], [400, 'SIDEKEY_ERR_AMBIGUOUS_QUERY'])
    t.match(JSON.parse(refused.message).message, /"amount" is given in the query and in the body/, 'the refusal names the parameter')
    for (const [body, type] of [
      ['AMOUNT=5000', 'application/x-www-form-urlencoded'],
      ['amount[]=5000', 'application/x-www-form-urlencoded'],
      ['x=1;amount=5000', undefined],
      ['{"amount":5000}', 'application/json'],
      ['--b\r\nContent-Disposition: form-data; name="amount"\r\n\r\n5000\r\n--b--\r\n', 'multipart/form-data; boundary=b'],
    ] as const) {
      const r = await post('/q/refund?amount=5', body, type)
      t.same([r.status, r.error], [400, 'SIDEKEY_ERR_AMBIGUOUS_QUERY'], `${type ?? 'no Content-Type'}: ${JSON.stringify(body.slice(0, 30))}`)
    }
    // Part heads and media types as their lenient readers take them (found by a red-team run,
    // against PHP 8.2 and Rack 2.2: each of these refunded 5000 before).
    const part = (head: string): string => `--b\r\n${head}\r\n\r\n5000\r\n--b--\r\n`
    const lenient: [what: string, contentType: string, body: string][] = [
      ["name in single quotes (PHP)", 'multipart/form-data; boundary=b', part("Content-Disposition: form-data; name='amount'")],
      ['two names, the last one counts (PHP, Rack)', 'multipart/form-data; boundary=b', part('Content-Disposition: form-data; name="note"; name="amount"')],
      ['a part named by its Content-ID (Rack)', 'multipart/form-data; boundary=b', part('Content-ID: amount')],
      ['a folded Content-Disposition (Rack)', 'multipart/form-data; boundary=b', part('Content-Disposition: form-data\r\n ; name="amount"')],
      ["an extended name*= (Werkzeug)", 'multipart/form-data; boundary=b', part("Content-Disposition: form-data; name*=UTF-8''%61mount")],
      ['a media type cut at "," (PHP, Rack)', 'application/x-www-form-urlencoded, text/plain', 'amount=5000'],
      ['a media type cut at a space (PHP)', 'application/x-www-form-urlencoded x', 'amount=5000'],
      ['"/json" anywhere in the field (Laravel)', 'text/plain; p=/json', '{"amount":5000}'],
    ]
    t.same(await direct('/q/refund?amount=5', part('Content-ID: amount'), 'multipart/form-data; boundary=b'), { rack: '5000', rails: '5', path: '/q/refund' }, 'Rack names a part by its Content-ID')
    t.same(await direct('/q/refund?amount=5', 'amount=5000', 'application/x-www-form-urlencoded, text/plain'), { rack: '5000', rails: '5', path: '/q/refund' }, 'Rack cuts the media type at ","')
    for (const [what, type, body] of lenient) {
      const r = await post('/q/refund?amount=5', body, type)
      t.same([r.status, r.error], [400, 'SIDEKEY_ERR_AMBIGUOUS_QUERY'], what)
    }
    // PHP's $_REQUEST with cookies in request_order lets a cookie win over the query (found by a red-team run).
    const cookie = await request(`http://pay.test:${port}/q/refund?amount=5`, { method: 'POST', dispatcher, headers: { cookie: 'session=x; amount=5000' } })
    await cookie.body.dump()
    t.same([cookie.statusCode, cookie.headers['x-sidekey-error']], [400, 'SIDEKEY_ERR_AMBIGUOUS_QUERY'], 'a cookie named like the query parameter')
    const otherCookie = await request(`http://pay.test:${port}/q/refund?amount=5`, { method: 'POST', dispatcher, headers: { cookie: 'session=x' } })
    await otherCookie.body.dump()
    t.equal(otherCookie.statusCode, 200, 'other cookies are fine')
    const ok = await post('/q/refund?amount=5', 'note=thanks', 'application/x-www-form-urlencoded')
    t.same([ok.status, ok.read?.rack], [200, '5'], 'other fields in the body are fine')
    // A body that carries no parameters is not read for this (an upload may be large).
    const upload = await post('/q/refund?amount=5', Buffer.alloc(2 * 1024 * 1024, 'a'), 'application/octet-stream')
    t.equal(upload.status, 200, 'a 2 MiB upload is not read')
  })

  t.test('a condition on the body, the same name in the query (Rails takes the query)', async (t) => {
    t.same(await direct('/b/refund?amount=5000', '{"amount":5}', 'application/json'), { rack: '5000', rails: '5000', path: '/b/refund' }, 'Rails acts on the query')
    const refused = await post('/b/refund?amount=5000', '{"amount":5}', 'application/json')
    t.same([refused.status, refused.error], [400, 'SIDEKEY_ERR_AMBIGUOUS_QUERY'])
    for (const query of ['Amount=5000', 'amount%5B%5D=5000', 'x=1&amount=5000']) {
      const r = await post(`/b/refund?${query}`, '{"amount":5}', 'application/json')
      t.same([r.status, r.error], [400, 'SIDEKEY_ERR_AMBIGUOUS_QUERY'], query)
    }
    const ok = await post('/b/refund?page=2', '{"amount":5}', 'application/json')
    t.same([ok.status, ok.read?.rails], [200, 5], 'a query with other names is fine')
    const over = await post('/b/refund', '{"amount":5000}', 'application/json')
    t.same([over.status, over.error], [403, 'SIDEKEY_ERR_CONDITION_FAILED'], 'the condition still holds')
  })
})
