import { randomUUID } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex, Transform } from 'node:stream'
import type { Logger } from 'pino'
import type { Connections } from './accept/connections.js'
import { assertNoTrailers, assertWholeHead, refuseTrailersAtEnd } from './accept/http-limits.js'
import { intercept, INTERCEPT_FAILURES, type InterceptFailure } from './accept/intercept.js'
import { asSidekeyError, refuse, refuseSocket } from './accept/refuse.js'
import { requestTarget, type RequestTarget } from './accept/target.js'
import { bodyOverrideFilter, methodOverride, refuseBodyOverride, type MethodOverride } from './accept/method-override.js'
import { refusePathOverride } from './accept/path-override.js'
import { dialTunnel, relay, type Tunnel } from './accept/tunnel.js'
import type { LeafCache } from './ca/cache.js'
import type { Config } from './config.js'
import { ConditionRefusal, SidekeyError } from './errors.js'
import { forward, upstreamFailure, type ForwardResult } from './forward/forward.js'
import { resolveChecked, type CheckedAddress, type Resolver } from './forward/ssrf.js'
import type { UpgradeRelay } from './forward/upgrade.js'
import type { UpstreamPools } from './forward/upstream.js'
import { identify, type Caller } from './identity/identify.js'
import type { RunTokens } from './identity/run-tokens.js'
import { callerRefusal } from './identity/standing.js'
import { withoutHopByHop } from './inject/hop-by-hop.js'
import { injectCredential, withoutNames, type OutgoingRequest } from './inject/inject.js'
import { signForwarded } from './inject/sigv4.js'
import { chunkResignFilter, resignBuffer, type ChunkSigning } from './inject/sigv4-chunked.js'
import type { AwsCredentials } from './credentials/provider.js'
import { auditPath, maskAuditRecord, newAuditRecord, writeAudit, type AuditRecord } from './observe/audit.js'
import { parseAuthority } from './policy/host.js'
import { describeAmbiguity } from './policy/path.js'
import { applyReportOnly, decideConnect, decideRequest, type Decision, type RequestFacts } from './policy/decide.js'
import type { Policy } from './policy/types.js'
import type { PolicyStore } from './policy/store.js'
import type { Throttle } from './guard/throttle.js'
import { detected, type SecretScanner } from './guard/secret-scan.js'
import { checkUpgradeRequest, upgradeRefusal } from './guard/upgrade-guard.js'
import { echoScrubber, secretTripwire } from './guard/websocket-frames.js'
import type { StateStore } from './state/store.js'
import type { Approvals } from './approvals/approvals.js'
import { guardRequest, NOTHING_TO_GUARD, type GuardResult } from './guard/request-guard.js'
import { requestHeadersFor, responseGuard, type ResponsePlan } from './guard/response-guard.js'

/**
 * The request path, stage by stage: accept, identify, decide, obtain, inject, forward, audit.
 * Every other module does one stage; this file only chains them, for plain requests, CONNECT
 * tunnels and upgraded connections.
 */

/** What the request path needs from the running process. */
export interface ProxyContext {
  readonly config: Config
  readonly log: Logger
  readonly policy: PolicyStore
  readonly runTokens: RunTokens
  readonly pools: UpstreamPools
  readonly leaves: LeafCache
  readonly upgrades: UpgradeRelay
  readonly resolver: Resolver
  /** PEM roots for upstream TLS. */
  readonly upstreamCa: string[]
  /** The HTTP server intercepted tunnels are handed to (never listens itself). */
  readonly inner: Server
  /** Quarantined workloads. */
  readonly state: StateStore
  readonly throttle: Throttle
  /** Every secret sidekey holds, to catch an agent sending one out. */
  readonly scanner: SecretScanner
  /** Called with every finished audit record (metrics, baselines). Must not throw or wait. */
  readonly observe: (record: AuditRecord) => void
  /** Held requests and their decisions. */
  readonly approvals: Approvals
  /** Every open client connection: limits, and closing what a revocation, quarantine or reload ends. */
  readonly connections: Connections
  readonly now: () => number
}

