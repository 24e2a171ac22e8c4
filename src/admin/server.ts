import type { IncomingMessage, Server } from 'node:http'
import { createServer } from '../http/node-http.js'
import type { CertificateAuthority } from '../ca/authority.js'
import { SidekeyError } from '../errors.js'
import type { RunTokens } from '../identity/run-tokens.js'
import { ANONYMOUS, isWorkloadName } from '../identity/workload-name.js'
import { absoluteTarget } from '../accept/target.js'
import { methodOverride } from '../accept/method-override.js'
import { formatAuthority } from '../policy/host.js'
import { describeAmbiguity } from '../policy/path.js'
import { decideConnect, explainRequest } from '../policy/decide.js'
import { explainMcpCall } from '../mcp/explain.js'
import type { PolicyStore } from '../policy/store.js'
import type { RouteTrace } from '../policy/decide.js'
import type { Policy, Route } from '../policy/types.js'
import type { AdminHostCheck } from './host-check.js'
import type { CredentialRuntime } from '../credentials/runtime.js'
import { SIGNING_ALG } from '../credentials/signing-keys.js'
import type { Metrics } from '../observe/metrics.js'
import type { Monitor } from '../observe/monitor.js'
import { APPROVALS_ROUTES, type ApprovalsApiContext } from './approvals-api.js'
import { explainReadiness, type DialSettings } from './explain-readiness.js'
import { CONSOLE_ROUTES } from './console.js'
import { OAUTH_ROUTES, type OAuthApiContext } from './oauth-api.js'
import { readJson, send } from './json.js'
import { isAdmin } from './token.js'
import { refuseCrossSite } from './cross-site.js'
import { noEndpoint, RouteTable, type AdminCall, type AdminRoute } from './route-table.js'
import { ambiguity } from '../guard/ambiguity.js'
import { celInput } from '../guard/request-guard.js'
import type { CelPredicate } from '../policy/cel.js'
import type { PrivatePaths } from '../sandbox/private-paths.js'
import type { QuarantineStore, StoreStatus } from '../state/store.js'

/** What the admin API reads and changes. */
export interface AdminContext extends ApprovalsApiContext, OAuthApiContext {
  readonly policy: PolicyStore
  readonly runTokens: RunTokens
  readonly ca: CertificateAuthority
  readonly adminToken: string
  /** Approvals and decisions (for the approvals API), and whether the store answers (for readiness). */
  readonly state: ApprovalsApiContext['state'] & StoreStatus & Pick<QuarantineStore, 'quarantineListKnown'>
  /** False until the proxy listener is up. */
  ready(): boolean
  /** The proxy listener's host:port, once listening. */
  proxyAddress(): string | null
  /** Signing keys and issuer of minted JWTs; delegated grants and their authorizations. */
  readonly credentials: Pick<CredentialRuntime, 'keys' | 'issuer' | 'grants' | 'flows'>
  readonly metrics: Metrics
  readonly monitor: Monitor
  /** What `sidekey run`'s sandbox must hide from an agent (absolute paths, never contents). */
  privatePaths(): PrivatePaths
  /** The Host names this listener answers to (DNS-rebinding defence). */
  readonly hosts: AdminHostCheck
  /** How the proxy resolves and redirects hosts, so explain's address check is the proxy's. */
  readonly dial?: DialSettings
  /** Drain and exit (`--shutdown-endpoint`); null: POST /v1/shutdown is no endpoint. */
  readonly requestShutdown: (() => void) | null
}

/**
 * The admin listener (loopback by default): health, readiness, the loaded routes (never a secret),
 * explain, and run-token registration for `sidekey run`. Calls that change state need the admin
 * token, so an agent that can reach this port still cannot mint itself an identity.
 */
export function createAdminServer(ctx: AdminContext): Server {
  // The Host check comes before every handler, /healthz and /metrics included: a rebinding
  // page may read anything this listener answers (docs/security.md).
  // Then, for calls that change state, where a browser says it sent them from (admin/cross-site.ts).
  return serveTable(ctx, ADMIN_ROUTES, (req) => {
    ctx.hosts.check(req)
    refuseCrossSite(req)
  })
}

/**
 * The health listener (`--health`): /healthz and /readyz only, for the kubelet's httpGet probes,
 * which call the pod IP. It answers any Host: the kubelet names the pod IP, and what it serves
 * (up, ready, why not) is what every probe log shows anyway; the admin API stays on loopback.
 */
export function createHealthServer(ctx: AdminContext): Server {
  return serveTable(ctx, HEALTH_ROUTES, () => undefined)
}

