import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { CertificateAuthority } from '../ca/authority.js'
import { SidekeyError } from '../errors.js'
import type { RunTokens } from '../identity/run-tokens.js'
import { absoluteTarget } from '../accept/target.js'
import { methodOverride } from '../accept/method-override.js'
import { describeAmbiguity } from '../policy/path.js'
import { decideConnect, explainRequest } from '../policy/decide.js'
import type { PolicyStore } from '../policy/store.js'
import type { RouteTrace } from '../policy/decide.js'
import type { Policy, Route } from '../policy/types.js'
import { isAdmin } from './token.js'
import type { AdminHostCheck } from './host-check.js'
import type { CredentialRuntime } from '../credentials/runtime.js'
import { SIGNING_ALG } from '../credentials/signing-keys.js'
import type { Metrics } from '../observe/metrics.js'
import type { Monitor } from '../observe/monitor.js'
import { APPROVALS_PATHS, approvalsApi, type ApprovalsApiContext } from './approvals-api.js'
import { CONSOLE_HTML } from './console.js'
import { ambiguity } from '../guard/ambiguity.js'
import { celInput } from '../guard/request-guard.js'
import type { CelPredicate } from '../policy/cel.js'
import type { PrivatePaths } from '../sandbox/private-paths.js'

/** What the admin API reads and changes. */
export interface AdminContext extends ApprovalsApiContext {
  readonly policy: PolicyStore
  readonly runTokens: RunTokens
  readonly ca: CertificateAuthority
  readonly adminToken: string
  /** False until the proxy listener is up. */
  ready(): boolean
  /** The proxy listener's host:port, once listening. */
  proxyAddress(): string | null
  /** Signing keys and issuer of minted JWTs. */
  readonly credentials: Pick<CredentialRuntime, 'keys' | 'issuer'>
  readonly metrics: Metrics
  readonly monitor: Monitor
  /** What `sidekey run`'s sandbox must hide from an agent (absolute paths, never contents). */
  privatePaths(): PrivatePaths
  /** The Host names this listener answers to (DNS-rebinding defence). */
  readonly hosts: AdminHostCheck
}

/** Largest admin request body accepted. */
const MAX_BODY = 16 * 1024

/**
 * The admin listener (loopback by default): health, readiness, the loaded routes (never a secret),
 * explain, and run-token registration for `sidekey run`. Calls that change state need the admin
 * token, so an agent that can reach this port still cannot mint itself an identity.
 */
export function createAdminServer(ctx: AdminContext): Server {
  return createServer((req, res) => {
    // The Host check comes before every handler, /healthz and /metrics included: a rebinding
    // page may read anything this listener answers (issue #20, item 12).
    void (async () => {
      ctx.hosts.check(req)
      await route(ctx, req, res)
    })().catch((err: unknown) => {
      const e = err instanceof SidekeyError ? err : new SidekeyError('SIDEKEY_ERR_INTERNAL', 'internal error')
      send(res, e.status, { error: { code: e.code, message: e.message } }, { 'x-sidekey-error': e.code })
    })
  })
}

