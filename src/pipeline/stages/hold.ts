import type { Socket } from 'node:net'
import type { Caller } from '../../identity/identify.js'
import type { AuditRecord } from '../../observe/audit.js'
import type { RequestFacts } from '../../policy/decide.js'
import type { Authority } from '../../policy/host.js'
import type { Policy } from '../../policy/types.js'
import type { ProxyContext } from '../context.js'
import { connectDecision, requestDecision } from './decide.js'

/**
 * Connections that outlive their decision (tunnels, upgraded connections) are registered to be
 * decided again on every policy reload, and closed when the answer changes; the registry also
 * closes them when their token is revoked or their workload quarantined.
 */

/**
 * A blind tunnel stays only while its destination is still a tunnel route (nothing inside it is
 * ever decided, so a route that now inspects, or denies, ends it); an intercepted one stays unless
 * its destination is now denied (each request inside is decided anyway).
 */
export function holdTunnel(ctx: ProxyContext, socket: Socket, audit: AuditRecord, caller: Caller, authority: Authority, blind: boolean): void {
  const allowedUnder = (policy: Policy): boolean => {
    const decision = connectDecision(ctx, policy, caller, authority)
    // Report-only mode logs what enforcement would refuse; it closes nothing.
    if (decision.reportOnly) return true
    return blind ? decision.action === 'tunnel' : decision.action !== 'deny'
  }
  ctx.connections.hold(socket, { audit, allowedUnder, streaming: blind })
}

/**
 * An upgraded connection (after its 101) is a relay nobody decides again: it is asked again on
 * every policy reload, and stays only while the same route, as written, still decides it (closed
 * when the route is gone, another decides it, or the reload rewrote it: a route that now refuses
 * upgrades, adds a condition, an approval or a time window was decided for new requests only, and
 * an open WebSocket kept relaying under the old rules; found by a red-team run). Closed with its
 * connection when its token is revoked or its workload quarantined, and after the tunnel idle
 * timeout.
 */
export function holdUpgrade(ctx: ProxyContext, client: Socket, socket: Socket, audit: AuditRecord, facts: RequestFacts): void {
  const opened = requestDecision(ctx, ctx.policy.current, facts).route?.definition ?? null
  const allowedUnder = (policy: Policy): boolean => {
    const decision = requestDecision(ctx, policy, facts)
    // Report-only mode logs what enforcement would refuse; it closes nothing.
    if (decision.reportOnly) return true
    return decision.action !== 'deny' && decision.route?.definition === opened
  }
  ctx.connections.hold(client, { audit, allowedUnder, streaming: true })
  socket.setTimeout(ctx.config.tunnelIdleTimeoutMs)
  socket.once('timeout', () => {
    audit.closed ??= 'idle'
    socket.destroy()
  })
  closeOutsideTimeWindow(ctx, socket, audit, facts)
}

/** How often an upgraded connection on a route with a time window checks it is still inside. */
export const TIME_WINDOW_CHECK_MS = 1000

/**
 * An upgraded connection on a route with a time window ends when the window does: it was decided
 * once, when it opened, and a WebSocket opened at 17:59 would otherwise relay all night (found by
 * a red-team run). Checked every TIME_WINDOW_CHECK_MS on sidekey's clock; the audit line says
 * `closed: outside-time-window`. A quota counts the upgrade once, as one request.
 */
function closeOutsideTimeWindow(ctx: ProxyContext, socket: Socket, audit: AuditRecord, facts: RequestFacts): void {
  const decision = requestDecision(ctx, ctx.policy.current, facts)
  const window = decision.reportOnly ? null : (decision.route?.conditions?.time ?? null)
  if (window === null) return
  const timer = setInterval(() => {
    if (window.contains(ctx.now())) return
    audit.closed ??= 'outside-time-window'
    socket.destroy()
  }, TIME_WINDOW_CHECK_MS)
  timer.unref()
  socket.once('close', () => clearInterval(timer))
}

/** A blind tunnel idle for the tunnel idle timeout is closed, and its audit line says so. */
export function idleClose(ctx: ProxyContext, audit: AuditRecord): { ms: number; onIdle: () => void } {
  return { ms: ctx.config.tunnelIdleTimeoutMs, onIdle: () => (audit.closed ??= 'idle') }
}