/**
 * The metrics listener (`--metrics`): /metrics only, for Prometheus on the pod IP. Counters with
 * bounded labels and no secret, so any Host is answered, as with the health listener.
 */
export function createMetricsServer(ctx: AdminContext): Server {
  return serveTable(ctx, METRICS_ROUTES, () => undefined)
}

/** A listener that serves one route table, after `check` (which throws a refusal). */
function serveTable(ctx: AdminContext, table: RouteTable<AdminContext>, check: (req: IncomingMessage) => void): Server {
  return createServer((req, res) => {
    void (async () => {
      check(req)
      const url = new URL(req.url ?? '/', 'http://admin.invalid')
      const method = req.method ?? 'GET'
      const path = url.pathname
      const { route, params } = table.admit(method, path, req.headers.authorization, ctx.adminToken)
      await route.handle(ctx, { req, res, method, path, url, params })
    })().catch((err: unknown) => {
      const e = err instanceof SidekeyError ? err : new SidekeyError('SIDEKEY_ERR_INTERNAL', 'internal error')
      send(res, e.status, { error: { code: e.code, message: e.message } }, { 'x-sidekey-error': e.code })
    })
  })
}

/**
 * Every admin endpoint. Public: what holds no secret and changes nothing (health, readiness, the
 * routes, explain, the JWKS that minted JWTs are verified against, metrics, the CA certificate,
 * the console page). Admin: what changes state, lists run tokens or workloads, or shows what
 * approvers and `sidekey run` see.
 */
const HEALTHZ: AdminRoute<AdminContext> = { method: 'GET', path: '/healthz', access: 'public', handle: (_, { res }) => send(res, 200, { status: 'ok' }) }
const READYZ: AdminRoute<AdminContext> = { method: 'GET', path: '/readyz', access: 'public', handle: readiness }
/** Prometheus text exposition; label values are bounded and carry no secret. */
const METRICS: AdminRoute<AdminContext> = { method: 'GET', path: '/metrics', access: 'public', handle: metrics }

/** What the health listener serves. */
const HEALTH_ROUTES = new RouteTable<AdminContext>([HEALTHZ, READYZ])
/** What the metrics listener serves. */
const METRICS_ROUTES = new RouteTable<AdminContext>([METRICS])

export const ADMIN_ROUTES = new RouteTable<AdminContext>([
  HEALTHZ,
  READYZ,
  { method: 'GET', path: '/v1/routes', access: 'public', handle: listRoutes },
  { method: 'GET', path: '/v1/explain', access: 'public', handle: explainNow },
  // Minted JWTs are verified against these (OpenID Connect Discovery 1.0, RFC 7517).
  { method: 'GET', path: '/.well-known/jwks.json', access: 'public', handle: async (ctx, { res }) => send(res, 200, await ctx.credentials.keys.jwks()) },
  { method: 'GET', path: '/.well-known/openid-configuration', access: 'public', handle: openidConfiguration },
  METRICS,
  { method: 'GET', path: '/v1/ca.pem', access: 'public', handle: caCertificate },
  // Public: stopping sidekey takes nothing from it and opens no way around it (the agent's calls
  // fail closed without it); the listener is loopback, and the Host check runs first.
  { method: 'POST', path: '/v1/shutdown', access: 'public', handle: shutdown },
  ...CONSOLE_ROUTES,
  ...APPROVALS_ROUTES,
  ...OAUTH_ROUTES,
  { method: 'GET', path: '/v1/run-tokens', access: 'admin', handle: (ctx, { res }) => send(res, 200, { tokens: ctx.runTokens.list() }) },
  { method: 'POST', path: '/v1/run-tokens', access: 'admin', handle: mintRunToken },
  { method: 'DELETE', path: '/v1/run-tokens/:id', access: 'admin', handle: revokeRunToken },
  // Where sidekey keeps its secrets is for `sidekey run`, not for whoever reaches the port.
  { method: 'GET', path: '/v1/sandbox', access: 'admin', handle: (ctx, { res }) => send(res, 200, ctx.privatePaths()) },
  // What each workload did (requests, destinations, why it was quarantined) is not for another
  // workload's agent, which reaches this port from its pod.
  { method: 'GET', path: '/v1/workloads', access: 'admin', handle: (ctx, { res }) => send(res, 200, { workloads: ctx.monitor.workloads() }) },
  { method: 'POST', path: '/v1/workloads/:workload/quarantine', access: 'admin', handle: quarantineWorkload },
  { method: 'POST', path: '/v1/workloads/:workload/release', access: 'admin', handle: releaseWorkload },
  { method: 'POST', path: '/v1/policy/reload', access: 'admin', handle: reloadPolicy },
])

