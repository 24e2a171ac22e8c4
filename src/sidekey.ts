// First: see warm-up.ts.
import './warm-up.js'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo, Server as NetServer, Socket } from 'node:net'
import type { Logger } from 'pino'
import { createAdminServer, createHealthServer, createMetricsServer } from './admin/server.js'
import { AdminHostCheck } from './admin/host-check.js'
import { loadOrCreateAdminToken } from './admin/token.js'
import { closeOnChange } from './accept/close-on-change.js'
import { Connections } from './accept/connections.js'
import { drainConnections, type DrainOutcome } from './accept/drain.js'
import { createProxyServers, type TransparentServer } from './accept/server.js'
import type { ProxyContext } from './pipeline/context.js'
import { entryHandlers } from './pipeline/handlers.js'
import { loadOrCreateCA, systemRootsPem, writeTrustFiles, type CertificateAuthority } from './ca/authority.js'
import { CA_FILES } from './ca/files.js'
import { importCa } from './ca/import.js'
import { LeafCache } from './ca/cache.js'
import { ANY_ADDRESS, dialableHost, type Config } from './config.js'
import { SidekeyError } from './errors.js'
import { cachingResolver } from './forward/dns-cache.js'
import { systemResolver, type Resolver } from './forward/ssrf.js'
import { UpgradeRelay } from './forward/upgrade.js'
import { UpstreamPools } from './forward/upstream.js'
import { RunTokens } from './identity/run-tokens.js'
import { createCredentialRuntime, type CredentialRuntime } from './credentials/runtime.js'
import { createLogger } from './observe/logger.js'
import { PolicyStore } from './policy/store.js'
import { join } from 'node:path'
import { Throttle } from './guard/throttle.js'
import { Activity } from './observe/activity.js'
import { AlertSender } from './observe/alerts.js'
import { Metrics } from './observe/metrics.js'
import { Monitor } from './observe/monitor.js'
import { MemoryStore, type StateStore } from './state/store.js'
import { loadStateSettings, MEMORY_STATE } from './state/config.js'
import { Approvals } from './approvals/approvals.js'
import { EventHub, summarizeDecision } from './observe/events.js'
import { outcomeOf } from './observe/outcome.js'
import { SecretScanner } from './guard/secret-scan.js'
import { learnStaticSecrets } from './guard/learn-secrets.js'
import { DenialQuarantine } from './approvals/denial-quarantine.js'
import { McpSessions } from './mcp/sessions.js'
import { BodyBudget } from './guard/body-budget.js'
import { OpenedResources, type CloseFailure } from './opened-resources.js'
import { formatAuthority } from './policy/host.js'
import { privatePaths, type PrivatePaths } from './sandbox/private-paths.js'

/** A running sidekey: its addresses and parts, and how to stop it. */
export interface RunningSidekey {
  readonly proxyUrl: string
  readonly proxyPort: number
  readonly adminUrl: string
  readonly ca: CertificateAuthority
  readonly policy: PolicyStore
  readonly runTokens: RunTokens
  readonly adminToken: string
  readonly leaves: LeafCache
  readonly credentials: CredentialRuntime
  readonly monitor: Monitor
  readonly metrics: Metrics
  readonly log: Logger
  readonly state: StateStore
  /** The client connections open now (limits; closed when a token is revoked, a workload quarantined, a route removed). */
  readonly connections: Connections
  /** What request bodies being read whole hold now, per workload and in total. */
  readonly bodies: BodyBudget
  /** Bound ports of the first transparent HTTP and TLS listeners, when configured. */
  readonly transparentHttpPort: number | null
  readonly transparentHttpsPort: number | null
  /** What `sidekey run`'s sandbox hides from the agent, from the configuration and policy in force. */
  privatePaths(): PrivatePaths
  /** Serve a connection accepted elsewhere (the sandbox's Unix socket) as the proxy listener would. */
  acceptProxyConnection(socket: Socket): void
  /** Graceful shutdown's first part (see accept/drain.ts): not ready, refuse new connections, let those in flight finish; `close` follows. */
  drain(timeoutMs: number): Promise<DrainOutcome>
  close(): Promise<void>
}

/** Things tests and embedders may replace. */
export interface StartOptions {
  logger?: Logger
  resolver?: Resolver
  /** The monitor's clock (baselines, windows, throttles); tests drive hours of traffic with it. */
  now?: () => number
  /** What POST /v1/shutdown on the admin listener does (`--shutdown-endpoint`); without it the path is no endpoint. */
  onShutdownRequest?: (() => void) | undefined
  /** The file the log is written to (`--log`), when not standard output: hidden from sandboxed agents. */
  logFile?: string | null
}

/** File in the certs directory where learned baselines persist across restarts. */
export const BASELINES_FILE = 'baselines.json'

