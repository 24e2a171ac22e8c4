import { createServer as createHttpsServer } from 'node:https'
import { connect, type AddressInfo } from 'node:net'
import { gzipSync, deflateSync } from 'node:zlib'
import t, { type Test } from 'tap'
import { request } from 'undici'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { z } from 'zod'
import type { McpUpstream } from '../helpers/mcp-servers.js'
import { MCP_HOST, startMcpSidekey } from '../helpers/mcp-sidekey.js'
import { noSecretsLogged } from '../helpers/sidekey.js'
import { basicAuth, openTunnel } from '../helpers/tunnels.js'
import { startUpstream, upstreamTrust, type Seen, type UpstreamTrust } from '../helpers/upstream.js'

// A hostile agent behind sidekey, by class of trick: the request's bytes read one way by sidekey
// and another by the server (charsets, content codings, letter case Go folds), method and name
// spellings, JSON-RPC shapes, transports (other methods, paths, HTTP/1.0, chunked, Expect), URI
// edges of resources; then a server whose list answers a client reads differently from sidekey
// (byte order marks, SSE line endings, ids the SDKs match loosely). Each asserts the refusal (or
// the filtering) and what reached the server.

const ACCEPT = 'application/json, text/event-stream'

/**
 * The MCP SDK's own Express setup (`createMcpExpressApp`: `express.json()` in front of a stateless
 * Streamable HTTP transport answering in JSON), over HTTPS: the body parser that decodes charsets
 * and content codings a plain Node server never sees. `called` lists what the server ran.
 */
async function startExpressMcp(trust: UpstreamTrust): Promise<McpUpstream & { seen: Seen[] }> {
  const called: McpUpstream['called'] = []
  const seen: Seen[] = []
  const app = createMcpExpressApp({ host: '127.0.0.1', allowedHosts: [MCP_HOST] })
  app.post('/mcp', async (req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body: JSON.stringify(req.body) })
    const server = new McpServer({ name: 'express-mcp', version: '1.0.0' })
    for (const name of ['search_issues', 'delete_repo', 'admin_wipe']) {
      server.registerTool(name, { inputSchema: { q: z.string().optional() } }, async (args) => {
        called.push({ name, args, authorization: req.headers.authorization })
        return { content: [{ type: 'text' as const, text: name }] }
      })
    }
    for (const [name, uri] of [['public', 'repo://acme/public/readme'], ['secrets', 'repo://acme/secrets']] as const) {
      server.registerResource(name, uri, {}, async (u) => (called.push({ name: `read:${u.href}`, args: null, authorization: undefined }), { contents: [{ uri: u.href, text: name }] }))
    }
    for (const name of ['triage', 'exfiltrate']) server.registerPrompt(name, { argsSchema: { topic: z.string() } }, async () => ({ messages: [{ role: 'user' as const, content: { type: 'text' as const, text: name } }] }))
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true })
    await server.connect(transport)
    await transport.handleRequest(req, res, req.body)
  })
  // Whatever else reaches it is recorded too (a path or method variant that got through).
  app.use((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers, rawHeaders: req.rawHeaders, body: '' })
    res.status(404).end()
  })
  const server = createHttpsServer(await trust.cert(MCP_HOST), app)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    server,
    port: (server.address() as AddressInfo).port,
    seen,
    called,
    openGate: () => undefined,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  }
}

interface Answer {
  status: number
  error: string | undefined
  text: string
  json: { id?: unknown; error?: { code: number; message: string; data: Record<string, unknown> } } & Record<string, unknown>
  reached: number
}