function readiness(ctx: AdminContext, { res }: AdminCall): void {
  const ready = ctx.ready()
  // The state store and a refused reload are reported, not required: with the store down only
  // what needs it refuses, and a stale policy is still a whole, valid one (docs/operations.md).
  send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'starting', routes: ctx.policy.current.routes.length, ca: ctx.ca.certPath, proxy: ctx.proxyAddress(), state: { store: ctx.state.shared ? 'redis' : 'memory', available: ctx.state.available, quarantine_known: ctx.state.quarantineListKnown }, policy: policyStatus(ctx.policy) })
}

function listRoutes(ctx: AdminContext, { res }: AdminCall): void {
  const current = ctx.policy.current
  // secret_env lists the names (never values) of sidekey's variables that hold secrets, so
  // `sidekey run` can give the agent placeholders instead.
  send(res, 200, { routes: current.routes.map(describeRoute), secret_env: current.secretEnvNames, loaded_at: current.loadedAt })
}

function openidConfiguration(ctx: AdminContext, { res }: AdminCall): void {
  const issuer = ctx.credentials.issuer
  send(res, 200, { issuer, jwks_uri: `${issuer}/.well-known/jwks.json`, id_token_signing_alg_values_supported: [SIGNING_ALG], subject_types_supported: ['public'], response_types_supported: ['id_token'] })
}

async function metrics(ctx: AdminContext, { res }: AdminCall): Promise<void> {
  res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType })
  res.end(await ctx.metrics.registry.metrics())
}

function caCertificate(ctx: AdminContext, { res }: AdminCall): void {
  res.writeHead(200, { 'content-type': 'application/x-pem-file' })
  res.end(ctx.ca.certPem)
}

function shutdown(ctx: AdminContext, { res, method, path }: AdminCall): void {
  const stop = ctx.requestShutdown
  if (stop === null) throw noEndpoint(method, path)
  send(res, 202, { stopping: true })
  res.once('finish', stop)
}

async function mintRunToken(ctx: AdminContext, { req, res }: AdminCall): Promise<void> {
  const workload = (await readJson(req) as { workload?: unknown }).workload
  if (typeof workload !== 'string' || !isWorkloadName(workload)) {
    throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'workload must be a name of letters, digits, dot, dash or underscore')
  }
  const { token, info } = ctx.runTokens.mint(workload)
  send(res, 201, { ...info, token })
}

/** The id is checked here rather than in the path, so every path under /v1/run-tokens/ is the admin's: without the token it answers 401, whatever follows. */
function revokeRunToken(ctx: AdminContext, { res, method, path, params }: AdminCall): void {
  const id = params.id!
  if (!/^[0-9a-f-]{36}$/.test(id)) throw noEndpoint(method, path)
  if (!ctx.runTokens.revoke(id)) throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', 'no such run token')
  send(res, 200, { revoked: id })
}

/** The workload named in the path; checked here rather than in the path for the reason `revokeRunToken` gives. */
function workloadParam({ method, path, params }: AdminCall): string {
  const workload = params.workload!
  if (!isWorkloadName(workload)) throw noEndpoint(method, path)
  return workload
}

async function quarantineWorkload(ctx: AdminContext, call: AdminCall): Promise<void> {
  const workload = workloadParam(call)
  const reason = (await readJson(call.req) as { reason?: unknown }).reason
  await ctx.monitor.quarantine(workload, typeof reason === 'string' && reason !== '' ? reason.slice(0, 200) : 'quarantined by an admin', 'admin')
  send(call.res, 200, { workload, quarantined: true })
}

async function releaseWorkload(ctx: AdminContext, call: AdminCall): Promise<void> {
  const workload = workloadParam(call)
  const released = await ctx.monitor.release(workload, 'admin')
  if (!released) throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `workload "${workload}" is neither quarantined nor throttled`)
  send(call.res, 200, { workload, released: true })
}

async function reloadPolicy(ctx: AdminContext, { res }: AdminCall): Promise<void> {
  const ok = await ctx.policy.reload()
  send(res, ok ? 200 : 422, { reloaded: ok, routes: ctx.policy.current.routes.length })
}

/** Most reload problems `/readyz` lists (the log has them all). */
const MAX_READYZ_PROBLEMS = 5

