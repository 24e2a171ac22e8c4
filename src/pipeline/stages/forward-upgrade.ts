import type { Socket } from 'node:net'
import { maskedRefusal, refuseSocket } from '../../accept/refuse.js'
import { SidekeyError } from '../../errors.js'
import { upstreamFailure } from '../../forward/forward.js'
import { echoScrubber, secretTripwire } from '../../guard/websocket-frames.js'
import { foldHeaders } from '../../http/message.js'
import { hostHeader } from '../../policy/host.js'
import type { ProxyContext } from '../context.js'

import { known, type RequestExchange } from '../exchange.js'
import { recordError } from './audit.js'
import { invalidateOn401 } from './guard-response.js'
import { holdUpgrade } from './hold.js'
import { requestHeadBytes } from '../../observe/audit.js'

/**
 * The forward stage for an HTTP/1.1 upgrade (WebSocket): the upgrade request goes up to the checked
 * address, and only a 101 turns the exchange into a byte stream, every frame then passing a guard
 * (the agent's checked for managed secrets, the upstream's scrubbed of echoed ones); any other
 * answer is guarded like any response. Returns once the relay is under way; the exchange settles
 * when the agent's socket closes.
 */
export function relayUpgrade(ctx: ProxyContext, ex: RequestExchange): void {
  if (ex.reply.kind !== 'upgrade') return
  const { socket, head } = ex.reply
  const req = ex.req
  const audit = ex.audit
  const target = known(ex.target, 'a target')
  const outgoing = known(ex.outgoing, 'an outgoing request')
  const caller = known(ex.caller, 'a caller')
  const to = known(ex.to, 'a checked address')
  audit.scheme = target.scheme === 'https' ? 'wss' : 'ws'
  const response = ex.response
  // The inject stage left out what the response guard cannot read: WebSocket extensions (frames
  // are read on their way through, so none may be compressed, RFC 7692), and codings it does not
  // decode for an answer other than 101.
  const headers = foldHeaders(outgoing.headers)
  headers.host = hostHeader(target, target.scheme)
  const bytesAtStart = { read: (socket as Socket).bytesRead ?? 0, written: (socket as Socket).bytesWritten ?? 0 }
  audit.head_bytes_up = requestHeadBytes(req.method ?? 'GET', outgoing.path, req.rawHeaders)
  socket.once('close', () => {
    audit.bytes_up = ((socket as Socket).bytesRead ?? 0) - bytesAtStart.read
    audit.bytes_down = ((socket as Socket).bytesWritten ?? 0) - bytesAtStart.written
  })
  const sentAt = performance.now()
  ctx.upgrades.relay(
    req,
    socket,
    head,
    {
      scheme: target.scheme,
      host: target.host,
      port: target.port,
      to,
      path: outgoing.path,
      headers,
      ca: ctx.upstreamCa,
      timeoutMs: ctx.config.headersTimeoutMs,
      response,
      frames: () => ({
        fromAgent: secretTripwire(ctx.scanner),
        fromUpstream: echoScrubber(() => response?.begin(101, {}).filter ?? null),
      }),
    },
    {
      status(status) {
        audit.status = status
        audit.upstream_ms = performance.now() - sentAt
        invalidateOn401(ctx, status, ex)
        if (status === 101) holdUpgrade(ctx, ex.client, socket as Socket, audit, { workload: caller.workload, host: target.host, port: target.port, method: req.method ?? 'GET', path: target.pathname })
      },
      refused(err) {
        // A secret in a frame is the same detection as in a request: the monitor quarantines on this code.
        audit.error = err.code
        ctx.log.warn({ event: 'websocket_refused', id: ex.id, code: err.code, err: err.message }, 'WebSocket closed: a frame was refused')
      },
      failed(err, answered) {
        const e = err instanceof SidekeyError ? err : new SidekeyError('SIDEKEY_ERR_UPGRADE_FAILED', upstreamFailure(err, target).message, { cause: err })
        // The first failure is the one on the line; once a status went out, it is the one the agent saw.
        if (audit.error === null) {
          const seen = audit.status
          recordError(audit, e)
          if (answered && seen !== null) audit.status = seen
        }
        if (!answered) refuseSocket(socket, maskedRefusal(e, (text) => ctx.scanner.mask(text)), ex.id, audit.reason)
        else socket.destroy()
      },
    },
  )
}
