import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import { SidekeyError } from '../errors.js'
import { cgiHeaderName } from '../http/header-name.js'
import type { ExpiringValues, StoreStatus } from '../state/store.js'

/**
 * MCP sessions (the session-based revisions, 2025-06-18 and 2025-11-25) belong to the workload
 * that opened them. A server keys a session's state by its `Mcp-Session-Id` alone: whoever sends
 * the id is that session to it. A GET stream on another workload's session would receive that
 * session's server messages (sampling requests with its context, and on resumption the answers to
 * its earlier calls). So sidekey notes which workload each session was opened for, from the
 * server's answer to the `initialize` that carried no id, and a request naming a session it did
 * not open for this caller is answered 404, as the MCP specification has servers answer an id
 * they do not know: the client starts a new session.
 *
 * Ids are kept hashed (a session id works as a bearer value). In one process they live in a
 * bounded map (the oldest forgotten first: its client opens a new session); with a shared store
 * they are kept there too, so every replica knows them, for a day after they were opened.
 */

/** How long a session is known after it was opened: a longer one is refused and opened again. */
export const MCP_SESSION_TTL_MS = 24 * 3_600_000
/** Sessions one process remembers. */
const LOCAL_MAX = 10_000
/**
 * Sessions one workload may have remembered at once: past it its own oldest is forgotten, never
 * another workload's (found by a red-team run: opening 10,000 sessions pushed every other
 * workload's out).
 */
const PER_WORKLOAD_MAX = 1_000
/** The header, in the form header names are compared in (`http/header-name.ts`). */
const SESSION_HEADER = 'mcp-session-id'

export class McpSessions {
  /** Key -> the workload that opened it and when it is forgotten; oldest first. */
  readonly #local = new Map<string, { workload: string; until: number }>()
  /** Sessions remembered per workload. */
  readonly #counts = new Map<string, number>()
  readonly #store: Pick<ExpiringValues, 'putExpiring' | 'getExpiring'> & Pick<StoreStatus, 'shared'>
  readonly #log: Logger
  readonly #now: () => number

  constructor(store: Pick<ExpiringValues, 'putExpiring' | 'getExpiring'> & Pick<StoreStatus, 'shared'>, log: Logger, now: () => number = Date.now) {
    this.#store = store
    this.#log = log
    this.#now = now
  }

  /**
   * Note that the server at `destination` (host:port) on `route` opened session `id` for
   * `workload`, in its answer to an `initialize`. A session already known as another workload's
   * is left as it is: a server (any one the route matches, perhaps the agent's own) naming an id
   * it did not open would otherwise hand that session over (found by a red-team run).
   */
  opened(route: string, destination: string, id: string, workload: string): void {
    const key = sessionKey(route, destination, id)
    const known = this.#local.get(key)
    if (known !== undefined && known.workload !== workload && known.until > this.#now()) {
      this.#log.warn({ event: 'mcp_session_conflict', route, workload, owner: known.workload }, 'an MCP server answered with a session id already known as another workload\'s; it stays that workload\'s')
      return
    }
    this.#forget(key)
    this.#local.set(key, { workload, until: this.#now() + MCP_SESSION_TTL_MS })
    this.#counts.set(workload, (this.#counts.get(workload) ?? 0) + 1)
    if ((this.#counts.get(workload) ?? 0) > PER_WORKLOAD_MAX) {
      for (const [k, v] of this.#local) {
        if (v.workload === workload) {
          this.#forget(k)
          break
        }
      }
    }
    if (this.#local.size > LOCAL_MAX) this.#forget(this.#local.keys().next().value!)
    if (!this.#store.shared) return
    // In the shared store too, a session another workload holds stays theirs.
    const store = this.#store
    store
      .getExpiring(key)
      .then((owner) => {
        if (owner !== null && owner !== workload) {
          this.#forget(key)
          this.#log.warn({ event: 'mcp_session_conflict', route, workload, owner }, 'an MCP server answered with a session id already known as another workload\'s; it stays that workload\'s')
          return
        }
        return store.putExpiring(key, workload, MCP_SESSION_TTL_MS)
      })
      .catch((err: Error) => {
        this.#log.error({ event: 'state_unavailable', op: 'mcp-session', route, workload, err: err.message }, 'an MCP session is known on this replica only')
      })
  }

  /**
   * Refuse (404) a request naming a session this caller did not open through sidekey at this
   * destination. A shared store that cannot be asked fails closed (503).
   */
  async check(route: string, destination: string, id: string, workload: string): Promise<void> {
    const key = sessionKey(route, destination, id)
    const local = this.#local.get(key)
    let owner: string | null = local !== undefined && local.until > this.#now() ? local.workload : null
    if (owner === null && this.#store.shared) owner = await this.#store.getExpiring(key)
    if (owner === workload) return
    throw new SidekeyError('SIDEKEY_ERR_MCP_SESSION_UNKNOWN', `this MCP session was not opened by workload "${workload}" through sidekey (or it was opened more than a day ago, or sidekey restarted since); start a new session: send initialize without Mcp-Session-Id`)
  }

  #forget(key: string): void {
    const known = this.#local.get(key)
    if (known === undefined) return
    this.#local.delete(key)
    const left = (this.#counts.get(known.workload) ?? 1) - 1
    if (left > 0) this.#counts.set(known.workload, left)
    else this.#counts.delete(known.workload)
  }
}

/** The session id a request names: null for none; refused when it names more than one. */
export function requestedSession(rawHeaders: readonly string[]): string | null {
  let id: string | null = null
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (cgiHeaderName(rawHeaders[i]!) !== SESSION_HEADER) continue
    if (id !== null) throw new SidekeyError('SIDEKEY_ERR_MCP_INVALID', 'the request names Mcp-Session-Id more than once (or also as Mcp_Session_Id); send one')
    id = rawHeaders[i + 1]!
  }
  return id
}

/** The session id a server's answer opens, or null. */
export function answeredSession(headers: Record<string, string | string[]>): string | null {
  const value = headers[SESSION_HEADER]
  return typeof value === 'string' && value !== '' ? value : null
}

/** Sessions are known per route and destination: a route may match many servers. */
function sessionKey(route: string, destination: string, id: string): string {
  return `mcp-session:${route}:${createHash('sha256').update(`${destination}\0${id}`).digest('hex').slice(0, 40)}`
}
