import type { IncomingMessage } from 'node:http'
import type { Approvals, HoldOutcome } from '../approvals/approvals.js'
import { awsReachRefusal } from './aws-resource.js'
import { ConditionRefusal } from '../errors.js'
import { foldHeaders, requestHasBody } from '../http/message.js'
import { withoutHopByHop } from '../inject/hop-by-hop.js'
import { withoutNames } from '../inject/inject.js'
import type { CelInput } from '../policy/cel.js'
import type { Route } from '../policy/types.js'
import type { Counters } from '../state/counters.js'
import { ambiguity, bodyMayOverrideQuery } from './ambiguity.js'
import { parseJsonBody, readBody } from './body.js'
import type { BodyBudget } from './body-budget.js'
import { ANONYMOUS } from '../identity/workload-name.js'
import { checkConditions, countRequest } from './conditions.js'
import { detected, type SecretScanner } from './secret-scan.js'

/**
 * The guard stage for a request a route allowed: read the body when something must look at it,
 * check it for managed secrets, refuse what the route's readers and the upstream would read
 * differently, check the route's conditions, count it against limits and quotas, and hold it for
 * approval when the route asks for one. Runs before any credential is obtained.
 */

export interface GuardDeps {
  /** Where rate limits and quotas count. */
  readonly state: Counters
  readonly approvals: Approvals
  readonly now: () => number
  /** Managed secrets, looked for in a buffered body before anything reads, shows or holds it. */
  readonly scanner: Pick<SecretScanner, 'size' | 'foundInBuffer'>
  /** What bodies being read whole may hold. */
  readonly bodies: BodyBudget
}

/** The request as the guard sees it. */
export interface GuardRequest {
  readonly workload: string | null
  readonly host: string
  readonly port: number
  readonly method: string
  /** The method as sent, when an override names another (`method` is the override's). */
  readonly sentMethod?: string
  readonly pathname: string
  /** Origin-form path with query. */
  readonly path: string
  readonly rawHeaders: readonly string[]
  readonly signal: AbortSignal
  /** Report-only mode: a request that would wait for approval is refused as a condition instead (the caller lets it through, uncredentialed). */
  readonly reportOnly: boolean
  /** The body, when an earlier stage read it already (an MCP route reads every POST): it is not read again. */
  readonly alreadyRead?: Buffer | null
  /** CEL's `mcp` variable: the MCP message being decided (mcp/facts.ts). */
  readonly mcp?: unknown
  /** What is being asked, for the approver (`tools/call "delete_repo"`), ahead of why. */
  readonly about?: string
  /** How many calls the request carries (an MCP batch; default 1): the route's rate limit and quota count each. */
  readonly calls?: number
}

/** What the guard leaves for the next stages. */
export interface GuardResult {
  /** The buffered body, to forward instead of the stream; null when it was not read. */
  readonly body: Buffer | null
  readonly approval: HoldOutcome | null
  /** Report-only mode: the condition that would have refused the request (it goes on, uncredentialed). */
  readonly wouldRefuse: ConditionRefusal | null
  /** Limits not counted because the state store was down and the route fails open (audited). */
  readonly uncounted: readonly string[]
}

/** The result for a route with neither conditions nor approval. */
export const NOTHING_TO_GUARD: GuardResult = Object.freeze({ body: null, approval: null, wouldRefuse: null, uncounted: [] })

export async function guardRequest(deps: GuardDeps, route: Route, g: GuardRequest, req: IncomingMessage): Promise<GuardResult> {
  // Before anything is read, held or obtained for it; report-only lets it on unsigned.
  const reach = awsReachRefusal(route, g.method, g.path, g.rawHeaders)
  if (reach !== null) {
    if (g.reportOnly) return { ...NOTHING_TO_GUARD, wouldRefuse: reach }
    throw reach
  }
  const c = route.conditions
  const a = route.approval
  // SigV4 signs the payload's hash: unless the agent's SDK sent it (S3) or the route signs
  // UNSIGNED-PAYLOAD, the body is read to hash it.
  const hashesBody = route.injection?.kind === 'sigv4' && !route.injection.unsignedPayload && req.headers['x-amz-content-sha256'] === undefined
  const given = g.alreadyRead ?? null
  if (c === null && a === null && !hashesBody) return given === null ? NOTHING_TO_GUARD : { ...NOTHING_TO_GUARD, body: given }

  const declared = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length'])
  const streamed = declared === null && req.headers['transfer-encoding'] !== undefined
  // The body is read when CEL reads it, a held request carries it, it is signed, its size is only
  // known by reading, or it may give a query parameter a condition reads a second value.
  const mustRead = a !== null || hashesBody || (c?.cel.some((p) => p.usesBody) ?? false) || (c?.maxBodyBytes != null && streamed) || bodyMayOverrideQuery(route, g.path, req.headers['content-type'])
  const body = given ?? (mustRead && requestHasBody(req.headers) ? await readBody(req, route.inspectBodyBytes, { bodies: deps.bodies, workload: g.workload ?? ANONYMOUS }) : null)
  // A secret in a held body would reach the console, the admin API, the webhook and the state
  // store: scan before anything else sees it (docs/security.md).
  if (body !== null && deps.scanner.size > 0 && deps.scanner.foundInBuffer(body)) throw detected()
  try {
    const { approval, uncounted } = await check(deps, route, g, body, declared, req.headers['content-type'])
    return { body, approval, wouldRefuse: null, uncounted }
  } catch (err) {
    // Report-only: log what would have refused and let the request on (the body was read, keep it).
    if (g.reportOnly && err instanceof ConditionRefusal) return { body, approval: null, wouldRefuse: err, uncounted: [] }
    throw err
  }
}