/**
 * Start sidekey: load (or create) the CA and admin token, load policy (refusing to start on a
 * broken one), then open the proxy and admin listeners. A step that fails closes everything the
 * steps before it opened (listeners, Redis connections, the policy watcher, timers) before the
 * error is thrown, so a refused start leaves nothing behind that keeps the process alive.
 */
export async function startSidekey(config: Config, options: StartOptions = {}): Promise<RunningSidekey> {
  const log = options.logger ?? createLogger()
  const opened = new OpenedResources()
  try {
    return await openSidekey(config, options, log, opened)
  } catch (err) {
    reportCloseFailures(log, await opened.closeAll())
    throw err
  }
}

/** The wiring: each step registers in `opened` how to close what it opened, as it opens it. */
async function openSidekey(config: Config, options: StartOptions, log: Logger, opened: OpenedResources): Promise<RunningSidekey> {
  if (config.caFromDir !== null) await importCa(config.caFromDir, config.certsDir)
  const { ca, created } = await loadOrCreateCA(config.certsDir)
  if (created) log.info({ event: 'ca_created', cert: ca.certPath }, 'created a new CA; agents must trust its certificate')
  if (config.publishCaDir !== null) await publishCa(ca, config.publishCaDir)
  const adminToken = await loadOrCreateAdminToken(config.certsDir)
  const upstreamCa = await upstreamTrust(config)
  const now = options.now ?? Date.now
  const metrics = new Metrics()
  const stateSettings = config.statePath === null ? MEMORY_STATE : await loadStateSettings(config.statePath)
  // The Redis client is loaded only when the state file names Redis.
  const state: StateStore = stateSettings.redis === null ? new MemoryStore(now) : await (await import('./state/redis-store.js')).RedisStore.open(stateSettings.redis, log, (op) => metrics.stateErrors.inc({ op }))
  opened.add('the state store', () => state.close())
  metrics.stateAvailable = () => state.available
  if (stateSettings.redis?.unauthenticated === true) log.warn({ event: 'state_unauthenticated' }, 'the shared state store is used without a password or client certificate (redis.allow_unauthenticated): any process that reaches Redis can approve requests and lift quarantines for every workload')
  if (state.shared && stateSettings.signingKeysKey === null) log.warn({ event: 'signing_keys_per_replica' }, 'shared state without signing_keys.encryption_key_file: each replica signs minted JWTs with its own keys and serves its own JWKS, and delegated OAuth grants cannot be kept (connecting one is refused)')
  // Identity providers are trusted like upstreams: system roots plus --upstream-ca.
  const resolver = options.resolver ?? cachingResolver(systemResolver)
  const credentials = createCredentialRuntime({
    certsDir: config.certsDir,
    issuer: config.issuer ?? '',
    ca: upstreamCa,
    resolver,
    sharedKeys: stateSettings.signingKeysKey === null ? null : { store: state, key: stateSettings.signingKeysKey },
    state,
  })
  opened.add('the credential runtime', () => credentials.close())
  const policy = await PolicyStore.open(config.policyPath, log, credentials)
  opened.add('the policy store', () => policy.close())
  if (config.watchPolicy) await policy.watch()
  metrics.policyStatus = () => ({ loadedAt: policy.current.loadedAt, stale: policy.failure !== null })
  policy.onReloadFailure((failure) => metrics.policyReloadFailures.inc({ reason: failure.reason }))

  const pools = new UpstreamPools({
    ca: upstreamCa,
    connectTimeoutMs: config.connectTimeoutMs,
    headersTimeoutMs: config.headersTimeoutMs,
    bodyTimeoutMs: config.bodyTimeoutMs,
    // Reported for the connection, not a request (the answer before it was whole, as framed): this
    // line is where it shows. The host may come from an agent's request under a wildcard route, so
    // it is masked like the audit line's.
    onBrokenConnection: ({ host, address, port, why }) =>
      log.warn({ event: 'upstream_broken_connection', host: scanner.mask(host), address, port, why: scanner.mask(why) }, 'an HTTP/1.1 upstream sent what no request asked for (or bytes that are not HTTP): its connection was dropped, nothing of it reached an agent'),
  })
  opened.add('the upstream pools', () => pools.close())
  const leaves = new LeafCache(ca)
  const runTokens = new RunTokens()
  const upgrades = new UpgradeRelay()
  opened.add('the upgrade relay', () => upgrades.close())
  const throttle = new Throttle(now)
  const scanner = new SecretScanner()
  await learnStaticSecrets(policy, scanner)
  const alerts = new AlertSender(log, () => metrics.alertFailures.inc(), undefined, (json) => scanner.mask(json))
  opened.add('grant alerts', credentials.grants.onAttention((alert) => {
    log.warn({ ...alert }, `delegated grant "${alert.credential}" needs a person to connect it again`)
    alerts.send(alert, policy.current.monitoring.webhook)
  }))
  const activity = new Activity(now)
  const monitor = new Monitor({ policy, state, throttle, metrics, alerts, log, file: join(config.certsDir, BASELINES_FILE), now, onAnomaly: (workload, kind) => activity.anomaly(workload, kind) })
  await monitor.start()
  opened.add('the monitor', () => monitor.close())
  const events = new EventHub()
  opened.add('the event hub', () => events.removeAllListeners())
  const denials = new DenialQuarantine({
    limit: () => policy.current.approvals.quarantineAfterDenials,
    now,
    state,
    quarantine: (workload, reason) => void monitor.quarantine(workload, reason, 'approvals'),
    onStoreError: (workload, err) => log.error({ event: 'state_unavailable', op: 'denials', workload, err: err.message }, 'a denial was counted toward quarantine_after_denials on this replica only'),
  })
  const approvals = new Approvals({
    state,
    log,
    alerts,
    now,
    settings: () => policy.current.approvals,
    onHeld: (n) => metrics.approvalsPending.set(n),
    onDenied: (workload) => void denials.denied(workload),
  })
  opened.add('the approvals', () => approvals.close())
  opened.add('the approvals metric', state.onApproval((r) => {
    if (r.status !== 'pending') metrics.approvals.inc({ status: r.status })
  }))
  // The gauge follows the store, so quarantines made or lifted by other replicas count too.
  opened.add('the quarantine gauge', state.onQuarantineChange(() => metrics.quarantined.set(state.listQuarantined().length)))
  const connections = new Connections(config)
  const ctx: ProxyContext = {
    config,
    log,
    policy,
    runTokens,
    pools,
    upgrades,
    resolver,
    upstreamCa,
    state,
    throttle,
    scanner,
    observe: (record) => {
      // Worked out once for the metrics, the console's activity and its live events.
      const outcome = outcomeOf(record)
      monitor.observe(record, outcome)
      activity.observe(record, outcome)
      const summary = summarizeDecision(record, outcome)
      state.recordDecision(summary)
      events.emit('decision', summary)
    },
    approvals,
    bodies: new BodyBudget(config.maxBufferedBodyBytes),
    mcpSessions: new McpSessions(state, log, now),
    connections,
    now,
  }
  const { proxy, inner, innerH2, transparent } = createProxyServers({ config, leaves, connections, handlers: entryHandlers(ctx) })
  // Tunnels first: a listener's close waits for every connection it accepted, and a CONNECT
  // tunnel is one the HTTP server no longer closes itself. Servers that never listened close at once.
  opened.add('the proxy listeners', async () => {
    connections.closeAll()
    await Promise.all([closeServer(proxy), closeServer(inner), closeServer(innerH2), ...transparent.map((t) => closeServer(t.server))])
  })
  opened.add('closing connections on change', closeOnChange(connections, { runTokens, state, policy, log }))
  metrics.openConnections = () => connections.size

  let ready = false
  let closing: Promise<void> | null = null
  let proxyAddress: string | null = null
  const currentPrivatePaths = (): PrivatePaths => privatePaths(config, policy.current, stateSettings, options.logFile ?? null)
  // The admin listener answers to loopback names, its own address, the issuer's host and --admin-hosts.
  const hosts = new AdminHostCheck([config.admin.host, ...(config.issuer === null ? [] : [new URL(config.issuer).hostname]), ...config.adminHosts], log)
  const adminContext = { policy, runTokens, ca, adminToken, ready: () => ready, proxyAddress: () => proxyAddress, credentials, metrics, monitor, approvals, state, events, activity, privatePaths: currentPrivatePaths, hosts, dial: { resolver: ctx.resolver, connectTo: config.connectTo }, requestShutdown: options.onShutdownRequest ?? null }
  const admin = createAdminServer(adminContext)
  opened.add('the admin listener', () => closeServer(admin))
  // Health and metrics on listeners of their own (the pod IP), so the admin API can stay on loopback.
  const health = config.health === null ? null : createHealthServer(adminContext)
  const metricsServer = config.metrics === null ? null : createMetricsServer(adminContext)
  for (const server of [health, metricsServer]) if (server !== null) opened.add('a health or metrics listener', () => closeServer(server))
  await listen(proxy, config.listen, 'the proxy')
  await listen(admin, config.admin, 'the admin API')
  for (const t of transparent) await listen(t.server, t.listener.listen, `transparent ${t.tls ? 'HTTPS' : 'HTTP'} (port ${t.listener.from})`)
  if (health !== null) await listen(health, config.health!, 'health probes')
  if (metricsServer !== null) await listen(metricsServer, config.metrics!, 'metrics')
  ready = true
  opened.add('readiness', () => {
    ready = false
  })
  const proxyPort = (proxy.address() as AddressInfo).port
  const adminPort = (admin.address() as AddressInfo).port
  proxyAddress = formatAuthority({ host: config.listen.host, port: proxyPort })
  // Where a client on this host calls the admin listener, by a name it answers to.
  const adminBase = `http://${dialableHost(config.admin.host)}:${adminPort}`
  credentials.issuer = config.issuer ?? adminBase
  log.info({ event: 'started', proxy: proxyAddress, admin: formatAuthority({ host: config.admin.host, port: adminPort }), routes: policy.current.routes.length, report_only: config.reportOnly, ...(transparent.length > 0 ? { transparent: transparent.map((t) => ({ port: t.listener.from, tls: t.tls, listen: t.server.address() })) } : {}) }, 'sidekey started')

  return {
    proxyUrl: `http://${proxyAddress}`,
    proxyPort,
    adminUrl: adminBase,
    ca,
    policy,
    runTokens,
    adminToken,
    leaves,
    credentials,
    monitor,
    metrics,
    log,
    state,
    connections,
    bodies: ctx.bodies,
    transparentHttpPort: transparentPort(transparent, false),
    transparentHttpsPort: transparentPort(transparent, true),
    privatePaths: currentPrivatePaths,
    // The same server, so identification (the run token in Proxy-Authorization) and every stage
    // after it are the listener's own; only the transport differs.
    acceptProxyConnection: (socket) => void proxy.emit('connection', socket),
    drain(timeoutMs) {
      ready = false
      return drainConnections([proxy, ...transparent.map((t) => t.server)], connections, timeoutMs)
    },
    // Idempotent: a second call waits for the first instead of closing twice.
    close() {
      closing ??= opened.closeAll().then((failures) => {
        reportCloseFailures(log, failures)
        if (failures.length > 0) throw failures[0]!.error
      })
      return closing
    },
  }
}

