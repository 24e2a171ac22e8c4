import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { ProxyAgent, WebSocket, request } from 'undici'
import { WebSocketServer } from 'ws'
import { signAws } from '../../src/credentials/cloud/aws-sigv4.js'
import { signForwarded } from '../../src/inject/sigv4.js'
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js'

// An IPv6 literal destination keeps its brackets wherever sidekey writes an authority: the Host
// header of a WebSocket upgrade it sends up (a real request to [::1]), and the host a SigV4
// signature covers. Without them `::1:8080` names another address (or nothing parseable).

t.test('a WebSocket upgrade to [::1] goes up with Host [::1]:port', async (t) => {
  const server = createServer((req, res) => res.end(`host=${req.headers.host}`))
  const wss = new WebSocketServer({ server })
  const upgrades: IncomingMessage[] = []
  wss.on('connection', (socket, req) => {
    upgrades.push(req)
    socket.on('message', (data) => socket.send(`echo:${String(data)}`))
  })
  await new Promise<void>((r) => server.listen(0, '::1', r))
  const port = (server.address() as AddressInfo).port
  t.teardown(
    () =>
      new Promise<void>((r) => {
        for (const c of wss.clients) c.terminate()
        wss.close()
        server.closeAllConnections()
        server.close(() => r())
      }),
  )
  const sk = await startTestSidekey(
    t,
    `
version: v1
routes:
  - name: local-v6
    host: "::1"
    ports: [${port}]
    upgrades: [websocket]
`,
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent') })
  t.teardown(() => dispatcher.close())

  const ws = new WebSocket(`ws://[::1]:${port}/socket`, { dispatcher })
  const echoed = await new Promise<string>((resolve, reject) => {
    ws.addEventListener('open', () => ws.send('hi'))
    ws.addEventListener('message', (e) => resolve(String(e.data)))
    ws.addEventListener('error', (e) => reject(new Error(`websocket error: ${e.type}`)))
  })
  ws.close()
  t.equal(echoed, 'echo:hi', 'the upgrade was relayed')
  t.equal(upgrades.length, 1)
  t.equal(upgrades[0]!.headers.host, `[::1]:${port}`, 'the upstream saw a bracketed IPv6 authority')

  const plain = await request(`http://[::1]:${port}/plain`, { dispatcher })
  t.equal(await plain.body.text(), `host=[::1]:${port}`, 'a plain request to [::1] carries the same Host')
  noSecretsLogged(t, sk)
})

t.test('SigV4 signs an IPv6 literal host in brackets', async (t) => {
  const out = { path: '/model/x/invoke', headers: ['content-type', 'application/json'] }
  const aws = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session' }
  await signForwarded(out, { method: 'POST', scheme: 'https', host: '::1', port: 8443, agentAuthorization: undefined, hasBody: true }, { kind: 'sigv4', service: 'bedrock', region: 'us-east-1', unsignedPayload: false, allow: [] }, aws, Buffer.from('{}'), 'aws')
  const sent = new Map<string, string>()
  for (let i = 0; i < out.headers.length; i += 2) sent.set(out.headers[i]!.toLowerCase(), out.headers[i + 1]!)
  const amzDate = sent.get('x-amz-date')!
  const at = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`)
  // What the upstream verifies: the request as it arrives, with the Host the forwarder sends.
  const expected = await signAws({ method: 'POST', url: new URL('https://[::1]:8443/model/x/invoke'), headers: { 'content-type': 'application/json', host: '[::1]:8443' }, body: Buffer.from('{}') }, aws, { service: 'bedrock', region: 'us-east-1' }, at)
  t.equal(sent.get('authorization'), expected.authorization, 'the signature covers Host [::1]:8443, as the forwarder sends it')
  t.match(sent.get('authorization'), /SignedHeaders=[^,]*\bhost\b/)
})
