import { assertNoTrailers, refuseTrailersAtEnd } from '../../accept/http-limits.js'
import { bodyOverrideFilter } from '../../accept/method-override.js'
import { forward } from '../../forward/forward.js'
import type { ChunkFilter } from '../../http/chunk-filter.js'
import { requestHasBody } from '../../http/message.js'
import { chunkResignFilter } from '../../inject/sigv4-chunked.js'
import type { ProxyContext } from '../context.js'
import { known, type RequestExchange } from '../exchange.js'
import { filterMcpAnswers } from './filter-mcp.js'
import { guardResponseStage, invalidateOn401, recordScrubbed } from './guard-response.js'
import { injectCredentialStage } from './inject.js'
import { credentialSlot, obtainCredential } from './obtain.js'
import { requestHeadBytes } from '../../observe/audit.js'

/**
 * The forward stage for an HTTP request: send it up over a pooled connection to the checked
 * address and stream the answer back through the response guard. On the way up the body passes
 * its filters: trailers refused, managed secrets looked for, a `_method` field refused, chunk
 * signatures replaced. Resolves when the answer has ended or failed, with the audit line's
 * status, bytes and timing recorded either way.
 */
export async function forwardHttp(ctx: ProxyContext, ex: RequestExchange): Promise<void> {
  if (ex.reply.kind !== 'response') return
  const { res, result } = ex.reply
  const req = ex.req
  try {
    const target = known(ex.target, 'a target')
    const outgoing = known(ex.outgoing, 'an outgoing request')
    const decision = known(ex.decision, 'a decision')
    const to = known(ex.to, 'a checked address')
    try {
      const bodyFilters: ChunkFilter[] = []
      // Trailer fields cannot go up: a body read whole is refused now, a streamed one cut at its end.
      if (ex.body !== null) assertNoTrailers(req)
      else if (req.headers['transfer-encoding'] !== undefined) bodyFilters.push(refuseTrailersAtEnd(req))
      if (ex.body === null && ctx.scanner.size > 0) bodyFilters.push(ctx.scanner.bodyFilter())
      const overrideFilter = ex.body === null && !decision.reportOnly ? bodyOverrideFilter(req.rawHeaders) : null
      if (overrideFilter !== null) bodyFilters.push(overrideFilter)
      if (ex.resign !== null) bodyFilters.push(chunkResignFilter(ex.resign))
      // An HTTP/2 agent's stream carries trailers back (gRPC); a route may keep its upstream on HTTP/1.1.
      const plan = { scheme: target.scheme, host: target.host, port: target.port, to, method: req.method ?? 'GET', path: outgoing.path, headers: outgoing.headers, bodyFilters, body: ex.body, response: ex.response, trailers: req.httpVersionMajor === 2, http2: decision.route?.http2 ?? true, partition: ex.caller?.workload ?? '', agentGone: ex.signal }
      const retry = retriesAfter401(ctx, ex)
      await forward(ctx.pools, retry ? { ...plan, discardStatus: 401 } : plan, req, res, result)
      if (result.discarded === 401) {
        // One refresh and one more try, never a loop: the second answer is relayed whatever it is.
        ex.audit.retried_after_401 = true
        invalidateOn401(ctx, 401, ex)
        await refreshAndInject(ctx, ex)
        const again = known(ex.outgoing, 'an outgoing request')
        // With the response guard planned again: it must know the token just obtained, which an
        // upstream may echo (found by a red-team run: the fresh token came back unmasked).
        await forward(ctx.pools, { ...plan, path: again.path, headers: again.headers, response: ex.response }, req, res, result)
      }
    } finally {
      invalidateOn401(ctx, result.status, ex)
    }
    ex.audit.status = result.status
  } finally {
    ex.audit.bytes_up = result.bytesUp
    if (result.status !== null && ex.outgoing !== null) ex.audit.head_bytes_up = requestHeadBytes(ex.req.method ?? 'GET', ex.outgoing.path, ex.req.rawHeaders)
    ex.audit.bytes_down = result.bytesDown
    ex.audit.upstream_ms = result.firstByteMs || null
    recordScrubbed(ex.audit, ex.scrubbed)
  }
}

/**
 * Whether a 401 to this request is answered by one refresh and one more try: the route's credential
 * asks for it, a credential was injected, and the request can be sent again as it was (no body, or
 * one the guard read whole; not a chunk-signed upload).
 */
function retriesAfter401(ctx: ProxyContext, ex: RequestExchange): boolean {
  const credential = ex.decision?.route?.credential
  // Not when a 401 would not refresh the token (one did within the interval, or the scanner holds
  // as many valid tokens of the slot as it keeps): the same token would be sent again.
  const workload = ex.caller?.workload ?? null
  return credential?.retryAfter401 === true && credential.mayInvalidate?.(workload) !== false && ctx.scanner.mayReplace(credentialSlot(credential.name, workload)) && ex.secret !== null && ex.resign === null && (ex.body !== null || !requestHasBody(ex.req.headers))
}

/**
 * Obtain the credential again (the 401 dropped the old token, so this refreshes), and run again
 * the stages after it, in their order: the response guard (so it scrubs the new token too), the
 * injection, and the MCP answer filter that wraps the response guard (a review found the re-plan
 * had dropped it: a list answered after the retry reached the agent unfiltered).
 */
async function refreshAndInject(ctx: ProxyContext, ex: RequestExchange): Promise<void> {
  await obtainCredential.run(ctx, ex)
  await guardResponseStage.run(ctx, ex)
  await injectCredentialStage.run(ctx, ex)
  await filterMcpAnswers.run(ctx, ex)
}
