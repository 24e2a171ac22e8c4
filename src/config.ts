import { join, resolve } from 'node:path'
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
  /** Bytes of request bodies one workload may have being read whole at once (four times that in total: guard/body-budget.ts). */
  readonly maxBufferedBodyBytes: number
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
  /** Transparent mode: listeners for cleartext HTTP connections iptables redirected (empty: off). */
  readonly transparentHttp: readonly TransparentListener[]
  /** Transparent mode: listeners for TLS connections iptables redirected (empty: off). */
  readonly transparentHttps: readonly TransparentListener[]
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

/**
 * One transparent-mode listener: connections to outbound TCP port `from` that iptables redirected
 * to `listen`. Node cannot read a redirected connection's original destination (`SO_ORIGINAL_DST`),
 * so each redirected port has its own listener, which knows the port it stands for.
 */
export interface TransparentListener {
  readonly from: number
  readonly listen: { readonly host: string; readonly port: number }
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
  maxBufferedBodyBytes: 64 * 1024 * 1024,
  headTimeoutMs: 20_000,
  idleTimeoutMs: 60_000,
  tunnelIdleTimeoutMs: 600_000,
  watchPolicy: true,
  issuer: null,
  statePath: null,
  transparentHttp: [],
  transparentHttps: [],
  publishCaDir: null,
  caFromDir: null,
  health: null,
  metrics: null,
  // Kubernetes' default terminationGracePeriodSeconds is 30: drain, then close and flush the log.
  drainTimeoutMs: 25_000,
  shutdownEndpoint: false,
})

/**
 * The log file, in the certs directory, of a sidekey that does not log to standard output: one
 * started by `sidekey run`, or `sidekey start` on a terminal. `sidekey audit` reads it by default.
 * The certs directory is sidekey's own (mode 0700) and hidden from sandboxed agents, so an agent
 * can neither read nor rewrite the log.
 */
export function auditLogPath(config: Pick<Config, 'certsDir'>): string {
  return join(resolve(config.certsDir), 'audit.log')
}

/**
 * Where `sidekey start` writes its log: null for standard output, else a file. `--log` / SIDEKEY_LOG
 * decide (`stdout`, or a path); without them, standard output, except on a terminal, where a person
 * reads the start-up summary and the log goes to `auditLogPath` (`docker run -t` is a terminal too:
 * set SIDEKEY_LOG=stdout there to keep the log in the container's output).
 */
export function logFileFor(flag: string | boolean | undefined, env: NodeJS.ProcessEnv, tty: boolean, config: Pick<Config, 'certsDir'>): string | null {
  const chosen = typeof flag === 'string' ? flag : env.SIDEKEY_LOG
  if (chosen === 'stdout' || chosen === '-') return null
  if (chosen !== undefined && chosen !== '') return resolve(chosen)
  return tty ? auditLogPath(config) : null
}

/**
 * The host of a listener on every address of the pod or host, IPv4 and IPv6 alike (`*:3130`): the
 * kubelet probes the pod's IP, which is IPv6 in an IPv6-only cluster, where `0.0.0.0` would miss it.
 */
export const ANY_ADDRESS = '*'

/**
 * The address a client dials to reach a listener bound to `host`, bracketed for a URL when IPv6:
 * loopback for a wildcard bind (0.0.0.0, ::), which is no address to call, nor a Host name the
 * admin listener answers to.
 */
export function dialableHost(host: string): string {
  const dial = host === '0.0.0.0' || host === '' || host === ANY_ADDRESS ? '127.0.0.1' : host === '::' ? '::1' : host
  return dial.includes(':') ? `[${dial}]` : dial
}

