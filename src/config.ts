import { SidekeyError } from './errors.js'
import { workloadNameProblem } from './identity/workload-name.js'
import { normalizeHost, parseAuthority, type Authority } from './policy/host.js'

/** Runtime settings of one sidekey process (not policy: policy is YAML and hot-reloads). */
export interface Config {
  /** Proxy listener. */
  readonly listen: { readonly host: string; readonly port: number }
  /** Admin listener (health, routes, explain, run tokens). Loopback by default. */
  readonly admin: { readonly host: string; readonly port: number }
  /**
   * Host names (or addresses) the admin listener answers to besides loopback names, its own
   * address and the issuer's host: the pod IP or a Service name a scraper uses (DNS rebinding).
   */
  readonly adminHosts: readonly string[]
  readonly policyPath: string
  readonly certsDir: string
  /** The workload a caller without a run token is (a sidecar serves exactly one); null: anonymous. */
  readonly workload: string | null
  /** Log what enforcement would refuse, but forward (without credentials). */
  readonly reportOnly: boolean
  /** Extra PEM bundle trusted for upstream TLS, besides the system roots. */
  readonly upstreamCaFile: string | null
  /** `host:port` -> where to connect instead (like curl --connect-to); the SSRF guard still applies. */
  readonly connectTo: ReadonlyMap<string, Authority>
  readonly connectTimeoutMs: number
  readonly headersTimeoutMs: number
  readonly bodyTimeoutMs: number
  /** Largest request head accepted, in bytes (bigger: 431). */
  readonly maxHeaderSize: number
  /** Most header fields in one request (more: 431); a request is forwarded whole or not at all. */
  readonly maxHeaderCount: number
  /** Open client connections, all listeners together; connections not yet identified count too. */
  readonly maxConnections: number
  /** Open client connections of one workload (callers without a run token count as `anonymous`). */
  readonly maxConnectionsPerWorkload: number
  /** A request head (or a TLS ClientHello, or the first byte after CONNECT) must be complete within this. */
  readonly headTimeoutMs: number
  /** A keep-alive connection (plain, or an intercepted tunnel) idle between requests is closed after this. */
  readonly idleTimeoutMs: number
  /** A blind tunnel or an upgraded connection with no byte either way for this long is closed. */
  readonly tunnelIdleTimeoutMs: number
  /** Watch policy files and reload on change. */
  readonly watchPolicy: boolean
  /** Issuer URL of minted JWTs; default: the admin listener's URL, where the JWKS is served. */
  readonly issuer: string | null
  /** State file (`state.yaml`: memory or Redis); null: in memory, one process. */
  readonly statePath: string | null
  /** Transparent mode: listeners for connections iptables redirected from ports 80 and 443 (null: off). */
  readonly transparentHttp: { readonly host: string; readonly port: number } | null
  readonly transparentHttps: { readonly host: string; readonly port: number } | null
  /** Directory to copy the public CA certificate and trust bundle into (the agent's read-only mount); null: none. */
  readonly publishCaDir: string | null
  /**
   * Directory holding ca.pem and ca-key.pem to copy into `certsDir` at start (a mounted Secret,
   * whose files are root-owned and readable by all); null: the CA in `certsDir`, or a new one.
   */
  readonly caFromDir: string | null
  /** Health-only listener (/healthz, /readyz) for the kubelet's httpGet probes; null: none. */
  readonly health: { readonly host: string; readonly port: number } | null
  /** Metrics-only listener (/metrics) for Prometheus; null: none (the admin listener still serves /metrics). */
  readonly metrics: { readonly host: string; readonly port: number } | null
  /** On SIGTERM, how long requests and streams in flight may take to finish before they are cut. */
  readonly drainTimeoutMs: number
  /** Serve POST /v1/shutdown on the admin listener (loopback): a Job's agent stops a plain sidecar when it is done. */
  readonly shutdownEndpoint: boolean
}

