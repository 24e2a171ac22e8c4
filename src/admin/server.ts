import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { CertificateAuthority } from '../ca/authority.js'
import { SidekeyError } from '../errors.js'
import type { RunTokens } from '../identity/run-tokens.js'
import { parseAuthority } from '../policy/host.js'
import { decideConnect, explainRequest } from '../policy/decide.js'
import type { PolicyStore } from '../policy/store.js'
import type { RouteTrace } from '../policy/decide.js'
import type { Policy, Route } from '../policy/types.js'
import { isAdmin } from './token.js'
import type { CredentialRuntime } from '../credentials/runtime.js'
import { SIGNING_ALG } from '../credentials/signing-keys.js'
import type { Metrics } from '../observe/metrics.js'
import type { Monitor } from '../observe/monitor.js'

/** What the admin API reads and changes. */
export interface AdminContext {
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
    void route(ctx, req, res).catch((err: unknown) => {
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
    return send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'starting', routes: ctx.policy.current.routes.length, ca: ctx.ca.certPath, proxy: ctx.proxyAddress() })
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
  if (method === 'GET' && path === '/v1/ca.pem') {
    res.writeHead(200, { 'content-type': 'application/x-pem-file' })
    res.end(ctx.ca.certPem)
    return
  }

  // Everything below is admin-only (it changes state or lists run tokens). Unknown paths are 404
  // before the token check, so the answer does not depend on holding the token.
  if (!/^\/v1\/(run-tokens(\/[^/]+)?|policy\/reload|workloads\/[^/]+\/(quarantine|release))$/.test(path)) throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `no admin endpoint ${method} ${path}`)
  if (!isAdmin(req.headers.authorization, ctx.adminToken)) {
    throw new SidekeyError('SIDEKEY_ERR_ADMIN_UNAUTHORIZED', 'this admin call needs the admin token (Authorization: Bearer, from certs/admin.token)')
  }
  if (method === 'GET' && path === '/v1/run-tokens') return send(res, 200, { tokens: ctx.runTokens.list() })
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

/** A route as the admin API and `sidekey explain` show it: where it was written, what it matches, never a secret. */
export function describeRoute(r: Route): Record<string, unknown> {
  return {
    name: r.name,
    at: `${r.file}:${r.line}`,
    match: [r.host.explain(), r.ports.explain(), r.methods.explain(), r.paths.explain(), r.workloads.explain()],
    action: r.action,
    credential: r.credential === null ? null : { name: r.credential.name, type: r.credential.type },
    inject: r.injection === null ? null : r.injection.kind === 'basic' ? { basic: true } : { [r.injection.kind]: r.injection.name, value: r.injection.value.source },
    strip: r.strip,
  }
}

/** The answer of explain, for the admin API (JSON) and the CLI (text). */
export interface ExplainAnswer {
  request: { method: string; host: string; port: number; path: string; workload: string | null }
  connect: { action: string; reason: string; route: string | null } | null
  decision: { action: string; reason: string; route: string | null; code: string | null }
  credential: string | null
  trace: RouteTrace[]
}

/** Explain what would happen to METHOD URL for a workload. Shared by the admin API and the CLI. */
export function explain(policy: Policy, params: URLSearchParams): ExplainAnswer {
  const method = (params.get('method') ?? 'GET').toUpperCase()
  const rawUrl = params.get('url')
  const workload = params.get('workload')
  let url: URL
  try {
    url = new URL(rawUrl ?? '')
  } catch {
    throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'explain needs url=http(s)://host/path')
  }
  const scheme = url.protocol === 'https:' || url.protocol === 'wss:' ? 'https' : 'http'
  const authority = parseAuthority(url.host, scheme === 'https' ? 443 : 80)
  if (authority === null) throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the url names no valid host')
  const facts = { workload: workload === null || workload === '' ? null : workload, host: authority.host, port: authority.port, method, path: url.pathname }
  const { decision, trace } = explainRequest(policy, facts)
  const connect = scheme === 'https' ? decideConnect(policy, facts) : null
  return {
    request: { method, host: authority.host, port: authority.port, path: url.pathname, workload: facts.workload },
    connect: connect && { action: connect.action, reason: connect.reason, route: connect.route?.name ?? null },
    decision: { action: decision.action, reason: decision.reason, route: decision.route?.name ?? null, code: decision.code },
    credential: decision.action === 'allow' && decision.route?.credential ? decision.route.credential.name : null,
    trace,
  }
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
