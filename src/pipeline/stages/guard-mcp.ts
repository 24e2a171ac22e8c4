import { ConditionRefusal, SidekeyError } from '../../errors.js'
import { readBody } from '../../guard/body.js'
import { guardRequest as guardUnderRoute, NOTHING_TO_GUARD } from '../../guard/request-guard.js'
import { detected } from '../../guard/secret-scan.js'
import { requestHasBody } from '../../http/message.js'
import { decideMcpMessage } from '../../mcp/decide.js'
import { celFacts, describeCall, nameIn, type McpExchange } from '../../mcp/facts.js'
import { checkArgumentKeys } from '../../mcp/argument-keys.js'
import { checkBodyEncoding } from '../../mcp/body-encoding.js'
import { checkMirroredHeaders, mcpHeaders } from '../../mcp/headers.js'
import { parseMcpBody, type McpCall } from '../../mcp/jsonrpc.js'
import { idKey } from '../../mcp/list-filter.js'
import { refuseMcp, unparsedMessages } from '../../mcp/refusal.js'
import { requestedSession } from '../../mcp/sessions.js'
import { ANONYMOUS } from '../../identity/workload-name.js'
import type { AuditRecord } from '../../observe/audit.js'
import type { McpPolicy } from '../../mcp/policy.js'
import type { Route } from '../../policy/types.js'
import type { ProxyContext } from '../context.js'
import { known, type RequestExchange, type Stage } from '../exchange.js'
import { decideAgainAfterHold, heldAndApproved } from './after-hold.js'
import { reasonOf, recordRefused, recordWouldRefuse } from './audit.js'

/**
 * The MCP guard, for a request a route with an `mcp:` block allowed (docs/mcp.md): a POST's body
 * is read (bounded by the route's inspection limit), checked for managed secrets, parsed as
 * JSON-RPC by sidekey itself, its mirrored headers checked against it, and every message decided:
 * the method, then the tool, resource or prompt it names, then that rule's conditions, limits and
 * approval. From the parse on, any refusal is a JSON-RPC error (mcp/refusal.ts). A batch is
 * refused whole when any of its messages is. A GET stream or DELETE on a stateless route is
 * refused: the 2026-07-28 revision has no session for them. In report-only mode a refusal after
 * the body was read is recorded as what would have been refused, and the request goes on without
 * its credential.
 */
export const guardMcp: Stage<RequestExchange> = {
  name: 'guard mcp',
  async run(ctx, ex) {
    const decision = known(ex.decision, 'a decision')
    const route = decision.route
    const policy = route?.mcp ?? null
    if (route === null || policy === null || decision.reportOnly || ex.reply.kind !== 'response') return
    const method = ex.req.method ?? 'GET'
    // A session belongs to the workload that opened it (mcp/sessions.ts); a stateless route has
    // none, so a request naming one is refused (a server that also speaks a session revision
    // would take it as that session).
    let session: string | null
    try {
      session = requestedSession(ex.req.rawHeaders)
      if (session !== null && policy.stateless) throw new SidekeyError('SIDEKEY_ERR_MCP_INVALID', `route "${route.name}" is a stateless MCP endpoint (revision 2026-07-28): it has no sessions, and this request names one (Mcp-Session-Id); send it without`)
      const target = known(ex.target, 'a target')
      if (session !== null) await ctx.mcpSessions.check(route.name, `${target.host}:${target.port}`, session, known(ex.caller, 'a caller').workload ?? ANONYMOUS)
    } catch (err) {
      throw refused(ex.audit, err)
    }
    if (method !== 'POST') {
      if (policy.stateless && (method === 'GET' || method === 'DELETE')) {
        recordRefused(ex.audit, 'mcp-no-sessions')
        throw new SidekeyError('SIDEKEY_ERR_MCP_NO_SESSIONS', `route "${route.name}" is a stateless MCP endpoint (revision 2026-07-28): it has no session, so no ${method === 'GET' ? 'GET stream' : 'DELETE'}; send each request as its own POST`)
      }
      // Only a POST carries JSON-RPC; a server that read another method's body would run a call
      // nobody decided.
      if (requestHasBody(ex.req.headers)) throw refused(ex.audit, new SidekeyError('SIDEKEY_ERR_MCP_INVALID', `on an MCP endpoint only a POST carries a JSON-RPC message; this ${method.slice(0, 16)} has a body`))
      return
    }
    try {
      // Without a session, an initialize's answer opens one (filter-mcp.ts notes it); a stateless route has none.
      await guardPost(ctx, ex, route, policy, session === null && !policy.stateless)
    } catch (err) {
      // Report-only: what would have been refused is recorded, and the request goes on without its
      // credential, as on any route; a body that could not be read whole cannot go on at all.
      if (!ctx.config.reportOnly || !(err instanceof SidekeyError) || ex.guarded.body === null || err.code === 'SIDEKEY_ERR_SECRET_DETECTED' || err.code === 'SIDEKEY_ERR_INTERNAL') throw err
      ex.refusalAnswer = null
      ex.decision = { ...decision, reportOnly: true }
      recordWouldRefuse(ex.audit, ex.audit.reason.startsWith('mcp-') ? ex.audit.reason : `mcp-${reasonOf(err.code)}`)
      ex.audit.decision = 'allow'
      delete ex.audit.mcp_outcome
    }
  },
}