/**
 * Write the one audit line and hand the record to the monitor, with any managed secret the agent
 * put in it (a host, a path, a query key) masked first: every log, event, alert and label built
 * from the record is then free of it.
 */
export function finishAudit(ctx: Pick<ProxyContext, 'log' | 'observe' | 'scanner'>, audit: AuditRecord, startedAt: number): void {
  maskAuditRecord(audit, ctx.scanner)
  writeAudit(ctx.log, audit, startedAt)
  try {
    ctx.observe(audit)
  } catch (err) {
    ctx.log.error({ event: 'observe_failed', err: (err as Error).message }, 'monitoring failed for one record')
  }
}

/**
 * Guard the caller before any decision, on every request (inside a tunnel too, where the caller
 * was identified once, at CONNECT): a revoked run token and a quarantined workload are refused
 * outright (so is an anonymous caller that could be a quarantined agent: `callerRefusal`), a
 * throttled one when its bucket is empty.
 */
function guardCaller(ctx: ProxyContext, caller: Caller): void {
  const refusal = callerRefusal(caller, ctx.runTokens, ctx.state)
  if (refusal !== null) throw refusal
  const workload = caller.workload ?? 'anonymous'
  const wait = ctx.throttle.take(workload)
  if (wait > 0) throw new SidekeyError('SIDEKEY_ERR_THROTTLED', `workload "${workload}" is throttled; retry in ${wait} s`, { retryAfterS: wait })
}

/** Count the client connection against the caller's workload (its share of open connections). */
function admitCaller(ctx: ProxyContext, client: Socket, caller: Caller): void {
  const refusal = ctx.connections.identify(client, caller)
  if (refusal !== null) throw refusal
}

/** A CONNECT (or redirected TLS connection) decided under `policy`, report-only mode applied. */
function connectDecision(ctx: ProxyContext, policy: Policy, caller: Caller, authority: { host: string; port: number }): Decision {
  const decision = decideConnect(policy, { workload: caller.workload, host: authority.host, port: authority.port })
  return ctx.config.reportOnly ? applyReportOnly(decision) : decision
}

/** A request decided under `policy`, report-only mode applied. */
function requestDecision(ctx: ProxyContext, policy: Policy, facts: RequestFacts): Decision {
  const decision = decideRequest(policy, facts)
  return ctx.config.reportOnly ? applyReportOnly(decision) : decision
}

/** A request that passed identify and decide, with its credential applied. */
interface Prepared {
  target: RequestTarget
  decision: Decision
  to: CheckedAddress
  outgoing: OutgoingRequest
  caller: Caller
  /** The injected secret, kept only to invalidate it if the upstream rejects it. */
  secret: string | null
  /** The request body when the guard had to read it (forwarded from here, not the stream). */
  body: Buffer | null
  /** A chunk-signed AWS upload whose chunks are signed again on the way up, or null. */
  resign: ChunkSigning | null
}

/**
 * Identify, decide, obtain, guard and inject for one HTTP request (plain or upgrade). Fills the
 * audit record as it goes, so a refusal at any stage is logged with everything known by then.
 */