function transparentPort(servers: readonly TransparentServer[], tls: boolean): number | null {
  const first = servers.find((t) => t.tls === tls)
  return first === undefined ? null : (first.server.address() as AddressInfo).port
}

/** System roots plus --upstream-ca: what upstreams and identity providers are trusted by. */
async function upstreamTrust(config: Config): Promise<string[]> {
  const roots = [await systemRootsPem()]
  if (config.upstreamCaFile === null) return roots
  try {
    return [...roots, await readFile(config.upstreamCaFile, 'utf8')]
  } catch (cause) {
    throw new SidekeyError('SIDEKEY_ERR_CONFIG', `cannot read --upstream-ca ${config.upstreamCaFile}`, { cause })
  }
}

function reportCloseFailures(log: Logger, failures: readonly CloseFailure[]): void {
  for (const { what, error } of failures) log.error({ event: 'close_failed', what, err: (error as Error).message }, `could not close ${what}`)
}

/** Why a listener could not open, in words, for the codes an operator can act on. */
const LISTEN_ERRORS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address in use',
  EADDRNOTAVAIL: 'no such address on this host',
  EACCES: 'permission denied',
}

function listen(server: Server | NetServer, at: { host: string; port: number }, purpose: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const words = err.code === undefined ? undefined : LISTEN_ERRORS[err.code]
      const why = words === undefined ? (err.code ?? err.message) : `${words} (${err.code})`
      reject(new SidekeyError('SIDEKEY_ERR_CONFIG', `cannot listen on ${formatAuthority(at)} for ${purpose}: ${why}`, { cause: err }))
    })
    // `*`: Node's own choice of every address, `::` (which takes IPv4 too) where the host has IPv6,
    // else 0.0.0.0, so one setting serves IPv4-only, dual-stack and IPv6-only clusters.
    if (at.host === ANY_ADDRESS) server.listen(at.port, () => resolve())
    else server.listen(at.port, at.host, () => resolve())
  })
}

/** Stop accepting and wait until the server's connections are gone (an HTTP server's are cut now). */
function closeServer(server: Server | NetServer): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    if ('closeAllConnections' in server) server.closeAllConnections()
  })
}

/**
 * Write the CA certificate and the trust files (the bundle of system roots plus the CA, the Java
 * trust store `truststore.p12`, a wgetrc) where the agent can read them: in a pod, an emptyDir the
 * agent mounts read-only, so it never sees the CA key or the admin token beside them in the certs
 * directory.
 */
async function publishCa(ca: CertificateAuthority, dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, CA_FILES.cert), ca.certPem, { mode: 0o644 })
    await writeTrustFiles(dir, ca.certPem)
  } catch (cause) {
    throw new SidekeyError('SIDEKEY_ERR_CONFIG', `cannot publish the CA certificate into --publish-ca ${dir} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause })
  }
}