t.test('hostile requests against the SDK server behind express.json()', async (t) => {
  const trust = await upstreamTrust()
  const server = await startExpressMcp(trust)
  t.teardown(() => server.close())
  const { sk, dispatcher, url, nextApproval, decide } = await startMcpSidekey(
    t,
    server,
    trust,
    `      tools:
        - name: search_issues
          conditions: { cel: ['!has(mcp.arguments.force)'] }
        - name: delete_*
          approval: { timeout_s: 30 }
        - name: create_*
          conditions: { rate: { requests: 2, per_s: 3600 } }
      resources:
        - uri: "repo://acme/public/*"
      prompts:
        - name: triage
`,
  )
  const send = async (body: string | Buffer, headers: Record<string, string> | string[] = {}, method = 'POST', path = '/mcp'): Promise<Answer> => {
    const before = server.seen.length
    const all = Array.isArray(headers) ? ['accept', ACCEPT, ...headers] : Object.entries({ 'content-type': 'application/json', accept: ACCEPT, ...headers }).flat()
    const res = await request(url.replace(/\/mcp$/, path), { dispatcher, method: method as 'POST', headers: all, body })
    const text = await res.body.text()
    let json = {} as Answer['json']
    try {
      json = JSON.parse(text) as Answer['json']
    } catch {
      // Not every answer is JSON.
    }
    return { status: res.statusCode, error: res.headers['x-sidekey-error'] as string | undefined, text, json, reached: server.seen.length - before }
  }
  const call = (name: string, id: unknown = 7) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } })

  t.test('control: an allowed call reaches the server and runs', async (t) => {
    const r = await send(call('search_issues'), { 'content-type': 'application/json; charset=UTF-8' })
    t.match(r, { status: 200, error: undefined, reached: 1 })
    t.equal(server.called.at(-1)?.name, 'search_issues')
  })

  t.test('charset: a body sidekey reads as UTF-8 and express.json() decodes as UTF-7 is refused', async (t) => {
    // sidekey sees search_issues with a string argument; UTF-7 turns "+ACI...-" into
    // `"},"name":"admin_wipe","arguments":{"q":"`, and JSON.parse keeps the last "name".
    const smuggled = Buffer.from('"},"name":"admin_wipe","arguments":{"q":"', 'utf16le').swap16().toString('base64').replace(/=+$/, '')
    const body = `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","arguments":{"q":"+${smuggled}-"}}}`
    t.equal((JSON.parse(body) as { params: { name: string } }).params.name, 'search_issues', 'what sidekey would decide on')
    const before = server.called.length
    for (const type of ['application/json; charset=utf-7', 'application/json;charset="UTF-7"', 'application/json; charset=utf-16le', 'application/json; x="y"; charset=utf-7', 'application/json; charset=utf-8; charset=utf-7']) {
      const r = await send(body, { 'content-type': type })
      t.match(r, { status: 400, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, type)
      t.match(r.text, /charset other than UTF-8/, type)
    }
    for (const [what, bytes] of [['UTF-16 with its byte order mark', Buffer.from(`\ufeff${call('admin_wipe')}`, 'utf16le')], ['UTF-8 with a byte order mark', Buffer.from(`\ufeff${call('admin_wipe')}`)]] as const) {
      const r = await send(bytes)
      t.match(r, { status: 400, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, what)
      t.match(r.json, { id: null, error: { code: -32700 } }, what)
    }
    const twice = await send(call('search_issues'), ['content-type', 'application/json', 'content-type', 'application/json; charset=utf-7'])
    t.match(twice, { status: 400, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, 'two Content-Type headers')
    t.equal(server.called.length, before, 'admin_wipe never ran')
    t.match(await sk.sink.waitForAudit((a) => a.reason === 'mcp-invalid' && a.error === 'SIDEKEY_ERR_MCP_INVALID'), { decision: 'deny', status: 400 })
  })

  t.test('content coding: a compressed request body is refused, whatever it holds', async (t) => {
    for (const [coding, bytes] of [['gzip', gzipSync(call('admin_wipe'))], ['deflate', deflateSync(call('admin_wipe'))], ['gzip', Buffer.from(call('search_issues'))]] as const) {
      const r = await send(bytes, { 'content-encoding': coding })
      t.match(r, { status: 400, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, coding)
      t.match(r.text, /Content-Encoding/)
    }
    t.match(await send(call('search_issues'), { 'content-encoding': 'identity' }), { status: 200, error: undefined, reached: 1 }, 'identity is no coding')
  })

  t.test("letter case Go's encoding/json folds: envelope and params members are refused", async (t) => {
    const prompt = (ref: object) => ({ method: 'completion/complete', params: { ref: { type: 'ref/prompt', ...ref }, argument: { name: 'topic', value: 'a' } } })
    const cases: [string, object][] = [
      ['"Method" in a response: to sidekey it calls nothing, to the Go SDK it is a tools/call', { Method: 'tools/call', params: { name: 'admin_wipe' }, result: {} }],
      ['"METHOD" in a response', { METHOD: 'tools/list', result: {} }],
      ['"Arguments": arguments CEL would not see', { method: 'tools/call', params: { name: 'search_issues', Arguments: { q: 'x' } } }],
      ['"NAME" beside name in a completion ref', prompt({ name: 'triage', NAME: 'exfiltrate' })],
      ['"Name" alone in a completion ref', prompt({ Name: 'exfiltrate' })],
      ['long s, which Go folds to s', { method: 'tools/call', params: { name: 'search_issues', 'argument\u017f': { q: 'x' } } }],
    ]
    for (const [what, message] of cases) {
      const r = await send(JSON.stringify({ jsonrpc: '2.0', id: 7, ...message }))
      t.match(r, { status: 200, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, what)
      t.match(r.json, { jsonrpc: '2.0', id: 7, error: { code: -32600, message: /only in letter case/ } }, what)
    }
  })

  t.test('argument keys a condition reads, in another letter case, are refused', async (t) => {
    const withArgs = (args: string) => `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","arguments":${args}}}`
    t.match(await send(withArgs('{"force":true}')), { status: 200, error: 'SIDEKEY_ERR_CONDITION_FAILED', reached: 0 }, 'the condition refuses force')
    for (const args of ['{"Force":true}', '{"FORCE":true}', '{"q":"x","fOrce":false}']) {
      const r = await send(withArgs(args))
      t.match(r, { status: 200, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, args)
      t.match(r.json, { id: 7, error: { code: -32602, message: /differs only in letter case from "force"/ } }, args)
    }
    t.match(await send(withArgs('{"q":"x","forced":true}')), { status: 200, error: undefined, reached: 1 }, 'other names are not touched')
  })

  t.test('approval and limits cannot be walked around in a batch or a notification', async (t) => {
    // 2025-03-26 (no MCP-Protocol-Version) is the revision with batches.
    const batch = (...calls: [string, number][]) => `[${calls.map(([name, id]) => call(name, id)).join(',')}]`
    const held = send(batch(['search_issues', 1], ['delete_repo', 2]))
    const a = await nextApproval()
    t.match(a.why, /tools\/call "delete_repo"/, 'the delete in a batch is held for a person')
    await decide(a.id, 'deny')
    const r = await held
    t.match(r, { status: 200, error: 'SIDEKEY_ERR_APPROVAL_DENIED', reached: 0 })
    t.match(r.json, [{ id: 1, error: { code: -32003 } }, { id: 2, error: { code: -32003 } }], 'refused whole')
    const note = send('{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete_repo","arguments":{}}}')
    await decide((await nextApproval()).id, 'deny')
    t.match(await note, { status: 403, error: 'SIDEKEY_ERR_APPROVAL_DENIED', reached: 0 }, 'a notification is held too')
    const over = await send(batch(['create_issue', 1], ['create_issue', 2], ['create_issue', 3]))
    t.match(over, { status: 200, error: 'SIDEKEY_ERR_RATE_LIMITED', reached: 0 }, 'three calls in one POST count as three')
    t.match(over.json, [{ id: 1, error: { data: { sidekey_error: 'SIDEKEY_ERR_RATE_LIMITED' } } }, { id: 2 }, { id: 3 }])
  })

  t.test('method spellings: case, spaces, controls and escapes never become an allowed method', async (t) => {
    for (const method of ['Tools/call', 'TOOLS/CALL', 'tools/call ', ' tools/call', 'tools/call\u0000', 'tools//call', 'tools/call/']) {
      const r = await send(JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: { name: 'admin_wipe', arguments: {} } }))
      t.match(r, { status: 200, error: 'SIDEKEY_ERR_MCP_DENIED', reached: 0 }, JSON.stringify(method))
      t.match(r.json, { id: 7, error: { code: -32003, data: { reason: 'mcp-method-denied' } } }, JSON.stringify(method))
    }
    // Escapes are JSON: sidekey decides on what they decode to, as the server does.
    const escaped = await send('{"jsonrpc":"2.0","id":7,"method":"tools\\u002fcall","params":{"name":"admin\\u005fwipe","arguments":{}}}')
    t.match(escaped, { status: 200, error: 'SIDEKEY_ERR_MCP_DENIED', reached: 0 })
    t.match(escaped.json, { id: 7, error: { code: -32003, data: { reason: 'mcp-tool-not-allowed', call: 'tools/call "admin_wipe"' } } })
    const key = await send('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","na\\u006de":"admin_wipe"}}')
    t.match(key, { status: 200, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, 'an escaped duplicate key')
  })

  t.test('JSON-RPC shapes: notifications, responses, __proto__ and ids', async (t) => {
    const before = server.called.length
    const note = await send('{"jsonrpc":"2.0","method":"tools/call","params":{"name":"admin_wipe","arguments":{}}}')
    t.match(note, { status: 403, error: 'SIDEKEY_ERR_MCP_DENIED', reached: 0 }, 'a notification is decided like a request')
    t.match(note.json, { id: null, error: { code: -32003 } })
    const proto = await send('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"__proto__":{"name":"admin_wipe"},"arguments":{}}}')
    t.match(proto, { error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, 'a name under __proto__ is no name: the message is refused whole')
    t.match(proto.json, { id: 7, error: { code: -32600 } })
    // Found by a red-team run: arguments a server copies with Object.assign take __proto__ for the
    // prototype, so {"__proto__":{"force":true}} reads as force: true past a check that saw none.
    const protoArgs = await send('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search_issues","arguments":{"q":"x","__proto__":{"force":true}}}}')
    t.match(protoArgs, { error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, '__proto__ in arguments')
    t.match(protoArgs.text, /message\.params\.arguments has a \\"__proto__\\" key/)
    for (const [id, shown] of [['1e400', null], ['9007199254740993', null], ['1.5', null], ['{"a":1}', null], ['true', null]] as const) {
      const r = await send(`{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"search_issues","arguments":{}}}`)
      t.match(r, { status: 400, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, `id ${id}`)
      t.match(r.json, { id: shown, error: { code: -32600 } }, `id ${id}`)
    }
    const stringId = await send(call('admin_wipe', '7'))
    t.match(stringId.json, { id: '7', error: { code: -32003 } }, 'a string id is answered as a string')
    // A client's answer to a server's sampling or elicitation request calls nothing, even carrying params.
    const reply = await send('{"jsonrpc":"2.0","id":"srv-1","result":{"action":"accept"},"params":{"name":"admin_wipe"}}')
    t.match(reply, { error: undefined, reached: 1 })
    const inResponse = await send('{"jsonrpc":"2.0","id":7,"result":{},"method":"tools/call","params":{"name":"admin_wipe"}}')
    t.match(inResponse, { status: 200, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, 'a tools/call inside a response object')
    t.equal(server.called.length, before, 'nothing ran')
  })

  t.test('completion/complete is decided by the prompt or resource it names', async (t) => {
    const complete = (ref: object) => JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'completion/complete', params: { ref, argument: { name: 'topic', value: 'a' } } })
    t.match(await send(complete({ type: 'ref/prompt', name: 'exfiltrate' })), { status: 200, error: 'SIDEKEY_ERR_MCP_DENIED', reached: 0 })
    t.match(await send(complete({ type: 'ref/resource', uri: 'repo://acme/secrets' })), { status: 200, error: 'SIDEKEY_ERR_MCP_DENIED', reached: 0 })
    t.match(await send(complete({ type: 'REF/PROMPT', name: 'triage' })), { status: 200, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 })
    t.match(await send(complete({ type: 'ref/prompt', name: 'triage' })), { error: undefined, reached: 1 })
  })

  t.test('resources/read: URIs a server could resolve past the glob are refused', async (t) => {
    const read = (uri: string) => send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'resources/read', params: { uri } }))
    const before = server.called.length
    for (const uri of ['repo://acme/public/../secrets', 'repo://acme/public/%2e%2e/secrets', 'repo://acme/public/%2E%2e%2fsecrets', 'repo://acme/public/./readme', 'repo://acme/public/..\\secrets', 'repo://acme/public/%72eadme']) {
      const r = await read(uri)
      t.match(r, { status: 200, error: 'SIDEKEY_ERR_MCP_NAME_REFUSED', reached: 0 }, uri)
      t.match(r.json, { id: 7, error: { code: -32003, message: /dot segment/ } }, uri)
    }
    t.match(await read('REPO://acme/public/readme'), { error: 'SIDEKEY_ERR_MCP_NAME_REFUSED', reached: 0 }, 'scheme case: refused, not matched')
    t.match(await read('repo://acme/secrets'), { error: 'SIDEKEY_ERR_MCP_DENIED', reached: 0 })
    t.equal(server.called.length, before)
    t.match(await read('repo://acme/public/readme'), { status: 200, error: undefined, reached: 1 }, 'control: the allowed resource')
    t.equal(server.called.at(-1)?.name, 'read:repo://acme/public/readme')
  })

  t.test('transport: other methods with a body, and path variants', async (t) => {
    for (const method of ['PUT', 'PATCH', 'DELETE', 'GET']) {
      const r = await send(call('admin_wipe'), {}, method)
      t.match(r, { status: 400, error: 'SIDEKEY_ERR_MCP_INVALID', reached: 0 }, method)
      t.match(r.text, /only a POST carries a JSON-RPC message/, method)
    }
    // Paths the route does not match are refused before anything; those sidekey normalizes to /mcp
    // (and a query string) are the MCP route, decided on their body.
    for (const path of ['/MCP', '/mcp/', '/mcp;x', '/mcp%2f', '/mcp/..']) {
      const r = await send(call('admin_wipe'), {}, 'POST', path)
      t.equal(r.reached, 0, path)
      t.ok(r.error !== undefined && r.error !== 'SIDEKEY_ERR_MCP_DENIED' && r.status >= 400, `${path}: refused by the route match (${r.status} ${r.error})`)
    }
    for (const path of ['/%6dcp', '/x/../mcp', '/x/%2e%2e/mcp']) t.match(await send(call('admin_wipe'), {}, 'POST', path), { status: 200, error: 'SIDEKEY_ERR_MCP_DENIED', reached: 0 }, path)
    t.match(await send(call('admin_wipe'), {}, 'POST', '/mcp?x=/../admin'), { status: 200, error: 'SIDEKEY_ERR_MCP_DENIED', reached: 0 })
    t.equal(server.called.filter((c) => c.name === 'admin_wipe').length, 0)
  })

  t.test('transport: HTTP/1.0, a chunked body, Expect: 100-continue, written by hand in the tunnel', async (t) => {
    const proxy = new URL(sk.proxyUrlFor('agent'))
    const raw = async (head: string, body: string): Promise<string> => {
      const tunnel = await openTunnel(Number(proxy.port), `${MCP_HOST}:${server.port}`, { auth: basicAuth(proxy.username, proxy.password), tls: { ca: sk.ca.certPem } })
      const chunks: Buffer[] = []
      tunnel.stream.on('data', (c: Buffer) => chunks.push(c))
      tunnel.stream.write(head)
      tunnel.stream.write(body)
      await tunnel.closed
      return Buffer.concat(chunks).toString('utf8')
    }
    const denied = call('admin_wipe')
    const common = `Host: ${MCP_HOST}:${server.port}\r\nContent-Type: application/json\r\nAccept: ${ACCEPT}\r\nConnection: close\r\n`
    const before = server.seen.length
    const http10 = await raw(`POST /mcp HTTP/1.0\r\n${common}Content-Length: ${denied.length}\r\n\r\n`, denied)
    const half = Math.floor(denied.length / 2)
    const chunked = await raw(`POST /mcp HTTP/1.1\r\n${common}Transfer-Encoding: chunked\r\n\r\n`, `${half.toString(16)}\r\n${denied.slice(0, half)}\r\n${(denied.length - half).toString(16)}\r\n${denied.slice(half)}\r\n0\r\n\r\n`)
    const expect = await raw(`POST /mcp HTTP/1.1\r\n${common}Expect: 100-continue\r\nContent-Length: ${denied.length}\r\n\r\n`, denied)
    for (const [what, answer] of [['HTTP/1.0', http10], ['chunked', chunked], ['Expect: 100-continue', expect]] as const) {
      t.match(answer, /^HTTP\/1\.[01] (100 Continue\r\n\r\nHTTP\/1\.1 )?200 /, what)
      t.match(answer, /x-sidekey-error: SIDEKEY_ERR_MCP_DENIED/i, what)
      t.match(answer, /"id":7,"error":\{"code":-32003/, what)
    }
    t.equal(server.seen.length, before, 'none reached the server')
  })

  t.test('transport: absolute-form on the proxy port, and cleartext inside the CONNECT tunnel', async (t) => {
    const proxy = new URL(sk.proxyUrlFor('agent'))
    const auth = basicAuth(proxy.username, proxy.password)
    const denied = call('admin_wipe')
    const head = (target: string) => `POST ${target} HTTP/1.1\r\nHost: ${MCP_HOST}:${server.port}\r\nProxy-Authorization: ${auth}\r\nContent-Type: application/json\r\nAccept: ${ACCEPT}\r\nConnection: close\r\nContent-Length: ${denied.length}\r\n\r\n${denied}`
    const before = server.seen.length
    const answers: [string, string][] = []
    for (const scheme of ['https', 'http']) {
      const socket = connect(Number(proxy.port), '127.0.0.1')
      const chunks: Buffer[] = []
      socket.on('data', (c: Buffer) => chunks.push(c))
      socket.write(head(`${scheme}://${MCP_HOST}:${server.port}/mcp`))
      await new Promise((r) => socket.once('close', r))
      answers.push([`absolute-form ${scheme}://`, Buffer.concat(chunks).toString('utf8')])
    }
    const tunnel = await openTunnel(Number(proxy.port), `${MCP_HOST}:${server.port}`, { auth })
    const chunks: Buffer[] = []
    tunnel.stream.on('data', (c: Buffer) => chunks.push(c))
    tunnel.stream.write(head('/mcp'))
    await tunnel.closed
    answers.push(['cleartext in the tunnel', Buffer.concat(chunks).toString('utf8')])
    // Each is the MCP route all the same: decided on its body.
    for (const [what, answer] of answers) {
      t.match(answer, /^HTTP\/1\.1 200 [^]*x-sidekey-error: SIDEKEY_ERR_MCP_DENIED/i, what)
      t.match(answer, /"id":7,"error":\{"code":-32003/, what)
    }
    t.equal(server.seen.length, before, 'none reached the server')
  })

  noSecretsLogged(t, sk)
})

/** The tools a list answer holds, by name: the one the policy allows and one it does not. */
const LIST_RESULT = { tools: [{ name: 'search_issues', inputSchema: { type: 'object' } }, { name: 'admin_wipe', inputSchema: { type: 'object' } }] }

t.test('list answers a client reads differently from sidekey', async (t) => {
  const trust = await upstreamTrust()
  /** How the stand-in answers the next POST: written by the test, from the request's id. */
  let answer: (id: unknown, res: import('node:http').ServerResponse) => void = () => undefined
  const upstream = await startUpstream(
    (req, res, body) => {
      if (req.method === 'GET') return answer(1, res)
      answer((JSON.parse(body) as { id: unknown }).id, res)
    },
    { trust, host: MCP_HOST },
  )
  t.teardown(() => upstream.close())
  const { sk, dispatcher, url } = await startMcpSidekey(t, upstream, trust, '      tools: [{ name: search_issues }]\n')
  const list = async (id: unknown = 1, method = 'POST') => {
    const res = await request(url, { dispatcher, method: method as 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT }, body: method === 'POST' ? JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/list' }) : undefined })
    return { status: res.statusCode, error: res.headers['x-sidekey-error'], text: await res.body.text().catch(() => '(cut)') }
  }
  const message = (id: unknown, result: object = LIST_RESULT) => JSON.stringify({ jsonrpc: '2.0', id, result })
  const json = (prefix = '', idOf: (id: unknown) => unknown = (id) => id) => (answer = (id, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(prefix + message(idOf(id))))
  const sse = (...parts: ((id: unknown) => string)[]) =>
    (answer = (id, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      // Each part written on its own turn: the stream arrives cut where the test cut it.
      const next = (i: number): void => void (i === parts.length ? res.end() : (res.write(parts[i]!(id)), setImmediate(() => next(i + 1))))
      next(0)
    })
  const onlyAllowed = (t: Test, r: { status: number; text: string }, what: string) => {
    t.equal(r.status, 200, what)
    t.match(r.text, /search_issues/, what)
    t.notMatch(r.text, /admin_wipe/, `${what}: the denied tool is not shown`)
  }

  t.test('control: JSON and SSE answers are filtered', async (t) => {
    json()
    onlyAllowed(t, await list(), 'JSON')
    sse((id) => `event: message\ndata: ${message(id)}\n\n`)
    onlyAllowed(t, await list(), 'SSE')
  })

  t.test('a JSON answer opening with a byte order mark (fetch drops it, then parses)', async (t) => {
    json('\ufeff')
    onlyAllowed(t, await list(), 'BOM')
  })

  t.test('a JSON list answer sidekey cannot parse is refused, not passed on', async (t) => {
    answer = (id, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(`${message(id)}\u0000`)
    const r = await list()
    t.notMatch(r.text, /admin_wipe/)
    t.match(await sk.sink.waitForAudit((a) => a.error === 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE'), { mcp_method: 'tools/list' })
  })

  t.test('SSE line endings in any mix end an event, as a client reads them', async (t) => {
    for (const [what, end] of [['LF CRLF', '\n\r\n'], ['LF CR', '\n\r'], ['CRLF LF', '\r\n\n'], ['CR CR', '\r\r'], ['CRLF CRLF', '\r\n\r\n']] as const) {
      sse((id) => `data: ${message(id)}${end}`, () => `: keep-alive${end}`)
      onlyAllowed(t, await list(), what)
    }
  })

  t.test('SSE: a byte order mark opening the stream, and an event cut mid-JSON and mid-line ending', async (t) => {
    sse((id) => `\ufeffdata: ${message(id)}\n\n`)
    onlyAllowed(t, await list(), 'BOM')
    sse(
      (id) => `data: ${message(id).slice(0, 40)}`,
      (id) => `${message(id).slice(40)}\r`,
      () => '\n\r\n',
    )
    onlyAllowed(t, await list(), 'split')
  })

  t.test('a JSON answer to a call that holds a list answer under another id is filtered by its shape', async (t) => {
    // A client waiting on a tools/list sent on another POST would take it by its id, unfiltered.
    const call = async () => {
      const res = await request(url, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT }, body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'search_issues', arguments: {} } }) })
      return { status: res.statusCode, text: await res.body.text() }
    }
    json('', () => 7)
    onlyAllowed(t, await call(), 'a list for id 7 in the answer to call 5')
    answer = (id, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'found 3 issues' }] } }))
    const plain = await call()
    t.match(plain, { status: 200, text: /found 3 issues/ }, 'the call\'s own answer passes as it came')
  })

  t.test('an answer whose id the SDKs match loosely (Number(id)) is filtered too', async (t) => {
    for (const [what, idOf] of [['string for a number', (id: unknown) => String(id)], ['padded', (id: unknown) => ` ${String(id)}`], ['exponent', () => '1e0']] as const) {
      json('', idOf)
      onlyAllowed(t, await list(1), `JSON, ${what}`)
      sse((id) => `data: ${message(idOf(id))}\n\n`)
      onlyAllowed(t, await list(1), `SSE, ${what}`)
    }
  })

  t.test("keys a Go client reads in another letter case: the list, the result, an item's name", async (t) => {
    const tools = LIST_RESULT.tools
    for (const [what, body] of [
      ['"Tools" beside "tools"', (id: unknown) => ({ jsonrpc: '2.0', id, result: { tools: [tools[0]], Tools: [tools[1]] } })],
      ['"TOOLS" alone (dropped: an empty answer)', (id: unknown) => ({ jsonrpc: '2.0', id, result: { TOOLS: tools }, x: 'search_issues' })],
      ['"Result" beside "result"', (id: unknown) => ({ jsonrpc: '2.0', id, result: { tools: [tools[0]] }, Result: { tools } })],
      ['"Name" in an item', (id: unknown) => ({ jsonrpc: '2.0', id, result: { tools: [tools[0], { ...tools[0], Name: 'admin_wipe' }] } })],
    ] as const) {
      answer = (id, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body(id)))
      onlyAllowed(t, await list(), `JSON, ${what}`)
      sse((id) => `data: ${JSON.stringify(body(id))}\n\n`)
      onlyAllowed(t, await list(), `SSE, ${what}`)
    }
  })

  t.test('pages: each page is filtered and its cursor passes untouched', async (t) => {
    answer = (id, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(message(id, { tools: [LIST_RESULT.tools[1]], nextCursor: 'page-2' }))
    const r = await list()
    t.same(JSON.parse(r.text), { jsonrpc: '2.0', id: 1, result: { tools: [], nextCursor: 'page-2' } })
  })

  t.test('a compressed answer is decoded (the route scrubs its credential), then filtered', async (t) => {
    answer = (id, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipSync(message(id)))
    onlyAllowed(t, await list(), 'gzip')
  })

  t.test('the GET stream: a replayed list answer (Last-Event-ID) is filtered by its shape', async (t) => {
    sse(() => `id: 5\ndata: ${message(1)}\n\n`)
    const res = await request(url, { dispatcher, method: 'GET', headers: { accept: 'text/event-stream', 'last-event-id': '4' } })
    const text = await res.body.text()
    t.match(text, /search_issues/)
    t.notMatch(text, /admin_wipe/)
  })

  noSecretsLogged(t, sk)
})