async function prepare(ctx: ProxyContext, req: IncomingMessage, tunnel: Tunnel | null, audit: AuditRecord, signal: AbortSignal, upgrade = false): Promise<Prepared> {
  // accept: where is it going
  const target = requestTarget(req, tunnel)
  Object.assign(audit, { scheme: target.scheme, host: target.host, port: target.port }, auditPath(target.path))
  assertWholeHead(req, ctx.config.maxHeaderCount)

  // identify: a tunnel's requests belong to whoever opened the tunnel, re-checked on each one
  const caller = tunnel?.caller ?? identifyOrRecord(ctx, req, audit)
  audit.workload = caller.workload
  audit.identity = caller.via
  guardCaller(ctx, caller)
  admitCaller(ctx, tunnel?.client ?? (req.socket as Socket), caller)
  // An agent sending a secret sidekey holds is exfiltrating it, wherever it sends it: the target as
  // sent (with its host, in absolute form), the host and path as normalised (what is resolved and
  // forwarded), every header name and value. Before any DNS lookup, which would carry the host out.
  if (ctx.scanner.foundInRequest(req.url ?? '', req.rawHeaders) || ctx.scanner.foundInFields([target.host, target.path])) throw detected()

  // decide (on the path and method the upstream would run, when an override names a method)
  refusePathOverride(req.rawHeaders)
  const override = methodOverride(req.rawHeaders, target.path)
  if (override !== null) audit.method_override = override.method
  const method = override?.method ?? req.method ?? 'GET'
  const decidedAt = performance.now()
  let decision = requestDecision(ctx, ctx.policy.current, { workload: caller.workload, host: target.host, port: target.port, method: req.method ?? 'GET', path: target.pathname, ambiguity: target.ambiguity, override })
  recordDecision(audit, decision)
  audit.decision_ms = performance.now() - decidedAt
  if (decision.action === 'deny') throw refusalFor(decision, caller, target, override)
  const route = decision.route
  if (upgrade) decision = guardUpgrade(ctx, req, decision, audit)

  // guard: the route's conditions, limits and approval
  let guarded: GuardResult = NOTHING_TO_GUARD
  if (route !== null && !decision.reportOnly) {
    try {
      guarded = await guardRequest(ctx, route, { workload: caller.workload, host: target.host, port: target.port, method, pathname: target.pathname, path: target.path, rawHeaders: req.rawHeaders, signal, reportOnly: ctx.config.reportOnly }, req)
    } catch (err) {
      if (err instanceof ConditionRefusal) audit.condition = err.condition
      throw err
    }
    if (guarded.wouldRefuse !== null) {
      decision = { ...decision, reportOnly: true }
      audit.report_only = true
      audit.condition = guarded.wouldRefuse.condition
      audit.reason = `would-refuse:${guarded.wouldRefuse.code.replace('SIDEKEY_ERR_', '').toLowerCase().replaceAll('_', '-')}`
    }
    // The store was down and the route fails open: say which limits this request was not counted against.
    if (guarded.uncounted.length > 0) audit.uncounted = guarded.uncounted
    if (guarded.approval !== null) audit.approval = guarded.approval.via === 'grant' ? 'grant' : guarded.approval.record.id
    // A body already read is checked whole for a `_method` field; a streamed one on its way up.
    if (guarded.body !== null) refuseBodyOverride(req.rawHeaders, guarded.body)
  }

  // guard the destination before anything is obtained for it
  const to = await resolveChecked(target.host, target.port, route, ctx.resolver, ctx.config.connectTo.get(`${target.host}:${target.port}`))

  // obtain (never for a request only report-only mode let through)
  let secret: string | null = null
  let aws: AwsCredentials | undefined
  if (route?.credential && !decision.reportOnly) {
    audit.credential = route.credential.name
    const obtainedAt = performance.now()
    try {
      const obtained = await route.credential.obtain(caller.workload)
      secret = obtained.secret
      aws = obtained.aws
      ctx.scanner.add(secret)
      audit.credential_source = obtained.source
    } catch (err) {
      // The reason (provider unreachable, what it answered) for whoever reads the log; messages name no secret.
      ctx.log.warn({ event: 'credential_unavailable', request: audit.id, credential: route.credential.name, err: (err as Error).message }, 'credential could not be obtained; request refused')
      throw err
    } finally {
      audit.credential_ms = performance.now() - obtainedAt
    }
  }

  // inject: hop-by-hop first, so `Connection: <name>` cannot remove what is injected next
  const outgoing: OutgoingRequest = { path: target.path, headers: withoutHopByHop(req.rawHeaders) }
  if (route !== null && secret !== null) injectCredential(outgoing, route, secret)
  else if (route !== null && !decision.reportOnly) outgoing.headers = withoutNames(outgoing.headers, route.strip)
  let resign: ChunkSigning | null = null
  if (route?.injection?.kind === 'sigv4' && secret !== null) {
    if (aws === undefined) throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${route.credential?.name}" holds no AWS keys to sign with`)
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
    resign = await signForwarded(outgoing, { method: req.method ?? 'GET', scheme: target.scheme, host: target.host, port: target.port, agentAuthorization: req.headers.authorization, hasBody }, route.injection, aws, guarded.body, route.credential!.name)
  }
  // A chunk-signed body the guard already read is re-signed here, whole; a streamed one on its way up.
  if (resign !== null && guarded.body !== null) return { target, decision, to, outgoing, caller, secret, body: resignBuffer(resign, guarded.body), resign: null }
  return { target, decision, to, outgoing, caller, secret, body: guarded.body, resign }
}