/** The policy part of `/readyz`: when the policy in force was loaded and, if a reload was refused since, why. */
function policyStatus(policy: PolicyStore): Record<string, unknown> {
  const failure = policy.failure
  return {
    loaded_at: policy.current.loadedAt,
    stale: failure !== null,
    ...(failure === null
      ? {}
      : {
          detail: `the last reload was refused (${failure.reason}), so the policy loaded at ${policy.current.loadedAt.toISOString()} is still in force; fix the files (they reload on change, on SIGHUP and on POST /v1/policy/reload)`,
          reload_failure: { at: failure.at, reason: failure.reason, problems: failure.problems.slice(0, MAX_READYZ_PROBLEMS), more_problems: Math.max(0, failure.problems.length - MAX_READYZ_PROBLEMS) },
        }),
  }
}

/** A route as the admin API and `sidekey explain` show it: where it was written, what it matches, never a secret. */
export function describeRoute(r: Route): Record<string, unknown> {
  return {
    name: r.name,
    at: `${r.file}:${r.line}`,
    match: [r.host.explain(), r.ports.explain(), r.methods.explain(), r.paths.explain(), r.workloads.explain()],
    action: r.action,
    credential: r.credential === null ? null : { name: r.credential.name, type: r.credential.type },
    inject:
      r.injection === null
        ? null
        : r.injection.kind === 'basic'
          ? { basic: true }
          : r.injection.kind === 'sigv4'
            ? { sigv4: { service: r.injection.service ?? 'from the request', region: r.injection.region ?? 'from the request', unsigned_payload: r.injection.unsignedPayload } }
            : { [r.injection.kind]: r.injection.name, value: r.injection.value.source },
    strip: r.strip,
    guards: describeGuards(r),
  }
}

/** A route's conditions, approval, pin, scrubbing and allowed upgrades, one short phrase each. */
export function describeGuards(r: Route): string[] {
  const c = r.conditions
  const out: string[] = []
  if (c?.time) out.push(`time ${c.time.text}`)
  if (c?.maxBodyBytes != null) out.push(`max_body_bytes ${c.maxBodyBytes}`)
  for (const p of c?.cel ?? []) out.push(p.label)
  if (c?.rate) out.push(`rate ${c.rate.requests} per ${c.rate.windowMs / 1000} s (${c.rate.sliding ? 'sliding' : 'fixed'})`)
  if (c?.quota) out.push(`quota ${c.quota.requests} per ${c.quota.per} (${c.quota.zone})`)
  if (r.approval) out.push(r.approval.when ? `approval when ${r.approval.when.source} (${r.approval.timeoutMs / 1000} s)` : `approval always (${r.approval.timeoutMs / 1000} s)`)
  if (r.pinSha256) out.push(`pin_sha256 ${r.pinSha256.slice(0, 12)}...`)
  if (r.credential && r.scrub) out.push('scrub echoed secrets')
  // The opt-in docs/security.md asks for on credentialed routes; without a credential WebSocket is the default.
  if (r.credential && r.upgrades.includes('websocket')) out.push('upgrades: websocket (frames guarded)')
  return out
}

/** The answer of explain, for the admin API (JSON) and the CLI (text). */
export interface ExplainAnswer {
  /** `path` is normalised as the proxy normalises it; `ambiguity` says why such a path is refused where routes match paths. */
  request: { method: string; host: string; port: number; path: string; workload: string | null; ambiguity: string | null; method_override: string | null }
  connect: { action: string; reason: string; route: string | null } | null
  decision: { action: string; reason: string; route: string | null; code: string | null }
  credential: string | null
  /** The deciding route's conditions and approval, each with what it says about this request. */
  conditions: { condition: string; result: 'pass' | 'fail' | 'undecidable' | 'counted' | 'holds' | 'no-hold' | 'needs-body'; detail: string }[]
  trace: RouteTrace[]
}

/** GET /v1/explain: the decision, and whether the credential and the host's addresses would do right now. */
async function explainNow(ctx: AdminContext, { req, res, url }: AdminCall): Promise<void> {
  const policy = ctx.policy.current
  const answer = explain(policy, url.searchParams)
  // Public, but whether a token is cached for a workload says that it called the service lately:
  // only the admin token's holder learns that (an agent may ask as any workload).
  const showCache = isAdmin(req.headers.authorization, ctx.adminToken)
  send(res, 200, { ...answer, ...(await explainReadiness(policy, answer, ctx.dial, process.env, showCache)) })
}

