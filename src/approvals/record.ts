import { randomUUID } from 'node:crypto'
import { withoutHopByHop } from '../inject/hop-by-hop.js'
import { withoutNames } from '../inject/inject.js'
import type { Route } from '../policy/types.js'
import type { ApprovalRecord } from '../state/store.js'

/**
 * The approval record a person decides on: the whole request but its credentials
 * (docs/security.md), made once when a request is held or asked about.
 */

/**
 * Headers never shown to approvers, besides hop-by-hop ones and the route's injected and stripped
 * headers: the agent's own credentials (a placeholder or a key it holds) are not the approver's
 * business, and the record is stored and sent on.
 */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie']

/** What is known about the request being held. */
export interface HoldRequest {
  readonly workload: string | null
  readonly route: Route
  readonly method: string
  /** The method as sent, when an override names another (`method` is the override's). */
  readonly sentMethod?: string
  readonly host: string
  readonly port: number
  /** The path, without the query. */
  readonly path: string
  /** The raw query string, without `?`. */
  readonly query: string
  readonly rawHeaders: readonly string[]
  readonly body: Buffer | null
  readonly why: string
  /** Aborted when the agent disconnects. */
  readonly signal: AbortSignal
}

/**
 * What an approval's grant ("approve for a period") covers: the route by its name and the host it
 * names. A reload that points the route at another host ends the grant (found by a red-team run:
 * a grant approved for one host went on covering the route's new one).
 */
export function grantScope(route: Pick<Route, 'name' | 'host'>): string {
  return `${route.name}@${route.host.pattern}`
}

/** A new pending record for `h`, created at `createdMs`, open for the route's approval timeout. */
export function newApprovalRecord(h: HoldRequest, createdMs: number, mode: 'wait' | 'async'): ApprovalRecord {
  const body = shownBody(h.body)
  return Object.freeze({
    id: randomUUID(),
    workload: h.workload,
    route: h.route.name,
    method: h.method,
    host: h.host,
    port: h.port,
    path: h.path,
    query: Object.freeze([...new URLSearchParams(h.query)].map((pair) => Object.freeze(pair))),
    headers: shownHeaders(h.rawHeaders, h.route),
    body: body.text,
    body_encoding: body.encoding,
    body_bytes: h.body?.length ?? 0,
    why: h.why,
    created: new Date(createdMs).toISOString(),
    expires: new Date(createdMs + h.route.approval!.timeoutMs).toISOString(),
    status: 'pending',
    decided_by: null,
    decided_at: null,
    grant_until: null,
    note: null,
    // Absent for held requests, so records stay as they were for existing readers.
    ...(mode === 'async' ? { mode, approved_for_ms: h.route.approval!.approvedForMs } : {}),
    grant_scope: grantScope(h.route),
  })
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The whole body for approvers: as text when it is UTF-8, else base64 (never a lossy decoding). */
function shownBody(body: Buffer | null): { text: string | null; encoding: 'utf8' | 'base64' | null } {
  if (body === null || body.length === 0) return { text: null, encoding: null }
  try {
    return { text: utf8.decode(body), encoding: 'utf8' }
  } catch {
    return { text: body.toString('base64'), encoding: 'base64' }
  }
}

/** What approvers see instead of the value of an agent's own credential header that goes upstream. */
export const HIDDEN_VALUE = '[hidden: the agent\'s own value, sent upstream as it is]'

/**
 * The headers that go upstream, as pairs, without hop-by-hop headers and credentials. An agent's
 * own `Authorization` or `Cookie` that goes up (the route injects another header) is listed by
 * name with its value hidden: an upstream may act on it (a cookie a PHP app reads as a form
 * field, a token for another account), so approvers must know it is there (found by a red-team
 * run: both reached the upstream with nothing shown).
 */
function shownHeaders(rawHeaders: readonly string[], route: Route): readonly (readonly [string, string])[] {
  const forwarded = withoutNames(withoutHopByHop(rawHeaders), route.strip)
  const kept = withoutNames(forwarded, CREDENTIAL_HEADERS)
  const pairs: (readonly [string, string])[] = []
  for (let i = 0; i < kept.length; i += 2) pairs.push(Object.freeze([kept[i]!.toLowerCase(), kept[i + 1]!] as const))
  const hidden = new Set<string>()
  for (let i = 0; i < forwarded.length; i += 2) {
    const name = forwarded[i]!.toLowerCase()
    if (CREDENTIAL_HEADERS.includes(name)) hidden.add(name)
  }
  for (const name of hidden) pairs.push(Object.freeze([name, HIDDEN_VALUE] as const))
  return Object.freeze(pairs)
}