async function check(deps: GuardDeps, route: Route, g: GuardRequest, body: Buffer | null, declared: number | null, contentType: string | undefined): Promise<{ approval: HoldOutcome | null; uncounted: string[] }> {
  const c = route.conditions
  const a = route.approval
  const json = parseJsonBody(body)
  const headers = celHeaders(g.rawHeaders, route.strip)
  const ambiguous = ambiguity(route, { path: g.path, contentType, headers, body, json })
  if (ambiguous !== null) throw ambiguous
  const input = celInput({ ...g, rawHeaders: headers }, body, json)
  const nowMs = deps.now()
  let uncounted: string[] = []
  if (c !== null) {
    checkConditions(c, { workload: g.workload, nowMs, bodyBytes: body?.length ?? declared, cel: input })
    uncounted = await countRequest(route, g.workload, nowMs, deps.state, g.calls ?? 1)
  }

  let approval: HoldOutcome | null = null
  if (a !== null) {
    // A condition that cannot be evaluated asks a person rather than skipping the approval.
    const outcome = a.when?.evaluate(input) ?? { ok: true, value: true }
    if (!outcome.ok || outcome.value) {
      const rule = a.when === null ? `route "${route.name}" needs approval for every request` : outcome.ok ? `approval.when ${a.when.source}` : `approval.when ${a.when.source} (could not be evaluated: ${outcome.why})`
      const why = g.about === undefined ? rule : `${g.about}: ${rule}`
      if (g.reportOnly) throw new ConditionRefusal('SIDEKEY_ERR_APPROVAL_DENIED', 'approval', `would wait for approval: ${why}`)
      const q = g.path.indexOf('?')
      approval = await deps.approvals.hold({ workload: g.workload, route, method: g.method, ...(g.sentMethod === undefined ? {} : { sentMethod: g.sentMethod }), host: g.host, port: g.port, path: g.pathname, query: q < 0 ? '' : g.path.slice(q + 1), rawHeaders: g.rawHeaders, body, why, signal: g.signal })
    }
  }
  return { approval, uncounted }
}

/** Headers CEL never sees: the run token (celHeaders removes it too, as hop-by-hop). */
const NOT_FOR_CEL: ReadonlySet<string> = new Set(['proxy-authorization'])

/**
 * The agent's headers as CEL reads them: as they go upstream, without hop-by-hop headers, those
 * the agent's `Connection` names, and those the route strips. A condition read on what the agent
 * sent was true of a header the upstream never saw (found by a red-team run: `X-Account: sandbox`
 * with `Connection: x-account` passed `request.headers["x-account"] == "sandbox"`, and the
 * upstream acted on its default account).
 */
export function celHeaders(rawHeaders: readonly string[], strip: readonly string[]): string[] {
  return withoutNames(withoutHopByHop(rawHeaders), strip)
}

/**
 * The variables CEL expressions see. Proxy-Authorization (the run token) is never among them.
 * `json` is the body already parsed, when the caller has it.
 */
export function celInput(g: Omit<GuardRequest, 'signal' | 'reportOnly' | 'alreadyRead'>, body: Buffer | null, json: unknown = parseJsonBody(body)): CelInput {
  // Null-prototype maps: a header or query parameter named __proto__ is just a name.
  const headers = foldHeaders(g.rawHeaders, NOT_FOR_CEL)
  const query: Record<string, string> = Object.create(null) as Record<string, string>
  const q = g.path.indexOf('?')
  if (q >= 0) {
    for (const [k, v] of new URLSearchParams(g.path.slice(q + 1))) if (!(k in query)) query[k] = v
  }
  return {
    request: { method: g.method, host: g.host, port: g.port, path: g.pathname, query, headers },
    workload: g.workload ?? '',
    body: json,
    ...(g.mcp === undefined ? {} : { mcp: g.mcp }),
  }
}