/** Defaults, in one place (fastify keeps one defaults object too). */
export const DEFAULTS: Config = Object.freeze({
  listen: { host: '127.0.0.1', port: 3128 },
  admin: { host: '127.0.0.1', port: 3129 },
  adminHosts: [],
  policyPath: 'policies',
  certsDir: 'certs',
  workload: null,
  reportOnly: false,
  upstreamCaFile: null,
  connectTo: new Map(),
  connectTimeoutMs: 10_000,
  headersTimeoutMs: 120_000,
  bodyTimeoutMs: 300_000,
  maxHeaderSize: 16 * 1024,
  // Apache httpd's LimitRequestFields; well under what common upstreams keep (Node keeps about 1,000).
  maxHeaderCount: 100,
  maxConnections: 1024,
  maxConnectionsPerWorkload: 256,
  headTimeoutMs: 20_000,
  idleTimeoutMs: 60_000,
  tunnelIdleTimeoutMs: 600_000,
  watchPolicy: true,
  issuer: null,
  statePath: null,
  transparentHttp: null,
  transparentHttps: null,
  publishCaDir: null,
  caFromDir: null,
  health: null,
  metrics: null,
  // Kubernetes' default terminationGracePeriodSeconds is 30: drain, then close and flush the log.
  drainTimeoutMs: 25_000,
  shutdownEndpoint: false,
})

/**
 * The address a client dials to reach a listener bound to `host`, bracketed for a URL when IPv6:
 * loopback for a wildcard bind (0.0.0.0, ::), which is no address to call, nor a Host name the
 * admin listener answers to.
 */
export function dialableHost(host: string): string {
  const dial = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host
  return dial.includes(':') ? `[${dial}]` : dial
}