/**
 * An upgrade is decided before anything is obtained or held for it: one sidekey cannot relay is
 * refused, and so is one its route does not allow (in report-only mode that is recorded, and the
 * upgrade goes on without the credential, like any request that would have been refused).
 */
function guardUpgrade(ctx: ProxyContext, req: IncomingMessage, decision: Decision, audit: AuditRecord): Decision {
  checkUpgradeRequest(req.method ?? 'GET', req.headers)
  const refusal = decision.route === null || decision.reportOnly ? null : upgradeRefusal(decision.route)
  if (refusal === null) return decision
  if (!ctx.config.reportOnly) {
    audit.decision = 'deny'
    audit.reason = 'upgrade-refused'
    throw refusal
  }
  audit.report_only = true
  audit.reason = 'would-refuse:upgrade-refused'
  return { ...decision, reportOnly: true }
}

/**
 * An upstream that answers 401 to an injected token has revoked or rotated it: drop it from the
 * cache once, so the next request fetches a fresh one. The request itself is not replayed.
 */
function invalidateOn401(status: number | null, prepared: Prepared): void {
  const provider = prepared.decision.route?.credential
  if (status === 401 && prepared.secret !== null && provider?.invalidate) provider.invalidate(prepared.caller.workload, prepared.secret)
}

/**
 * The response guard for a prepared request: scrub echoed secrets when a credential was injected
 * (every form of every secret sidekey knows), check a pinned download.
 */
function planResponse(ctx: ProxyContext, p: Prepared, stats: { scrubbed: number }): ResponsePlan | null {
  const route = p.decision.route
  if (route === null || p.decision.reportOnly) return null
  // The injected value's own encodings (the base64 of a whole Basic or "Bearer ..." value) are
  // covered by the secret's base64 forms at every alignment: the scanner's shared needles (and
  // their automaton, built once) serve every response.
  const needles = p.secret !== null && route.scrub ? ctx.scanner.needles() : null
  return responseGuard(route, needles, stats)
}

function identifyOrRecord(ctx: ProxyContext, req: IncomingMessage, audit: AuditRecord): Caller {
  try {
    return identify(req.headers['proxy-authorization'], ctx.runTokens, ctx.config.workload)
  } catch (err) {
    audit.identity = 'invalid'
    audit.decision = 'deny'
    audit.reason = 'invalid-run-token'
    throw err
  }
}

function recordDecision(audit: AuditRecord, decision: Decision): void {
  audit.decision = decision.action === 'intercept' ? 'intercept' : decision.action
  audit.reason = decision.reason
  audit.route = decision.route?.name ?? null
  audit.report_only = decision.reportOnly
}

function refusalFor(decision: Decision, caller: Caller, target: { host: string; port: number; ambiguity?: RequestTarget['ambiguity'] }, override: MethodOverride | null = null): SidekeyError {
  const who = caller.workload === null ? 'an anonymous caller' : `workload "${caller.workload}"`
  const where = `${target.host}:${target.port}`
  const message = {
    'route-denies': `route "${decision.route?.name}" denies ${where}${override === null ? '' : ` (the method override in ${override.via} names ${override.method}; a request is decided on its own method and on the overridden one)`}`,
    'ambiguous-path': target.ambiguity ? describeAmbiguity(target.ambiguity, where) : 'the path has no single meaning',
    'method-override': `route "${decision.route?.name}" does not accept method overrides, and ${override?.via ?? 'the request'} names ${override?.method ?? 'another method'}: send ${override?.method ?? 'that method'} as the request method (or an admin sets method_override: true on the route)`,
    'no-route': `no route allows ${where} for ${who} (default deny)`,
    'workload-not-allowed': `a route matches ${where} but not ${who}`,
    'anonymous-not-allowed': `no route allows ${where} without a run token; authenticate with the token \`sidekey run\` provides`,
  }[decision.reason as 'no-route'] ?? `refused: ${decision.reason}`
  return new SidekeyError(decision.code ?? 'SIDEKEY_ERR_NO_ROUTE', message)
}