t.test('a WebSocket upgrade on an MCP route is refused, with or without upgrades: [websocket]', async (t) => {
  const trust = await upstreamTrust()
  const upstream = await startUpstream(undefined, { trust, host: MCP_HOST })
  t.teardown(() => upstream.close())
  const upgrades: string[] = []
  // A server that would speak JSON-RPC over the WebSocket: every call on it undecided.
  upstream.server.on('upgrade', (req: import('node:http').IncomingMessage, socket: import('node:stream').Duplex) => {
    upgrades.push(req.url ?? '')
    socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n')
  })
  for (const [what, options] of [
    ['a route without a credential (upgrades allowed by default)', { credential: false }],
    ['a route with upgrades: [websocket]', { route: '    upgrades: [websocket]\n' }],
  ] as const) {
    const { sk } = await startMcpSidekey(t, upstream, trust, '      tools: [{ name: search_issues }]\n', options)
    const proxy = new URL(sk.proxyUrlFor('agent'))
    const tunnel = await openTunnel(Number(proxy.port), `${MCP_HOST}:${upstream.port}`, { auth: basicAuth(proxy.username, proxy.password), tls: { ca: sk.ca.certPem } })
    const answer = await tunnel.get('/mcp', { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' })
    t.match(answer, /^HTTP\/1\.1 403 /, what)
    t.match(answer, /x-sidekey-error: SIDEKEY_ERR_UPGRADE_REFUSED/i, what)
    t.match(answer, /is an MCP endpoint/, what)
    tunnel.socket.destroy()
    noSecretsLogged(t, sk)
  }
  t.same(upgrades, [], 'no upgrade reached the server')
})

t.test('resource URIs the server reads as a denied one, and numbers it reads exactly, against the SDK server', async (t) => {
  // Found by a red-team run: the SDK looks a resource up by new URL(uri).href, so these reached
  // repo://acme/secrets past a deny rule followed by a broad allow; and CEL read a 19-digit id as
  // the nearest double while the server read it exactly.
  const trust = await upstreamTrust()
  const server = await startExpressMcp(trust)
  t.teardown(() => server.close())
  const { dispatcher, url } = await startMcpSidekey(
    t,
    server,
    trust,
    `      tools:
        - name: delete_repo
          conditions: { cel: ['mcp.arguments.q != "x" && !has(mcp.arguments.repo_id)'] }
        - name: search_issues
          conditions: { cel: ['!has(mcp.arguments.repo_id) || mcp.arguments.repo_id != 1234567890123456789'] }
      resources:
        - uri: "repo://acme/secrets"
          action: deny
        - uri: "*"
`,
  )
  const send = async (message: object): Promise<{ error: string | undefined; reached: number; text: string }> => {
    const before = server.seen.length
    const res = await request(url, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT }, body: JSON.stringify(message) })
    return { error: res.headers['x-sidekey-error'] as string | undefined, text: await res.body.text(), reached: server.seen.length - before }
  }
  const read = (uri: string) => send({ jsonrpc: '2.0', id: 7, method: 'resources/read', params: { uri } })
  const before = server.called.length
  for (const uri of ['repo://acme:/secrets', 'repo://@acme/secrets', 'repo://:@acme/secrets', 'repo://acme\\secrets', 'REPO://acme/secrets']) {
    const r = await read(uri)
    t.match(r, { error: 'SIDEKEY_ERR_MCP_NAME_REFUSED', reached: 0 }, uri)
  }
  t.match(await read('repo://acme/secrets'), { error: 'SIDEKEY_ERR_MCP_DENIED', reached: 0 }, 'the canonical form is denied')
  t.equal(server.called.length, before, 'the denied resource was never read')
  t.match(await read('repo://acme/public/readme'), { error: undefined, reached: 1 }, 'control: a canonical allowed URI is read')
  const listen = await send({ jsonrpc: '2.0', id: 8, method: 'subscriptions/listen', params: { notifications: { resourceSubscriptions: ['repo://acme/public/readme', 'repo://acme/secrets'] } } })
  t.match(listen, { error: 'SIDEKEY_ERR_MCP_DENIED', reached: 0 }, 'subscriptions/listen naming a denied resource')
  const completion = await send({ jsonrpc: '2.0', id: 9, method: 'completion/complete', params: { ref: { type: 'ref/resource', uri: 'repo://acme/{path}' }, argument: { name: 'path', value: 'r' } } })
  t.notMatch(String(completion.error), /NAME_REFUSED/, 'a template is read with its expressions set aside')

  const big = await send({ jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'search_issues', arguments: { repo_id: 1 } } })
  t.match(big, { error: undefined, reached: 1 }, 'control: a small id')
  for (const literal of ['1234567890123456789', '1234567890123456700', '1e999', '-1e400', '9007199254740993']) {
    const before = server.seen.length
    const res = await request(url, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT }, body: `{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"search_issues","arguments":{"repo_id":${literal}}}}` })
    const text = await res.body.text()
    t.equal(res.headers['x-sidekey-error'], 'SIDEKEY_ERR_MCP_INVALID', `${literal}: refused`)
    t.match(text, /cannot be read exactly as a double/, literal)
    t.equal(server.seen.length, before, `${literal}: nothing reached the server`)
  }
})

t.test("a route's rate limit counts each call of a batch, not each POST", async (t) => {
  // Found by a red-team run: three batches of 60 calls ran 180 under `rate: 3`.
  const trust = await upstreamTrust()
  const server = await startExpressMcp(trust)
  t.teardown(() => server.close())
  const { dispatcher, url } = await startMcpSidekey(t, server, trust, `      tools:\n        - name: search_issues\n`, { route: '    conditions: { rate: { requests: 3, per_s: 3600 } }\n' })
  const post = async (body: string) => {
    const res = await request(url, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json', accept: ACCEPT }, body })
    await res.body.dump()
    return res.headers['x-sidekey-error'] as string | undefined
  }
  const calls = (n: number, from: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: from + i, method: 'tools/call', params: { name: 'search_issues', arguments: {} } })))
  const before = server.called.length
  t.equal(await post(calls(2, 1)), undefined, 'a batch of two: two of three')
  t.equal(await post(calls(2, 10)), 'SIDEKEY_ERR_RATE_LIMITED', 'a batch of two more does not fit')
  t.equal(await post(calls(60, 20)), 'SIDEKEY_ERR_RATE_LIMITED', 'nor one of sixty')
  t.equal(server.called.length - before, 2, 'two calls ran in all')
})
