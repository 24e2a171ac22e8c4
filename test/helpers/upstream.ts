import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCA } from '../../src/ca/authority.js'
import { createLeafKey, mintLeaf } from '../../src/ca/leaf.js'

/** A request as the stand-in upstream saw it. */
export interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  rawHeaders: string[]
  body: string
}

/** A local API stand-in on a loopback port: records what it receives, answers with `handler`. */
export interface Upstream {
  server: Server
  port: number
  seen: Seen[]
  close(): Promise<void>
}

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void

const defaultHandler: Handler = (req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ ok: true, path: req.url }))
}

/** The upstream's own CA (made inside the test), whose certificate sidekey is told to trust. */
export interface UpstreamTrust {
  caFile: string
  caPem: string
  cert(host: string): Promise<{ key: string; cert: string }>
}

/** Create a CA for upstream stand-ins (separate from sidekey's own CA). */
export async function upstreamTrust(): Promise<UpstreamTrust> {
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-upstream-ca-'))
  const ca = await createCA(dir)
  const leafKey = createLeafKey()
  return {
    caFile: join(dir, 'ca.pem'),
    caPem: ca.certPem,
    async cert(host: string) {
      return { key: leafKey.privateKeyPem, cert: await mintLeaf(ca, leafKey, host) }
    },
  }
}

/** Start a stand-in. With `tls`, it serves HTTPS with a certificate for `tls.host` from `tls.trust`. */
export async function startUpstream(handler: Handler = defaultHandler, tls?: { trust: UpstreamTrust; host: string }): Promise<Upstream> {
  const seen: Seen[] = []
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body })
      handler(req, res, body)
    })
  }
  const server = tls ? createHttpsServer(await tls.trust.cert(tls.host), onRequest) : createHttpServer(onRequest)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    server,
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