/** Record a refusal on the audit line, keeping a decision already made. */
function recordError(audit: AuditRecord, err: SidekeyError): void {
  audit.error = err.code
  audit.status = err.status
  if (audit.reason === 'incomplete') {
    audit.decision = err.status >= 500 ? 'error' : 'deny'
    audit.reason = err.code.replace('SIDEKEY_ERR_', '').toLowerCase().replaceAll('_', '-')
  }
}

/** A plain HTTP request: absolute-form on the proxy port, or any request inside an intercepted tunnel. */
export async function handleRequest(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse, tunnel: Tunnel | null): Promise<void> {
  const startedAt = performance.now()
  const id = randomUUID()
  const audit = newAuditRecord('request', id, tunnel?.id ?? null)
  audit.method = req.method ?? null
  const result: ForwardResult = { status: 0, bytesUp: 0, bytesDown: 0, firstByteMs: 0 }
  const scrubbed = { scrubbed: 0 }
  // The agent hanging up cancels whatever its request waits for (an approval, a credential).
  const gone = new AbortController()
  res.once('close', () => {
    if (!res.writableFinished) gone.abort()
  })
  try {
    const prepared = await prepare(ctx, req, tunnel, audit, gone.signal)
    const { target, to, outgoing } = prepared
    const response = planResponse(ctx, prepared, scrubbed)
    outgoing.headers = requestHeadersFor(response, outgoing.headers)
    // forward
    try {
      // On the way up: what the agent sent is checked for secrets first, then chunk signatures are replaced.
      const bodyFilters: Transform[] = []
      // Trailer fields cannot go up: a body read whole is refused now, a streamed one cut at its end.
      if (prepared.body !== null) assertNoTrailers(req)
      else if (req.headers['transfer-encoding'] !== undefined) bodyFilters.push(refuseTrailersAtEnd(req))
      if (prepared.body === null && ctx.scanner.size > 0) bodyFilters.push(ctx.scanner.bodyFilter())
      const overrideFilter = prepared.body === null && !prepared.decision.reportOnly ? bodyOverrideFilter(req.rawHeaders) : null
      if (overrideFilter !== null) bodyFilters.push(overrideFilter)
      if (prepared.resign !== null) bodyFilters.push(chunkResignFilter(prepared.resign))
      await forward(ctx.pools, { scheme: target.scheme, host: target.host, port: target.port, to, method: req.method ?? 'GET', path: outgoing.path, headers: outgoing.headers, bodyFilters, body: prepared.body, response }, req, res, result)
    } finally {
      invalidateOn401(result.status, prepared)
    }
    audit.status = result.status
  } catch (err) {
    const e = asSidekeyError(err)
    recordError(audit, e)
    if (e.code === 'SIDEKEY_ERR_INTERNAL') ctx.log.error({ event: 'internal_error', id, err: (err as Error).stack }, 'internal error')
    // Once the upstream's status went out, that is the status the agent saw.
    if (result.status !== 0) audit.status = result.status
    if (!res.headersSent) refuse(res, e, id, audit.reason)
    else if (!res.destroyed) res.destroy()
  } finally {
    // Written here, when every stage has settled (forward resolves only after the body ended or
    // failed), so the one line holds the final status, bytes and error.
    audit.bytes_up = result.bytesUp
    audit.bytes_down = result.bytesDown
    if (scrubbed.scrubbed > 0) audit.scrubbed = scrubbed.scrubbed
    audit.upstream_ms = result.firstByteMs || null
    finishAudit(ctx, audit, startedAt)
  }
}