async function route(ctx: AdminContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin.invalid')
  const method = req.method ?? 'GET'
  const path = url.pathname

  if (method === 'GET' && path === '/healthz') return send(res, 200, { status: 'ok' })
  if (method === 'GET' && path === '/readyz') {
    const ready = ctx.ready()
    // The state store and a refused reload are reported, not required: with the store down only
    // what needs it refuses, and a stale policy is still a whole, valid one (docs/operations.md).
    return send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'starting', routes: ctx.policy.current.routes.length, ca: ctx.ca.certPath, proxy: ctx.proxyAddress(), state: { store: ctx.state.shared ? 'redis' : 'memory', available: ctx.state.available }, policy: policyStatus(ctx.policy) })
  }
  if (method === 'GET' && path === '/v1/routes') {
    const current = ctx.policy.current
    // secret_env lists the names (never values) of sidekey's variables that hold secrets, so
    // `sidekey run` can give the agent placeholders instead.
    return send(res, 200, { routes: current.routes.map(describeRoute), secret_env: current.secretEnvNames, loaded_at: current.loadedAt })
  }
  if (method === 'GET' && path === '/v1/explain') return send(res, 200, explain(ctx.policy.current, url.searchParams))
  // Minted JWTs are verified against these (OpenID Connect Discovery 1.0, RFC 7517).
  if (method === 'GET' && path === '/.well-known/jwks.json') return send(res, 200, await ctx.credentials.keys.jwks())
  if (method === 'GET' && path === '/.well-known/openid-configuration') {
    const issuer = ctx.credentials.issuer
    return send(res, 200, { issuer, jwks_uri: `${issuer}/.well-known/jwks.json`, id_token_signing_alg_values_supported: [SIGNING_ALG], subject_types_supported: ['public'], response_types_supported: ['id_token'] })
  }
  // Prometheus text exposition; label values are bounded and carry no secret.
  if (method === 'GET' && path === '/metrics') {
    res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType })
    res.end(await ctx.metrics.registry.metrics())
    return
  }
  if (method === 'GET' && path === '/v1/workloads') return send(res, 200, { workloads: ctx.monitor.workloads() })
  // The console page holds no data; it asks for the admin token and calls the API with it.
  if (method === 'GET' && (path === '/console' || path === '/console/')) {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
    })
    res.end(CONSOLE_HTML)
    return
  }
  if (method === 'GET' && path === '/v1/ca.pem') {
    res.writeHead(200, { 'content-type': 'application/x-pem-file' })
    res.end(ctx.ca.certPem)
    return
  }

  // Everything below is admin-only (it changes state or lists run tokens). Unknown paths are 404
  // before the token check, so the answer does not depend on holding the token.
  if (!/^\/v1\/(run-tokens(\/[^/]+)?|sandbox|policy\/reload|workloads\/[^/]+\/(quarantine|release))$/.test(path) && !APPROVALS_PATHS.test(path)) throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `no admin endpoint ${method} ${path}`)
  if (!isAdmin(req.headers.authorization, ctx.adminToken)) {
    throw new SidekeyError('SIDEKEY_ERR_ADMIN_UNAUTHORIZED', 'this admin call needs the admin token (Authorization: Bearer, from certs/admin.token)')
  }
  if (await approvalsApi(ctx, method, path, req, res, send, readJson)) return
  if (method === 'GET' && path === '/v1/run-tokens') return send(res, 200, { tokens: ctx.runTokens.list() })
  // Admin-only: where sidekey keeps its secrets is for `sidekey run`, not for whoever reaches the port.
  if (method === 'GET' && path === '/v1/sandbox') return send(res, 200, ctx.privatePaths())
  if (method === 'POST' && path === '/v1/run-tokens') {
    const body = await readJson(req)
    const workload = (body as { workload?: unknown }).workload
    if (typeof workload !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/.test(workload)) {
      throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'workload must be a name of letters, digits, dot, dash or underscore')
    }
    const { token, info } = ctx.runTokens.mint(workload)
    return send(res, 201, { ...info, token })
  }
  const revoke = /^\/v1\/run-tokens\/([0-9a-f-]{36})$/.exec(path)
  if (method === 'DELETE' && revoke) {
    if (!ctx.runTokens.revoke(revoke[1]!)) throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', 'no such run token')
    return send(res, 200, { revoked: revoke[1] })
  }
  const workloadAction = /^\/v1\/workloads\/([a-zA-Z0-9][a-zA-Z0-9_.-]{0,63})\/(quarantine|release)$/.exec(path)
  if (method === 'POST' && workloadAction) {
    const [, workload, action] = workloadAction as unknown as [string, string, 'quarantine' | 'release']
    if (action === 'quarantine') {
      const reason = (await readJson(req) as { reason?: unknown }).reason
      await ctx.monitor.quarantine(workload, typeof reason === 'string' && reason !== '' ? reason.slice(0, 200) : 'quarantined by an admin', 'admin')
      return send(res, 200, { workload, quarantined: true })
    }
    const released = await ctx.monitor.release(workload, 'admin')
    if (!released) throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `workload "${workload}" is neither quarantined nor throttled`)
    return send(res, 200, { workload, released: true })
  }
  if (method === 'POST' && path === '/v1/policy/reload') {
    const ok = await ctx.policy.reload()
    return send(res, ok ? 200 : 422, { reloaded: ok, routes: ctx.policy.current.routes.length })
  }
  throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `no admin endpoint ${method} ${path}`)
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