/**
 * The body goes up as read (it is not streamed again), so it is checked for managed secrets here,
 * before anything of it is decided, recorded or logged.
 */
function secretFree(ctx: ProxyContext, body: Buffer): void {
  if (ctx.scanner.size > 0 && ctx.scanner.foundInBuffer(body)) throw detected()
}

/** A POST on an MCP route: read, parse, check and decide its body, then run the rules' guards. */
async function guardPost(ctx: ProxyContext, ex: RequestExchange, route: Route, policy: McpPolicy, mayOpenSession: boolean): Promise<void> {
  const decision = known(ex.decision, 'a decision')
  if (!requestHasBody(ex.req.headers)) throw refused(ex.audit, new SidekeyError('SIDEKEY_ERR_MCP_INVALID', 'an MCP POST carries one JSON-RPC message in its body, and this one has none'))
  // Before the body is read: a coding or charset the server would decode it with is refused.
  try {
    checkBodyEncoding(ex.req.rawHeaders)
  } catch (err) {
    throw refused(ex.audit, err)
  }
  const body = await readBody(ex.req, route.inspectBodyBytes, { bodies: ctx.bodies, workload: known(ex.caller, 'a caller').workload ?? ANONYMOUS })
  ex.guarded = { ...NOTHING_TO_GUARD, body }
  const version = ex.req.headers['mcp-protocol-version']
  let parsed
  try {
    parsed = parseMcpBody(body, typeof version === 'string' ? version : null)
  } catch (err) {
    // Even a body that is not valid JSON-RPC gets a JSON-RPC error: with its id when one could be read.
    ex.refusalAnswer = (res, e, requestId, reason) => refuseMcp(res, e, unparsedMessages(err), { subject: null }, requestId, reason, false)
    secretFree(ctx, body)
    throw refused(ex.audit, err)
  }
  const mcp: McpExchange = { policy, body: parsed, requests: new Map(), refusal: { subject: null } }
  // From here on every refusal, whatever its code, is a JSON-RPC error with the request's id: a
  // managed secret in the arguments too, so the agent's MCP client reads why.
  ex.refusalAnswer = (res, err, requestId, reason) => refuseMcp(res, err, parsed.messages, mcp.refusal, requestId, reason, parsed.batch)
  secretFree(ctx, body)
  ex.mcp = mcp
  for (const m of parsed.messages) if (m.kind === 'request') mcp.requests.set(idKey(m.id!), m.method)
  ex.opensMcpSession = mayOpenSession && parsed.messages.some((m) => m.kind === 'request' && m.method === 'initialize')
  if (parsed.batch) ex.audit.mcp_batch = parsed.messages.length
  /** The tool rule whose conditions run, to name it with a condition that refuses. */
  let rule: string | null = null
  /** Whether a call waited for a person: the policy is read again afterwards. */
  let held = false
  try {
    checkMirroredHeaders(mcpHeaders(ex.req.rawHeaders), parsed)
    // The audit line names the first call that names something (or the first), refused or not.
    const calls = parsed.messages.filter((m): m is McpCall => m.kind !== 'response')
    const named = calls.find((c) => nameIn(c) !== null) ?? calls[0]
    if (named !== undefined) recordCall(ex.audit, named, policy.logArguments)
    // Every tool of a batch, for the audit line and the new-tool anomaly (not only the first).
    const tools = calls.filter((c) => c.method === 'tools/call').map((c) => nameIn(c)).filter((n): n is string => n !== null)
    if (tools.length > 1) ex.audit.mcp_tools = tools
    const verdicts = calls.map((m) => {
      mcp.refusal.subject = describeCall(m)
      return { m, verdict: decideMcpMessage(policy, m) }
    })
    for (const { m, verdict } of verdicts) {
      mcp.refusal.subject = describeCall(m)
      if (m === named && verdict.rule !== null) ex.audit.mcp_rule = verdict.rule.pattern
      if (verdict.rule !== null) checkArgumentKeys(m.params?.arguments, verdict.rule.argumentsRead)
      const guard = verdict.rule?.guard ?? null
      if (guard === null) continue
      rule = guard.name
      const target = known(ex.target, 'a target')
      const caller = known(ex.caller, 'a caller')
      const facts = { workload: caller.workload, host: target.host, port: target.port, method: 'POST', pathname: target.pathname, path: target.path, rawHeaders: ex.req.rawHeaders, signal: ex.signal, reportOnly: ctx.config.reportOnly }
      const guarded = await guardUnderRoute(ctx, guard, { ...facts, alreadyRead: body, mcp: celFacts(m, verdict.subject), about: mcp.refusal.subject }, ex.req)
      if (guarded.approval !== null) ex.audit.approval = guarded.approval.via === 'grant' ? 'grant' : guarded.approval.record.id
      if (heldAndApproved(guarded.approval)) held = true
      if (guarded.uncounted.length > 0) ex.audit.uncounted = guarded.uncounted
      if (guarded.wouldRefuse !== null) {
        ex.decision = { ...decision, reportOnly: true }
        ex.audit.condition = `${guard.name} ${guarded.wouldRefuse.condition}`
        recordWouldRefuse(ex.audit, reasonOf(guarded.wouldRefuse.code))
        return
      }
    }
    if (held) decideAgainAfterHold(ctx, ex, calls)
    // A later refusal of a batch (a credential, the upstream) is about all of it.
    if (parsed.batch) mcp.refusal.subject = null
  } catch (err) {
    if (err instanceof ConditionRefusal) ex.audit.condition = rule === null ? err.condition : `${rule} ${err.condition}`
    if (err instanceof SidekeyError && typeof err.details?.approval_id === 'string') ex.audit.approval = err.details.approval_id
    throw refused(ex.audit, err)
  }
}