/**
 * An HTTP/1.1 upgrade (WebSocket): the same decision and injection, then the relay. Only a 101
 * turns the exchange into a byte stream, and then every frame passes a guard (the agent's checked
 * for managed secrets, the upstream's scrubbed of echoed ones); any other answer is guarded like
 * any response. One audit line per upgrade, written when the agent's socket closes.
 */
export async function handleUpgrade(ctx: ProxyContext, req: IncomingMessage, socket: Duplex, head: Buffer, tunnel: Tunnel | null): Promise<void> {
  const startedAt = performance.now()
  const id = randomUUID()
  const audit = newAuditRecord('upgrade', id, tunnel?.id ?? null)
  audit.method = req.method ?? null
  const scrubbed = { scrubbed: 0 }
  let written = false
  const finish = (): void => {
    if (written) return
    written = true
    if (scrubbed.scrubbed > 0) audit.scrubbed = scrubbed.scrubbed
    finishAudit(ctx, audit, startedAt)
  }
  socket.on('error', () => socket.destroy())
  socket.once('close', finish)
  try {
    const gone = new AbortController()
    socket.once('close', () => gone.abort())
    const prepared = await prepare(ctx, req, tunnel, audit, gone.signal, true)
    const { target, to, outgoing } = prepared
    audit.scheme = target.scheme === 'https' ? 'wss' : 'ws'
    const response = planResponse(ctx, prepared, scrubbed)
    // Frames are read on their way through, so none may be compressed (RFC 7692): no extension is
    // offered upstream. An answer other than 101 must come in a coding the response guard decodes.
    const sent = requestHeadersFor(response, withoutNames(outgoing.headers, ['sec-websocket-extensions']))
    const headers: Record<string, string> = {}
    for (let i = 0; i < sent.length; i += 2) {
      const name = sent[i]!.toLowerCase()
      headers[name] = headers[name] === undefined ? sent[i + 1]! : `${headers[name]}, ${sent[i + 1]}`
    }
    headers.host = target.port === (target.scheme === 'https' ? 443 : 80) ? target.host : `${target.host}:${target.port}`
    const bytesAtStart = { read: (socket as Socket).bytesRead ?? 0, written: (socket as Socket).bytesWritten ?? 0 }
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
          invalidateOn401(status, prepared)
          if (status === 101) holdUpgrade(ctx, socket as Socket, tunnel, audit, { workload: prepared.caller.workload, host: target.host, port: target.port, method: req.method ?? 'GET', path: target.pathname })
        },
        refused(err) {
          // A secret in a frame is the same detection as in a request: the monitor quarantines on this code.
          audit.error = err.code
          ctx.log.warn({ event: 'websocket_refused', id, code: err.code, err: err.message }, 'WebSocket closed: a frame was refused')
        },
        failed(err, answered) {
          const e = err instanceof SidekeyError ? err : new SidekeyError('SIDEKEY_ERR_UPGRADE_FAILED', upstreamFailure(err, target).message, { cause: err })
          // The first failure is the one on the line; once a status went out, it is the one the agent saw.
          if (audit.error === null) {
            const seen = audit.status
            recordError(audit, e)
            if (answered && seen !== null) audit.status = seen
          }
          if (!answered) refuseSocket(socket, e, id, audit.reason)
          else socket.destroy()
        },
      },
    )
  } catch (err) {
    const e = asSidekeyError(err)
    recordError(audit, e)
    refuseSocket(socket, e, id, audit.reason)
  }
}

/**
 * An upgraded connection (after its 101) is a relay nobody decides again: it is asked again on
 * every policy reload (and closed when its route is gone), closed with its connection when its
 * token is revoked or its workload quarantined, and closed after the tunnel idle timeout.
 */
function holdUpgrade(ctx: ProxyContext, socket: Socket, tunnel: Tunnel | null, audit: AuditRecord, facts: RequestFacts): void {
  const allowedUnder = (policy: Policy): boolean => {
    const decision = requestDecision(ctx, policy, facts)
    return decision.reportOnly || decision.action !== 'deny'
  }
  ctx.connections.hold(tunnel?.client ?? socket, { audit, allowedUnder })
  socket.setTimeout(ctx.config.tunnelIdleTimeoutMs)
  socket.once('timeout', () => {
    audit.closed ??= 'idle'
    socket.destroy()
  })
}

