import { Agent as HttpAgent, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { isIP, type LookupFunction } from 'node:net'
import type { Duplex } from 'node:stream'
import httpProxy from 'http-proxy'
import type { CheckedAddress } from './ssrf.js'

/** What an upgraded (WebSocket) connection needs to reach its upstream. */
export interface UpgradePlan {
  readonly scheme: 'http' | 'https'
  readonly host: string
  readonly port: number
  readonly to: CheckedAddress
  readonly path: string
  /** Headers after hop-by-hop removal and injection (lower-case names). */
  readonly headers: Record<string, string>
  readonly ca: string[]
  readonly timeoutMs: number
}

/**
 * Upgraded connections are relayed by http-proxy, the one job it does well here: once the
 * upstream answers 101 the two sockets are piped. It never touches the HTTP request path (its
 * Content-Length handling there has a known smuggling bug, see DESIGN). The connection is made to
 * the address the SSRF guard checked, through an agent whose lookup returns only that address,
 * while TLS still verifies the real host name.
 */
export class UpgradeRelay {
  readonly #proxy = httpProxy.createProxyServer({ ws: true, xfwd: false, prependPath: false })
  readonly #onStatus = new WeakMap<IncomingMessage, (status: number) => void>()

  constructor() {
    this.#proxy.on('proxyReqWs', (proxyReq, req) => {
      const report = this.#onStatus.get(req)
      if (report === undefined) return
      proxyReq.on('upgrade', () => report(101))
      proxyReq.on('response', (res) => report(res.statusCode ?? 0))
    })
    // http-proxy also emits errors on the server object; the per-call callback handles them, this
    // keeps an unhandled 'error' from ever crashing the process.
    this.#proxy.on('error', () => undefined)
  }

  /** Relay `socket` to the planned upstream. `onStatus` gets 101 or the refusing status. */
  relay(req: IncomingMessage, socket: Duplex, head: Buffer, plan: UpgradePlan, onStatus: (status: number) => void, onError: (err: Error) => void): void {
    const pinned: LookupFunction = (_hostname, options, cb) => {
      const family = isIP(plan.to.address)
      if ((options as { all?: boolean }).all) (cb as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: plan.to.address, family }])
      else cb(null, plan.to.address, family)
    }
    const agent = plan.scheme === 'https' ? new HttpsAgent({ lookup: pinned, ca: plan.ca, keepAlive: false }) : new HttpAgent({ lookup: pinned, keepAlive: false })
    req.url = plan.path
    req.headers = { ...plan.headers, connection: 'Upgrade', upgrade: req.headers.upgrade ?? 'websocket' }
    this.#onStatus.set(req, onStatus)
    this.#proxy.ws(
      req,
      socket,
      head,
      {
        target: { protocol: `${plan.scheme}:`, host: plan.host, port: plan.to.port, ca: plan.ca } as unknown as string,
        agent,
        proxyTimeout: plan.timeoutMs,
      },
      (err: Error) => onError(err),
    )
  }

  close(): void {
    this.#proxy.close()
  }
}