/** Explain what would happen to METHOD URL for a workload. Shared by the admin API and the CLI. */
export function explain(policy: Policy, params: URLSearchParams): ExplainAnswer {
  const method = (params.get('method') ?? 'GET').toUpperCase()
  const rawUrl = params.get('url')
  const workload = params.get('workload')
  if (rawUrl === null || !/^(https?|wss?):\/\//i.test(rawUrl)) throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'explain needs url=http(s)://host/path')
  // The same parsing and normalisation as the proxy (a WebSocket URL is decided as its HTTP request).
  const target = absoluteTarget(rawUrl.replace(/^ws/i, 'http'))
  const override = methodOverride([], target.path)
  // `anonymous` is the reserved name policy gives a caller with no run token: explained as one.
  const facts = { workload: workload === null || workload === '' || workload === ANONYMOUS ? null : workload, host: target.host, port: target.port, method, path: target.pathname, ambiguity: target.ambiguity, override }
  const { decision, trace } = explainRequest(policy, facts)
  const connect = target.scheme === 'https' ? decideConnect(policy, facts) : null
  return {
    request: { method, host: target.host, port: target.port, path: target.pathname, workload: facts.workload, ambiguity: target.ambiguity && describeAmbiguity(target.ambiguity, formatAuthority(target)), method_override: override?.method ?? null },
    connect: connect && { action: connect.action, reason: connect.reason, route: connect.route?.name ?? null },
    decision: { action: decision.action, reason: decision.reason, route: decision.route?.name ?? null, code: decision.code },
    credential: decision.action === 'allow' && decision.route?.credential ? decision.route.credential.name : null,
    conditions:
      decision.action === 'allow' && decision.route !== null
        ? [...explainConditions(decision.route, { ...facts, method: override?.method ?? method, path: target.path }, params.get('body')), ...explainMcpCall(decision.route, params, (rule, body, mcp) => explainConditions(rule, { ...facts, method, path: target.path }, body, mcp))]
        : [],
    trace,
  }
}

/**
 * What each condition of `route` says about the request: the time window is read now, CEL is
 * evaluated against `body` (JSON text) when given, counters are only named (explain counts nothing).
 */
function explainConditions(route: Route, facts: { workload: string | null; host: string; port: number; method: string; path: string }, bodyText: string | null, mcp?: unknown): ExplainAnswer['conditions'] {
  const out: ExplainAnswer['conditions'] = []
  const c = route.conditions
  const pathname = facts.path.split('?')[0]!
  const input = celInput({ workload: facts.workload, host: facts.host, port: facts.port, method: facts.method, pathname, path: facts.path, rawHeaders: [], ...(mcp === undefined ? {} : { mcp }) }, bodyText === null ? null : Buffer.from(bodyText))
  const cel = (p: CelPredicate): ExplainAnswer['conditions'][number] => {
    if (p.usesBody && bodyText === null) return { condition: p.label, result: 'needs-body', detail: 'reads the body: pass --body JSON to evaluate it' }
    const o = p.evaluate(input)
    return o.ok ? { condition: p.label, result: o.value ? 'pass' : 'fail', detail: o.value ? 'true' : 'false: refused with SIDEKEY_ERR_CONDITION_FAILED' } : { condition: p.label, result: 'undecidable', detail: `${o.why}: refused with SIDEKEY_ERR_CONDITION_UNDECIDABLE` }
  }
  // What sidekey would refuse before any condition: a query or body that parsers read differently.
  // Explain's --body is JSON, sent as such.
  const ambiguous = ambiguity(route, { path: facts.path, contentType: 'application/json', headers: [], body: bodyText === null ? null : Buffer.from(bodyText), json: input.body })
  if (ambiguous !== null) out.push({ condition: ambiguous.condition, result: 'fail', detail: `${ambiguous.message}: refused with ${ambiguous.code}` })
  if (c?.time) out.push({ condition: 'time', result: c.time.contains(Date.now()) ? 'pass' : 'fail', detail: c.time.text })
  if (c?.maxBodyBytes != null) out.push({ condition: 'max_body_bytes', result: bodyText !== null && Buffer.byteLength(bodyText) > c.maxBodyBytes ? 'fail' : 'pass', detail: `at most ${c.maxBodyBytes} bytes` })
  for (const p of c?.cel ?? []) out.push(cel(p))
  if (c?.rate) out.push({ condition: 'rate', result: 'counted', detail: `${c.rate.requests} per ${c.rate.windowMs / 1000} s per workload` })
  if (c?.quota) out.push({ condition: 'quota', result: 'counted', detail: `${c.quota.requests} per ${c.quota.per} (${c.quota.zone}) per workload` })
  if (route.approval) {
    if (route.approval.when === null) out.push({ condition: 'approval', result: 'holds', detail: 'every request waits for a person' })
    else {
      const r = cel(route.approval.when)
      out.push({ condition: 'approval', result: r.result === 'fail' ? 'no-hold' : r.result === 'needs-body' ? 'needs-body' : 'holds', detail: `when ${route.approval.when.source}${r.result === 'undecidable' ? ' (undecidable, so it holds)' : ''}` })
    }
  }
  return out
}