/** A tunnel's audit record, written once when its socket closes, with the bytes it carried. */
function tunnelAudit(ctx: ProxyContext, socket: Socket, method: string): AuditRecord {
  const startedAt = performance.now()
  const audit = newAuditRecord('tunnel', randomUUID())
  audit.method = method
  socket.on('error', () => socket.destroy())
  socket.once('close', () => {
    audit.bytes_up = socket.bytesRead
    audit.bytes_down = socket.bytesWritten
    finishAudit(ctx, audit, startedAt)
  })
  return audit
}

/**
 * Dial the destination of a blind tunnel (SSRF-checked); null when the agent left meanwhile.
 */
async function dialBlind(ctx: ProxyContext, authority: { host: string; port: number }, route: Decision['route'], client: Socket): Promise<Socket | null> {
  const to = await resolveChecked(authority.host, authority.port, route, ctx.resolver, ctx.config.connectTo.get(`${authority.host}:${authority.port}`))
  let upstream: Socket
  try {
    upstream = await dialTunnel(to, ctx.config.connectTimeoutMs)
  } catch (err) {
    throw upstreamFailure(err, authority)
  }
  if (client.destroyed) {
    upstream.destroy()
    return null
  }
  return upstream
}

/**
 * CONNECT: decided on its authority. A tunnel route relays blind; anything else is intercepted so
 * each request inside is decided and injected on its own; a refusal is answered on the socket.
 * One audit line per tunnel, written when it closes.
 */
export async function handleConnect(ctx: ProxyContext, req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
  const audit = tunnelAudit(ctx, socket, 'CONNECT')
  const id = audit.id
  try {
    const authority = parseAuthority(req.url ?? '')
    if (authority === null) throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'CONNECT needs host:port')
    Object.assign(audit, { host: authority.host, port: authority.port })
    const caller = identifyOrRecord(ctx, req, audit)
    audit.workload = caller.workload
    audit.identity = caller.via
    guardCaller(ctx, caller)
    admitCaller(ctx, socket, caller)
    // A secret in the authority would leave in the DNS query for it (a `*.example` route resolves
    // `<secret>.example`), before any request inside the tunnel could be scanned.
    if (ctx.scanner.foundInRequest(req.url ?? '', req.rawHeaders)) throw detected()

    const decidedAt = performance.now()
    const decision = connectDecision(ctx, ctx.policy.current, caller, authority)
    recordDecision(audit, decision)
    audit.decision_ms = performance.now() - decidedAt
    if (decision.action === 'deny') throw refusalFor(decision, caller, authority)
    holdTunnel(ctx, socket, audit, caller, authority, decision.action === 'tunnel')

    const tunnel: Tunnel = { id, authority, caller, tls: false, client: socket }
    if (decision.action === 'tunnel') {
      const upstream = await dialBlind(ctx, authority, decision.route, socket)
      if (upstream === null) return
      audit.status = 200
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      relay(socket, upstream, head, () => undefined, idleClose(ctx, audit))
      return
    }

    // intercept (report-only "allow" also lands here, so its requests are still decided one by one)
    audit.decision = 'intercept'
    audit.status = 200
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
    intercept(socket, head, tunnel, ctx.leaves, ctx.inner, ctx.config.headTimeoutMs, interceptFailed(ctx, audit, 'intercepted tunnel failed'))
  } catch (err) {
    const e = asSidekeyError(err)
    recordError(audit, e)
    // A refused CONNECT is shown by its status line alone (curl, requests, Go): it says why.
    refuseSocket(socket, e, id, audit.reason, { sayWhy: true })
  }
}

/**
 * Register a tunnel to be decided again on every policy reload: a blind one stays only while its
 * destination is still a tunnel route (nothing inside it is ever decided, so a route that now
 * inspects, or denies, ends it); an intercepted one stays unless its destination is now denied
 * (each request inside is decided anyway).
 */