/** Explain what would happen to METHOD URL for a workload. Shared by the admin API and the CLI. */
export function explain(policy: Policy, params: URLSearchParams): ExplainAnswer {
  const method = (params.get('method') ?? 'GET').toUpperCase()
  const rawUrl = params.get('url')
  const workload = params.get('workload')
  if (rawUrl === null || !/^(https?|wss?):\/\//i.test(rawUrl)) throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'explain needs url=http(s)://host/path')
  // The same parsing and normalisation as the proxy (a WebSocket URL is decided as its HTTP request).
  const target = absoluteTarget(rawUrl.replace(/^ws/i, 'http'))
  const override = methodOverride([], target.path)
  const facts = { workload: workload === null || workload === '' ? null : workload, host: target.host, port: target.port, method, path: target.pathname, ambiguity: target.ambiguity, override }
  const { decision, trace } = explainRequest(policy, facts)
  const connect = target.scheme === 'https' ? decideConnect(policy, facts) : null
  return {
    request: { method, host: target.host, port: target.port, path: target.pathname, workload: facts.workload, ambiguity: target.ambiguity && describeAmbiguity(target.ambiguity, `${target.host}:${target.port}`), method_override: override?.method ?? null },
    connect: connect && { action: connect.action, reason: connect.reason, route: connect.route?.name ?? null },
    decision: { action: decision.action, reason: decision.reason, route: decision.route?.name ?? null, code: decision.code },
    credential: decision.action === 'allow' && decision.route?.credential ? decision.route.credential.name : null,
    conditions: decision.action === 'allow' && decision.route !== null ? explainConditions(decision.route, { ...facts, method: override?.method ?? method, path: target.path }, params.get('body')) : [],
    trace,
  }
}

/**
 * What each condition of `route` says about the request: the time window is read now, CEL is
 * evaluated against `body` (JSON text) when given, counters are only named (explain counts nothing).
 */
function explainConditions(route: Route, facts: { workload: string | null; host: string; port: number; method: string; path: string }, bodyText: string | null): ExplainAnswer['conditions'] {
  const out: ExplainAnswer['conditions'] = []
  const c = route.conditions
  const pathname = facts.path.split('?')[0]!
  const input = celInput({ workload: facts.workload, host: facts.host, port: facts.port, method: facts.method, pathname, path: facts.path, rawHeaders: [] }, bodyText === null ? null : Buffer.from(bodyText))
  const cel = (p: CelPredicate): ExplainAnswer['conditions'][number] => {
    if (p.usesBody && bodyText === null) return { condition: p.label, result: 'needs-body', detail: 'reads the body: pass --body JSON to evaluate it' }
    const o = p.evaluate(input)
    return o.ok ? { condition: p.label, result: o.value ? 'pass' : 'fail', detail: o.value ? 'true' : 'false: refused with SIDEKEY_ERR_CONDITION_FAILED' } : { condition: p.label, result: 'undecidable', detail: `${o.why}: refused with SIDEKEY_ERR_CONDITION_UNDECIDABLE` }
  }
  // What sidekey would refuse before any condition: a query or body that parsers read differently.
  const ambiguous = ambiguity(route, { path: facts.path, contentType: undefined, body: bodyText === null ? null : Buffer.from(bodyText), json: input.body })
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

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2)
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers })
  res.end(text)
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let size = 0
  const chunks: Buffer[] = []
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'admin request body too large')
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
  } catch {
    throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'admin request body is not JSON')
  }
}