/** Flags `sidekey start` takes, with the environment variable that sets each. */
export const SETTINGS = [
  { flag: '--listen', env: 'SIDEKEY_LISTEN', help: 'proxy address host:port (default 127.0.0.1:3128)' },
  { flag: '--admin', env: 'SIDEKEY_ADMIN', help: 'admin address host:port (default 127.0.0.1:3129)' },
  { flag: '--admin-hosts', env: 'SIDEKEY_ADMIN_HOSTS', help: 'more Host names the admin listener answers to, comma separated (default: loopback only)' },
  { flag: '--policies', env: 'SIDEKEY_POLICIES', help: 'policy directory or file (default policies)' },
  { flag: '--certs', env: 'SIDEKEY_CERTS', help: 'directory for the CA and admin token (default certs)' },
  { flag: '--workload', env: 'SIDEKEY_WORKLOAD', help: 'workload of callers without a run token (sidecar identity)' },
  { flag: '--report-only', env: 'SIDEKEY_REPORT_ONLY', help: 'log refusals but forward without credentials (rollout)' },
  { flag: '--upstream-ca', env: 'SIDEKEY_UPSTREAM_CA', help: 'extra PEM bundle trusted for upstream TLS' },
  { flag: '--connect-to', env: 'SIDEKEY_CONNECT_TO', help: 'HOST:PORT:ADDR:PORT, comma separated: dial ADDR:PORT for HOST:PORT' },
  { flag: '--upstream-timeout', env: 'SIDEKEY_UPSTREAM_TIMEOUT_MS', help: 'ms to wait for upstream response headers (default 120000)' },
  { flag: '--max-header-size', env: 'SIDEKEY_MAX_HEADER_SIZE', help: 'largest request head in bytes (default 16384)' },
  { flag: '--max-headers', env: 'SIDEKEY_MAX_HEADERS', help: 'most header fields in one request (default 100)' },
  { flag: '--max-connections', env: 'SIDEKEY_MAX_CONNECTIONS', help: 'open client connections in total (default 1024)' },
  { flag: '--max-connections-per-workload', env: 'SIDEKEY_MAX_CONNECTIONS_PER_WORKLOAD', help: 'open client connections of one workload (default 256)' },
  { flag: '--head-timeout', env: 'SIDEKEY_HEAD_TIMEOUT_MS', help: 'ms for a request head (or ClientHello) to arrive whole (default 20000)' },
  { flag: '--idle-timeout', env: 'SIDEKEY_IDLE_TIMEOUT_MS', help: 'ms a keep-alive connection or intercepted tunnel may idle between requests (default 60000)' },
  { flag: '--tunnel-idle-timeout', env: 'SIDEKEY_TUNNEL_IDLE_TIMEOUT_MS', help: 'ms a blind tunnel or WebSocket may carry no byte (default 600000)' },
  { flag: '--issuer', env: 'SIDEKEY_ISSUER', help: 'issuer URL of minted JWTs (default: the admin URL, which serves the JWKS)' },
  { flag: '--state', env: 'SIDEKEY_STATE', help: 'state file (YAML): shared state in Redis for many replicas (default: in memory)' },
  { flag: '--transparent-http', env: 'SIDEKEY_TRANSPARENT_HTTP', help: 'host:port for connections redirected from port 80 (transparent mode; off by default)' },
  { flag: '--publish-ca', env: 'SIDEKEY_PUBLISH_CA', help: 'directory to copy ca.pem and bundle.pem into for the agent (never the key)' },
  { flag: '--transparent-https', env: 'SIDEKEY_TRANSPARENT_HTTPS', help: 'host:port for connections redirected from port 443 (transparent mode; off by default)' },
  { flag: '--ca-from', env: 'SIDEKEY_CA_FROM', help: 'directory with ca.pem and ca-key.pem (a mounted Secret) to copy into --certs, key mode 0600, at start' },
  { flag: '--health', env: 'SIDEKEY_HEALTH', help: 'host:port serving only /healthz and /readyz (kubelet probes; off by default)' },
  { flag: '--metrics', env: 'SIDEKEY_METRICS', help: 'host:port serving only /metrics (Prometheus; off by default)' },
  { flag: '--shutdown-endpoint', env: 'SIDEKEY_SHUTDOWN_ENDPOINT', help: 'serve POST /v1/shutdown on the admin listener: drain and exit (a Job\'s agent stops a plain sidecar)' },
  { flag: '--drain-timeout', env: 'SIDEKEY_DRAIN_TIMEOUT_MS', help: 'ms that requests and streams in flight get to finish after SIGTERM (default 25000)' },
] as const

/**
 * Build a frozen Config from flags (which win) and environment variables. Every problem is
 * reported at once, as SIDEKEY_ERR_CONFIG.
 */
