import type { ClientHttp2Session } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import t from 'tap'
import { headersFrame, dataFrame, rawH2Upstream } from '../helpers/raw-h2-upstream.js'
import { h2ThroughProxy, h2Request, startH2Sidekey, startH2Upstream } from '../helpers/h2.js'
import { basicAuth } from '../helpers/tunnels.js'
import { upstreamTrust, type UpstreamTrust } from '../helpers/upstream.js'

// Response fields HTTP/2 cannot carry as an upstream sent them, to an HTTP/2 agent. Found by a
// red-team run: Node's HTTP/2 server refuses a head with a field it takes once only given twice
// (`Date`, `Authorization`, `Content-Type`, `X-Content-Type-Options`: an HTTP/1.1 upstream behind
// a CDN sends such repeats) or a connection-specific one (`HTTP2-Settings`); the refusal written
// after it failed the same way, and the throw ended sidekey for every agent. Now the head is made
// fit for HTTP/2 (first value kept, connection fields dropped), and sidekey goes on.

/** An HTTP/1.1-only TLS upstream answering each path with the raw head the table gives. */
async function rawH1Upstream(trust: UpstreamTrust, host: string, heads: Record<string, string>): Promise<{ port: number; close(): Promise<void> }> {
  const server = createTlsServer({ ...(await trust.cert(host)), ALPNProtocols: ['http/1.1'] })
  const sockets = new Set<TLSSocket>()
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let buffered = ''
    socket.on('data', (c: Buffer) => {
      buffered += c.toString('latin1')
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const path = buffered.split(' ')[1] ?? '/'
        buffered = buffered.slice(end + 4)
        socket.write(`HTTP/1.1 200 OK\r\n${heads[path] ?? ''}Content-Length: 2\r\n\r\nok`)
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy()
        server.close(() => r())
      }),
  }
}

t.test('response fields HTTP/2 cannot carry as sent: the head is made fit, sidekey goes on', async (t) => {
  const trust = await upstreamTrust()
  const h1 = await rawH1Upstream(trust, 'h1.api.test', {
    '/date-twice': 'Date: Mon, 23 Nov 2026 10:00:00 GMT\r\nDate: Mon, 23 Nov 2026 10:00:01 GMT\r\n',
    '/nosniff-twice': 'X-Content-Type-Options: nosniff\r\nX-Content-Type-Options: nosniff\r\n',
    '/authorization-twice': 'Authorization: a\r\nAuthorization: b\r\n',
    '/type-twice': 'Content-Type: text/plain\r\nContent-Type: text/html\r\n',
    '/h2-settings': 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n',
  })
  t.teardown(() => h1.close())
  const h2 = await rawH2Upstream(trust, 'h2.api.test', (conn, id) => conn.send(headersFrame(id, [[':status', '200'], ['http2-settings', 'x'], ['content-length', '2']]), dataFrame(id, 'ok', true)))
  t.teardown(() => h2.close())
  const sk = await startH2Sidekey(t, trust, '  - { name: h1, host: h1.api.test, addresses: [127.0.0.1] }\n  - { name: h2, host: h2.api.test, addresses: [127.0.0.1] }\n', { 'h1.api.test': h1.port, 'h2.api.test': h2.port })
  const proxyPort = Number(new URL(sk.proxyUrl).port)
  const agent = (host: string): Promise<ClientHttp2Session> => h2ThroughProxy(proxyPort, `${host}:443`, { auth: basicAuth('agent', sk.runTokens.mint('agent').token), ca: sk.ca.certPem })

  const session = await agent('h1.api.test')
  t.teardown(() => session.destroy())
  const get = (path: string) => h2Request(session, { ':method': 'GET', ':path': path })
  for (const [path, field, value] of [
    ['/date-twice', 'date', 'Mon, 23 Nov 2026 10:00:00 GMT'],
    ['/nosniff-twice', 'x-content-type-options', 'nosniff'],
    ['/authorization-twice', 'authorization', 'a'],
    ['/type-twice', 'content-type', 'text/plain'],
  ] as const) {
    const r = await get(path)
    t.equal(r.status, 200, `${path}: answered`)
    t.equal(r.headers[field], value, `${path}: the first ${field} kept`)
    t.equal(r.body.toString(), 'ok')
  }
  const settings = await get('/h2-settings')
  t.equal(settings.status, 200)
  t.equal(settings.headers['http2-settings'], undefined, 'a connection-specific field is dropped')
  const fromH2 = await agent('h2.api.test')
  t.teardown(() => fromH2.destroy())
  const passedOn = await h2Request(fromH2, { ':method': 'GET', ':path': '/' })
  t.same([passedOn.status, passedOn.headers['http2-settings'], passedOn.body.toString()], [200, undefined, 'ok'], 'from an HTTP/2 upstream too')
  t.equal((await get('/plain')).status, 200, 'sidekey still serves')
  t.notOk(sk.sink.lines.some((l) => l.event === 'uncaught_error'), 'nothing escaped')
})

t.test('a workload that stops reading does not stall another on the same HTTP/2 upstream', async (t) => {
  // Found by a red-team run: workloads shared upstream connections, and one that opened streams
  // to a large answer and never read them filled the connection's window and a Node server's
  // session memory, which then refused every other workload's stream (ENHANCE_YOUR_CALM).
  const trust = await upstreamTrust()
  const big = Buffer.alloc(3 * 1024 * 1024, 'b')
  const upstream = await startH2Upstream(trust, 'shared.api.test', (req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    res.end(req.url === '/big' ? big : 'small')
  })
  t.teardown(() => upstream.close())
  const sk = await startH2Sidekey(t, trust, '  - { name: shared, host: shared.api.test, addresses: [127.0.0.1] }\n', { 'shared.api.test': upstream.port })
  const proxyPort = Number(new URL(sk.proxyUrl).port)
  const agent = (workload: string): Promise<ClientHttp2Session> => h2ThroughProxy(proxyPort, 'shared.api.test:443', { auth: basicAuth(workload, sk.runTokens.mint(workload).token), ca: sk.ca.certPem })
  const evil = await agent('stalls')
  t.teardown(() => evil.destroy())
  for (let i = 0; i < 4; i++) {
    const stream = evil.request({ ':method': 'GET', ':path': '/big' })
    stream.on('error', () => undefined)
    stream.pause()
  }
  await new Promise((r) => setTimeout(r, 500))
  const victim = await agent('reads')
  t.teardown(() => victim.destroy())
  for (let i = 0; i < 3; i++) {
    const r = await h2Request(victim, { ':method': 'GET', ':path': '/small' })
    t.same([r.status, r.body.toString()], [200, 'small'], `request ${i + 1} of the other workload is answered`)
  }
  t.ok(upstream.connections >= 2, `each workload on its own upstream connection (${upstream.connections})`)
})