/** The MCP facts of the call on the audit line: the name as sent (cut), whether or not it is allowed. */
function recordCall(audit: AuditRecord, m: McpCall, logArguments: boolean): void {
  audit.mcp_method = m.method.slice(0, 128)
  if (m.id !== null) audit.mcp_id = typeof m.id === 'string' ? m.id.slice(0, 128) : m.id
  const name = nameIn(m)
  if (name !== null) {
    const field = m.method === 'tools/call' ? 'mcp_tool' : m.method.startsWith('resources/') ? 'mcp_resource' : m.method === 'prompts/get' ? 'mcp_prompt' : null
    if (field !== null) audit[field] = name.slice(0, 256)
  }
  const args = m.params?.arguments
  // Managed secrets in it are masked with the rest of the line (observe/audit.ts maskAuditRecord).
  if (logArguments && args !== undefined) audit.mcp_arguments = JSON.stringify(args).slice(0, 2048)
}

/** A refusal on the audit line: the reason it names (`mcp-tool-not-allowed`, ...) and the outcome. */
function refused(audit: AuditRecord, err: unknown): unknown {
  if (!(err instanceof SidekeyError)) return err
  const reason = typeof err.details?.mcp_reason === 'string' ? err.details.mcp_reason : reasonOf(err.code)
  recordRefused(audit, reason.startsWith('mcp-') ? reason : `mcp-${reason}`)
  audit.mcp_outcome = err.code
  return err
}
