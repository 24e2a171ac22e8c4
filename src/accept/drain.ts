import type { Server as NetServer } from 'node:net'
import type { Connections } from './connections.js'

/** How a drain ended, for the shutdown log line. */
export interface DrainOutcome {
  /** Every connection ended by itself within the drain time. */
  readonly drained: boolean
  /** Connections still open when the drain ended (the close that follows cuts them). */
  readonly left: number
  readonly ms: number
}

/**
 * The first part of a graceful shutdown (SIGTERM; in Kubernetes, the kubelet stopping the pod):
 * stop accepting on every proxy listener, so a new connection is refused and the agent's client
 * fails fast instead of hanging; close idle connections now; let requests in flight, SSE
 * responses, blind tunnels and WebSockets finish, for at most `timeoutMs` (the pod's
 * terminationGracePeriodSeconds less the time closing and flushing the log take). The caller then
 * closes sidekey, which cuts whatever is still open.
 */
export async function drainConnections(listeners: readonly NetServer[], connections: Connections, timeoutMs: number): Promise<DrainOutcome> {
  const started = Date.now()
  // The callback runs once the listener's own connections are gone; `whenEmpty` covers them all.
  for (const listener of listeners) listener.close(() => undefined)
  connections.closeWhenIdle()
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
  })
  const drained = await Promise.race([connections.whenEmpty().then(() => true), timedOut])
  clearTimeout(timer)
  return { drained, left: connections.size, ms: Date.now() - started }
}
