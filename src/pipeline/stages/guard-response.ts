import { responseGuard } from '../../guard/response-guard.js'
import type { AuditRecord } from '../../observe/audit.js'
import type { ProxyContext } from '../context.js'
import { known, type RequestExchange, type Stage } from '../exchange.js'
import { credentialSlot } from './obtain.js'

/**
 * The response guard for the exchange, planned before it is forwarded (it runs on the answer as it
 * streams back): echoed secrets scrubbed when a credential was injected (every form of every
 * secret sidekey knows), a pinned download checked. None for a request without a route or one
 * only report-only mode let through.
 */
export const guardResponseStage: Stage<RequestExchange> = {
  name: 'guard the response',
  run(ctx, ex) {
    const decision = known(ex.decision, 'a decision')
    const route = decision.route
    if (route === null || decision.reportOnly) return
    // The injected value's own encodings (the base64 of a whole Basic or "Bearer ..." value) are
    // covered by the secret's base64 forms at every alignment: the scanner's shared needles (and
    // their automaton, built once) serve every response.
    const needles = ex.secret !== null && route.scrub ? ctx.scanner.needles() : null
    ex.response = responseGuard(route, needles, ex.scrubbed)
  },
}

/**
 * An upstream that answers 401 to an injected token has revoked or rotated it: drop it from the
 * cache once, so the next request fetches a fresh one (at most once per key per interval, and not
 * while the scanner holds as many valid tokens of the slot as it keeps: `mayReplace`). The request
 * itself is not replayed. True when the token was dropped.
 */
export function invalidateOn401(ctx: ProxyContext, status: number | null, ex: RequestExchange): boolean {
  const provider = ex.decision?.route?.credential
  if (status !== 401 || ex.secret === null || !provider?.invalidate || ex.caller === null) return false
  if (!ctx.scanner.mayReplace(credentialSlot(provider.name, ex.caller.workload))) return false
  return provider.invalidate(ex.caller.workload, ex.secret)
}

/** How many echoed secrets the response guard masked, on the audit line when any were. */
export function recordScrubbed(audit: AuditRecord, stats: { scrubbed: number }): void {
  if (stats.scrubbed > 0) audit.scrubbed = stats.scrubbed
}