function holdTunnel(ctx: ProxyContext, socket: Socket, audit: AuditRecord, caller: Caller, authority: { host: string; port: number }, blind: boolean): void {
  const allowedUnder = (policy: Policy): boolean => {
    const decision = connectDecision(ctx, policy, caller, authority)
    // Report-only mode logs what enforcement would refuse; it closes nothing.
    if (decision.reportOnly) return true
    return blind ? decision.action === 'tunnel' : decision.action !== 'deny'
  }
  ctx.connections.hold(socket, { audit, allowedUnder })
}

/** A blind tunnel idle for the tunnel idle timeout is closed, and its audit line says so. */
function idleClose(ctx: ProxyContext, audit: AuditRecord): { ms: number; onIdle: () => void } {
  return { ms: ctx.config.tunnelIdleTimeoutMs, onIdle: () => (audit.closed ??= 'idle') }
}

/** Record the first failure of an intercepted connection on its audit line, and log it as loudly as it deserves. */
function interceptFailed(ctx: ProxyContext, audit: AuditRecord, message: string): (why: InterceptFailure, detail: string) => void {
  return (why, detail) => {
    if (audit.error !== null) return
    const { code, level } = INTERCEPT_FAILURES[why]
    audit.error = code
    audit.reason = why
    // The detail may quote the agent's SNI.
    ctx.log[level]({ event: 'intercept_failed', id: audit.id, why, detail: ctx.scanner.mask(detail) }, message)
  }
}

/**
 * A TLS connection redirected to sidekey by iptables (transparent mode): no CONNECT line, so the
 * ClientHello's SNI names the destination, with the port it was redirected from. sidekey resolves
 * that name itself, so a lying SNI only reaches the real host of the name it claims, under that
 * name's policy. A tunnel route relays blind (the ClientHello included); anything else is
 * intercepted, so refusals reach the agent as HTTP answers inside TLS, request by request. A
 * connection with no usable name is closed: there is nothing to decide on.
 */
export async function handleTransparentTls(ctx: ProxyContext, socket: Socket, hello: Buffer, serverName: string | null, port: number): Promise<void> {
  const audit = tunnelAudit(ctx, socket, 'TLS')
  const id = audit.id
  try {
    const authority = serverName === null ? null : parseAuthority(`${serverName}:${port}`)
    if (authority === null) throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'a redirected TLS connection without a server name (SNI) names no destination to decide on')
    Object.assign(audit, { host: authority.host, port: authority.port })
    // No Proxy-Authorization here: the caller is the sidecar's workload.
    const caller = identify(undefined, ctx.runTokens, ctx.config.workload)
    audit.workload = caller.workload
    audit.identity = caller.via
    // The SNI is resolved (a tunnel route) or minted for: a secret in it is caught before either.
    if (ctx.scanner.foundIn(authority.host)) throw detected()
    const decision = connectDecision(ctx, ctx.policy.current, caller, authority)
    recordDecision(audit, decision)
    const tunnel: Tunnel = { id, authority, caller, tls: false, client: socket }
    if (decision.action === 'tunnel') {
      guardCaller(ctx, caller)
      admitCaller(ctx, socket, caller)
      holdTunnel(ctx, socket, audit, caller, authority, true)
      const upstream = await dialBlind(ctx, authority, decision.route, socket)
      if (upstream === null) return
      relay(socket, upstream, hello, () => undefined, idleClose(ctx, audit))
      return
    }
    // Intercepted even when the destination is denied: each request inside is then refused with
    // a 403 the agent can read, instead of a bare TLS failure. Likewise past the workload's
    // connection limit: the connection is then not counted, and each request inside it is
    // refused with the 429 (prepare counts it again, request by request).
    audit.decision = 'intercept'
    ctx.connections.identify(socket, caller)
    intercept(socket, hello, tunnel, ctx.leaves, ctx.inner, ctx.config.headTimeoutMs, interceptFailed(ctx, audit, 'intercepted transparent connection failed'))
  } catch (err) {
    recordError(audit, asSidekeyError(err))
    // Nothing readable can be said before TLS: close, and the audit line says why.
    socket.destroy()
  }
}