/** Flags `sidekey start` takes, with the environment variable that sets each. */
export const SETTINGS = [
  { flag: '--listen', env: 'SIDEKEY_LISTEN', help: 'proxy address host:port (default 127.0.0.1:3128)' },
  { flag: '--admin', env: 'SIDEKEY_ADMIN', help: 'admin address host:port (default 127.0.0.1:3129)' },
  { flag: '--admin-hosts', env: 'SIDEKEY_ADMIN_HOSTS', help: 'more Host names the admin listener answers to, comma separated (default: loopback only)' },
  { flag: '--home', env: 'SIDEKEY_HOME', help: 'directory holding policies/ and certs/ (default: the current directory)' },
  { flag: '--policies', env: 'SIDEKEY_POLICIES', help: 'policy directory or file (default HOME/policies)' },
  { flag: '--certs', env: 'SIDEKEY_CERTS', help: 'directory for the CA, admin token and audit.log (default HOME/certs)' },
  { flag: '--workload', env: 'SIDEKEY_WORKLOAD', help: 'workload of callers without a run token (sidecar identity)' },
  { flag: '--report-only', env: 'SIDEKEY_REPORT_ONLY', help: 'log refusals but forward without credentials (rollout)' },
  { flag: '--upstream-ca', env: 'SIDEKEY_UPSTREAM_CA', help: 'extra PEM bundle trusted for upstream TLS' },
  { flag: '--connect-to', env: 'SIDEKEY_CONNECT_TO', help: 'HOST:PORT:ADDR:PORT, comma separated: dial ADDR:PORT for HOST:PORT' },
  { flag: '--upstream-timeout', env: 'SIDEKEY_UPSTREAM_TIMEOUT_MS', help: 'ms to wait for upstream response headers (default 120000)' },
  { flag: '--max-header-size', env: 'SIDEKEY_MAX_HEADER_SIZE', help: 'largest request head in bytes (default 16384)' },
  { flag: '--max-headers', env: 'SIDEKEY_MAX_HEADERS', help: 'most header fields in one request (default 100)' },
  { flag: '--max-connections', env: 'SIDEKEY_MAX_CONNECTIONS', help: 'open client connections in total (default 1024)' },
  { flag: '--max-connections-per-workload', env: 'SIDEKEY_MAX_CONNECTIONS_PER_WORKLOAD', help: 'open client connections of one workload (default 256)' },
  { flag: '--max-buffered-body-bytes', env: 'SIDEKEY_MAX_BUFFERED_BODY_BYTES', help: 'bytes of request bodies one workload may have read whole at once (default 67108864)' },
  { flag: '--head-timeout', env: 'SIDEKEY_HEAD_TIMEOUT_MS', help: 'ms for a request head (or ClientHello) to arrive whole (default 20000)' },
  { flag: '--idle-timeout', env: 'SIDEKEY_IDLE_TIMEOUT_MS', help: 'ms a keep-alive connection or intercepted tunnel may idle between requests (default 60000)' },
  { flag: '--tunnel-idle-timeout', env: 'SIDEKEY_TUNNEL_IDLE_TIMEOUT_MS', help: 'ms a blind tunnel or WebSocket may carry no byte (default 600000)' },
  { flag: '--issuer', env: 'SIDEKEY_ISSUER', help: 'issuer URL of minted JWTs (default: the admin URL, which serves the JWKS)' },
  { flag: '--state', env: 'SIDEKEY_STATE', help: 'state file (YAML): shared state in Redis for many replicas (default: in memory)' },
  { flag: '--transparent-http', env: 'SIDEKEY_TRANSPARENT_HTTP', help: '[PORT=]host:port, comma separated: a listener for HTTP redirected from PORT (default 80; transparent mode, off by default)' },
  { flag: '--publish-ca', env: 'SIDEKEY_PUBLISH_CA', help: 'directory to copy ca.pem and bundle.pem into for the agent (never the key)' },
  { flag: '--log', env: 'SIDEKEY_LOG', help: 'where sidekey start logs: stdout, or a file (default stdout; on a terminal, HOME/certs/audit.log)' },
  { flag: '--transparent-https', env: 'SIDEKEY_TRANSPARENT_HTTPS', help: '[PORT=]host:port, comma separated: a listener for TLS redirected from PORT (default 443; transparent mode, off by default)' },
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
  const address = (flag: string, fallback: { host: string; port: number }, raw = get(flag)): { host: string; port: number } => {
    if (raw === undefined) return fallback
    const m = /^(?:(.*):)?([0-9]{1,5})$/.exec(raw)
    if (m === null || Number(m[2]) > 65535) {
      problems.push(`${flag}: "${raw}" is not host:port`)
      return fallback
    }
    return { host: (m[1] ?? fallback.host).replace(/^\[(.*)\]$/, '$1') || fallback.host, port: Number(m[2]) }
  }
  // `[PORT=]host:port,...`: one listener per redirected port.
  const transparent = (flag: string, defaultFrom: number): TransparentListener[] => {
    const listeners: TransparentListener[] = []
    for (const entry of (get(flag) ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
      const m = /^(?:([0-9]{1,5})=)?(.*)$/.exec(entry)!
      const from = m[1] === undefined ? defaultFrom : Number(m[1])
      const before = problems.length
      const listen = address(flag, DEFAULTS.listen, m[2]!)
      if (from < 1 || from > 65535) problems.push(`${flag}: "${entry}": ${from} is not a port`)
      else if (problems.length === before) listeners.push({ from, listen })
    }
    return listeners
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
  // Every command finds its files from anywhere through the home; without one, the current
  // directory is the home, as before (relative paths keep reading as they did).
  const home = get('--home')
  const inHome = (name: string): string => (home === undefined ? name : join(resolve(home), name))
  const config: Config = {
    listen: address('--listen', DEFAULTS.listen),
    admin: address('--admin', DEFAULTS.admin),
    adminHosts,
    policyPath: get('--policies') ?? inHome(DEFAULTS.policyPath),
    certsDir: get('--certs') ?? inHome(DEFAULTS.certsDir),
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
    maxBufferedBodyBytes: positive('--max-buffered-body-bytes', DEFAULTS.maxBufferedBodyBytes),
    headTimeoutMs: positive('--head-timeout', DEFAULTS.headTimeoutMs),
    idleTimeoutMs: positive('--idle-timeout', DEFAULTS.idleTimeoutMs),
    tunnelIdleTimeoutMs: positive('--tunnel-idle-timeout', DEFAULTS.tunnelIdleTimeoutMs),
    watchPolicy: true,
    issuer: get('--issuer') ?? null,
    statePath: get('--state') ?? null,
    transparentHttp: transparent('--transparent-http', 80),
    transparentHttps: transparent('--transparent-https', 443),
    publishCaDir: get('--publish-ca') ?? null,
    caFromDir: get('--ca-from') ?? null,
    health: get('--health') === undefined ? null : address('--health', DEFAULTS.admin),
    metrics: get('--metrics') === undefined ? null : address('--metrics', DEFAULTS.admin),
    drainTimeoutMs: int('--drain-timeout', DEFAULTS.drainTimeoutMs),
    shutdownEndpoint: shutdownEndpoint !== undefined && shutdownEndpoint !== 'false' && shutdownEndpoint !== '0',
  }
  const redirected = [...config.transparentHttp, ...config.transparentHttps]
  const twice = redirected.map((l) => l.from).filter((from, i, all) => all.indexOf(from) !== i)
  if (twice.length > 0) problems.push(`--transparent-http/--transparent-https: port ${twice.join(', ')} has more than one listener`)
  if (config.issuer !== null && !/^https?:\/\/\S+$/.test(config.issuer)) problems.push(`--issuer: "${config.issuer}" is not an http(s) URL`)
  if (problems.length > 0) throw new SidekeyError('SIDEKEY_ERR_CONFIG', problems.join('\n'))
  return Object.freeze(config)
}