export function configFrom(flags: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = []
  const get = (flag: string): string | undefined => {
    const setting = SETTINGS.find((s) => s.flag === flag)!
    const v = flags[flag.slice(2)]
    if (typeof v === 'string') return v
    if (v === true) return 'true'
    return env[setting.env]
  }
  const address = (flag: string, fallback: { host: string; port: number }): { host: string; port: number } => {
    const raw = get(flag)
    if (raw === undefined) return fallback
    const m = /^(?:(.*):)?([0-9]{1,5})$/.exec(raw)
    if (m === null || Number(m[2]) > 65535) {
      problems.push(`${flag}: "${raw}" is not host:port`)
      return fallback
    }
    return { host: (m[1] ?? fallback.host).replace(/^\[(.*)\]$/, '$1') || fallback.host, port: Number(m[2]) }
  }
  const int = (flag: string, fallback: number): number => {
    const raw = get(flag)
    if (raw === undefined) return fallback
    if (!/^[0-9]+$/.test(raw)) problems.push(`${flag}: "${raw}" is not a whole number`)
    return Number(raw)
  }
  // A limit or timeout of 0 would refuse everything (or, for a timeout, never fire): refused.
  const positive = (flag: string, fallback: number): number => {
    const n = int(flag, fallback)
    if (n === 0) problems.push(`${flag}: must be at least 1`)
    return n
  }
  const connectTo = new Map<string, Authority>()
  for (const entry of (get('--connect-to') ?? '').split(',').filter(Boolean)) {
    const m = /^(.+):([0-9]+):(.+):([0-9]+)$/.exec(entry.trim())
    const from = m && parseAuthority(`${m[1]}:${m[2]}`)
    const to = m && parseAuthority(`${m[3]}:${m[4]}`)
    if (!from || !to) problems.push(`--connect-to: "${entry}" is not HOST:PORT:ADDR:PORT`)
    else connectTo.set(`${from.host}:${from.port}`, to)
  }
  const workload = get('--workload') ?? null
  const workloadProblem = workload === null ? null : workloadNameProblem(workload)
  if (workloadProblem !== null) problems.push(`--workload: ${workloadProblem}`)
  const reportOnly = get('--report-only')
  const shutdownEndpoint = get('--shutdown-endpoint')
  const adminHosts: string[] = []
  for (const name of (get('--admin-hosts') ?? '').split(',').map((n) => n.trim()).filter(Boolean)) {
    const host = normalizeHost(name)
    if (host === null) problems.push(`--admin-hosts: "${name}" is not a host name or IP address`)
    else adminHosts.push(host)
  }
  const config: Config = {
    listen: address('--listen', DEFAULTS.listen),
    admin: address('--admin', DEFAULTS.admin),
    adminHosts,
    policyPath: get('--policies') ?? DEFAULTS.policyPath,
    certsDir: get('--certs') ?? DEFAULTS.certsDir,
    workload,
    reportOnly: reportOnly !== undefined && reportOnly !== 'false' && reportOnly !== '0',
    upstreamCaFile: get('--upstream-ca') ?? null,
    connectTo,
    connectTimeoutMs: DEFAULTS.connectTimeoutMs,
    headersTimeoutMs: int('--upstream-timeout', DEFAULTS.headersTimeoutMs),
    bodyTimeoutMs: DEFAULTS.bodyTimeoutMs,
    maxHeaderSize: int('--max-header-size', DEFAULTS.maxHeaderSize),
    maxHeaderCount: positive('--max-headers', DEFAULTS.maxHeaderCount),
    maxConnections: positive('--max-connections', DEFAULTS.maxConnections),
    maxConnectionsPerWorkload: positive('--max-connections-per-workload', DEFAULTS.maxConnectionsPerWorkload),
    headTimeoutMs: positive('--head-timeout', DEFAULTS.headTimeoutMs),
    idleTimeoutMs: positive('--idle-timeout', DEFAULTS.idleTimeoutMs),
    tunnelIdleTimeoutMs: positive('--tunnel-idle-timeout', DEFAULTS.tunnelIdleTimeoutMs),
    watchPolicy: true,
    issuer: get('--issuer') ?? null,
    statePath: get('--state') ?? null,
    transparentHttp: get('--transparent-http') === undefined ? null : address('--transparent-http', DEFAULTS.listen),
    publishCaDir: get('--publish-ca') ?? null,
    transparentHttps: get('--transparent-https') === undefined ? null : address('--transparent-https', DEFAULTS.listen),
    caFromDir: get('--ca-from') ?? null,
    health: get('--health') === undefined ? null : address('--health', DEFAULTS.admin),
    metrics: get('--metrics') === undefined ? null : address('--metrics', DEFAULTS.admin),
    drainTimeoutMs: int('--drain-timeout', DEFAULTS.drainTimeoutMs),
    shutdownEndpoint: shutdownEndpoint !== undefined && shutdownEndpoint !== 'false' && shutdownEndpoint !== '0',
  }
  if (config.issuer !== null && !/^https?:\/\/\S+$/.test(config.issuer)) problems.push(`--issuer: "${config.issuer}" is not an http(s) URL`)
  if (problems.length > 0) throw new SidekeyError('SIDEKEY_ERR_CONFIG', problems.join('\n'))
  return Object.freeze(config)
}
