import { readdir, readFile, stat } from 'node:fs/promises'
import { BlockList, isIP } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml'
import { PolicyInvalidError, type PolicyProblem } from '../errors.js'
import { buildCredential } from '../credentials/build.js'
import { createCredentialRuntime, type CredentialRuntime } from '../credentials/runtime.js'
import { DEFAULTS } from '../config.js'
import type { CredentialProvider } from '../credentials/provider.js'
import { HostMatcher, MethodMatcher, PathMatcher, PortMatcher, WorkloadMatcher } from './match.js'
import { normalizeGlob } from './path.js'
import { compileMcp } from '../mcp/policy.js'
import { CREDENTIAL_FIELDS, policyFileSchema, type ApprovalsV1, type CredentialV1, type InjectV1, type MonitoringV1, type PolicyFileV1, type RouteV1 } from './schema.js'
import type { AnomalyResponse, ApprovalSettings, CredentialSource, Injection, MonitoringSettings, Policy, Route, Template } from './types.js'
import { compileApproval, compileConditions, DEFAULT_APPROVAL_TIMEOUT_MS, DEFAULT_INSPECT_BODY_BYTES, DEFAULT_MAX_HELD, DEFAULT_MAX_HELD_BODY_BYTES, DEFAULT_MAX_HELD_PER_WORKLOAD } from './conditions.js'
import { ANOMALY_KINDS, DEFAULT_THRESHOLDS, type AnomalyKind } from '../observe/baseline.js'
import { EnvSource, FileSource, type SecretSource } from '../credentials/secret-source.js'
import { AWS_REACH_ITEMS, isAwsReach } from '../guard/aws-resource.js'

const ajv = new Ajv({ allErrors: true, strict: true })
const validateFile = ajv.compile<PolicyFileV1>(policyFileSchema)

/** One policy file's text, with the name it is reported under. */
export interface PolicySource {
  file: string
  text: string
}

/** One policy file's bytes as read from disk (a reload compares them to see a write settle). */
export interface PolicyFileBytes {
  file: string
  bytes: Buffer
}

/**
 * Load every `*.yaml` / `*.yml` file of a directory (or one file), in name order, validate them
 * together and compile them into a frozen Policy. Throws PolicyInvalidError listing every problem
 * with file and line; never returns a partial policy.
 */
export async function loadPolicyPath(path: string, runtime?: CredentialRuntime): Promise<Policy> {
  return compilePolicy(policySources(await readPolicyFiles(path)), runtime)
}

/**
 * Read the policy files of a directory (every `*.yaml` / `*.yml`, in name order) or the one file
 * `path` names. Throws PolicyInvalidError when the path or a file cannot be read.
 */
export async function readPolicyFiles(path: string): Promise<PolicyFileBytes[]> {
  const root = resolve(path)
  let files: string[]
  try {
    const info = await stat(root)
    files = info.isDirectory()
      ? (await readdir(root)).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(root, f))
      : [root]
  } catch (cause) {
    throw new PolicyInvalidError([{ file: root, line: 0, path: '', message: `cannot read policy path (${(cause as NodeJS.ErrnoException).code ?? cause})` }])
  }
  const out: PolicyFileBytes[] = []
  for (const file of files) {
    try {
      out.push({ file, bytes: await readFile(file) })
    } catch (cause) {
      // A file listed a moment ago and gone now is being replaced; the reload reads again.
      throw new PolicyInvalidError([{ file, line: 0, path: '', message: `cannot read policy file (${(cause as NodeJS.ErrnoException).code ?? cause})` }])
    }
  }
  return out
}

/** Policy files as text, for `compilePolicy`. */
export function policySources(files: readonly PolicyFileBytes[]): PolicySource[] {
  return files.map(({ file, bytes }) => ({ file, text: bytes.toString('utf8') }))
}

let offline: CredentialRuntime | null = null

/**
 * A runtime for loading policy without running a proxy (`policy check`, `explain`, tests that
 * only compile): providers are built but never asked for a token.
 */
function offlineRuntime(): CredentialRuntime {
  offline ??= createCredentialRuntime({ certsDir: DEFAULTS.certsDir, issuer: 'http://127.0.0.1:3129' })
  return offline
}

/** Validate and compile policy sources (already read). Pure apart from building providers. */
export function compilePolicy(sources: readonly PolicySource[], runtime?: CredentialRuntime): Policy {
  const problems: PolicyProblem[] = []
  const credentials = new Map<string, CredentialProvider>()
  const secretEnvNames: string[] = []
  const secretFiles: string[] = []
  const credentialSources = new Map<string, CredentialSource[]>()
  const routes: Route[] = []
  const routeNames = new Set<string>()
  const emptyFiles = new Map<string, 'declared' | 'blank'>()
  const pendingRoutes: { route: RouteV1; at: Locator; index: number }[] = []
  const pendingCredentials: { name: string; def: CredentialV1; at: Locator }[] = []
  let monitoring: { def: MonitoringV1; at: Locator } | null = null
  let approvals: { def: ApprovalsV1; at: Locator } | null = null
  const rt = runtime ?? offlineRuntime()
  /** Credentials already reported as broken: routes naming them are not reported again. */
  const brokenCredentials = new Set<string>()

  for (const source of sources) {
    const lineCounter = new LineCounter()
    const doc = parseDocument(source.text, { lineCounter, prettyErrors: true, uniqueKeys: true })
    const at = new Locator(source.file, doc, lineCounter)
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        problems.push({ file: source.file, line: e.linePos?.[0]?.line ?? 0, path: '', message: `YAML syntax: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` })
      }
      continue
    }
    const data: unknown = doc.toJS()
    if (data === null || data === undefined) {
      // An empty file holds no policy; a reload refuses one that held routes (reload-acceptance.ts).
      emptyFiles.set(source.file, 'blank')
      continue
    }
    const version = typeof data === 'object' && !Array.isArray(data) ? (data as { version?: unknown }).version : undefined
    if (version !== 'v1') {
      problems.push(at.problem(['version'], version === undefined ? 'version is required (version: v1)' : `unsupported version ${JSON.stringify(version)}; this sidekey reads v1`))
      continue
    }
    if (!validateFile(data)) {
      // Errors inside a oneOf branch repeat the oneOf's own error less clearly; keep the latter.
      // An if/then's own error ("must match then") only repeats the errors of its then.
      for (const e of validateFile.errors ?? []) if (!e.schemaPath.includes('/oneOf/') && e.keyword !== 'if') problems.push(at.schemaProblem(e))
      continue
    }
    if (data.routes?.length === 0) emptyFiles.set(source.file, 'declared')
    for (const [name, def] of Object.entries(data.credentials ?? {})) pendingCredentials.push({ name, def, at })
    if (data.monitoring !== undefined) {
      if (monitoring !== null) problems.push(at.problem(['monitoring'], `monitoring is already set in ${monitoring.at.file}; set it in one file`))
      else monitoring = { def: data.monitoring, at }
    }
    if (data.approvals !== undefined) {
      if (approvals !== null) problems.push(at.problem(['approvals'], `approvals is already set in ${approvals.at.file}; set it in one file`))
      else approvals = { def: data.approvals, at }
    }
    ;(data.routes ?? []).forEach((route, index) => pendingRoutes.push({ route, at, index }))
  }

  // jwt credentials first: a token exchange may use one as its subject, wherever it is defined.
  pendingCredentials.sort((a, b) => Number(b.def.type === 'jwt') - Number(a.def.type === 'jwt'))
  for (const { name, def, at } of pendingCredentials) {
    const path = ['credentials', name]
    if (credentials.has(name)) {
      problems.push(at.problem(path, `credential "${name}" is defined twice`))
      continue
    }
    const provider = buildCredential(name, def, {
      baseDir: dirname(at.file),
      runtime: rt,
      built: credentials,
      problem: (field, message) => problems.push(at.problem(field === null ? path : [...path, field], message)),
      secretEnv: (env) => {
        secretEnvNames.push(env)
        sourcesOf(credentialSources, name).push({ kind: 'env', name: env })
      },
      secretFile: (file) => {
        secretFiles.push(file)
        sourcesOf(credentialSources, name).push({ kind: 'file', name: file })
      },
    })
    if (provider !== null) credentials.set(name, provider)
    else brokenCredentials.add(name)
  }

  const approvalSettings = compileApprovals(approvals?.def, approvals === null ? null : dirname(approvals.at.file), secretEnvNames)
  // Routes are compiled after every file's credentials are known, so a route may name a
  // credential defined in another file.
  for (const { route, at, index } of pendingRoutes) {
    const path: (string | number)[] = ['routes', index]
    if (routeNames.has(route.name)) {
      problems.push(at.problem([...path, 'name'], `route name "${route.name}" is used twice`))
      continue
    }
    routeNames.add(route.name)
    const compiled = compileRoute(route, at, path, credentials, brokenCredentials, problems, approvalSettings.defaultTimeoutMs)
    if (compiled !== null) routes.push(compiled)
  }

  // Before the list of secret variables is frozen: a webhook URL may come from one.
  const monitoringSettings = compileMonitoring(monitoring?.def, monitoring === null ? null : dirname(monitoring.at.file), secretEnvNames)
  if (problems.length > 0) throw new PolicyInvalidError(problems)
  // A webhook URL can be a secret too (it may carry a token).
  for (const webhook of [approvalSettings.webhook, monitoringSettings.webhook]) if (webhook?.url instanceof FileSource) secretFiles.push(webhook.url.path)
  return Object.freeze({
    routes: Object.freeze(routes),
    credentials,
    files: Object.freeze(sources.map((s) => s.file)),
    emptyFiles,
    secretEnvNames: Object.freeze([...new Set(secretEnvNames)]),
    secretFiles: Object.freeze([...new Set(secretFiles)]),
    credentialSources,
    monitoring: monitoringSettings,
    approvals: approvalSettings,
    loadedAt: new Date(),
  })
}

/** The list of `name`'s sources in `map`, created empty on first use. */
function sourcesOf(map: Map<string, CredentialSource[]>, name: string): CredentialSource[] {
  let list = map.get(name)
  if (list === undefined) map.set(name, (list = []))
  return list
}

function compileRoute(
  r: RouteV1,
  at: Locator,
  path: (string | number)[],
  credentials: ReadonlyMap<string, CredentialProvider>,
  brokenCredentials: ReadonlySet<string>,
  problems: PolicyProblem[],
  defaultApprovalTimeoutMs: number,
): Route | null {
  const before = problems.length
  const action = r.action ?? 'allow'
  let host: HostMatcher | null = null
  try {
    host = new HostMatcher(r.host)
  } catch {
    problems.push(at.problem([...path, 'host'], `"${r.host}" is not a host name or *.wildcard`))
  }
  let credential: CredentialProvider | null = null
  if (r.credential !== undefined) {
    credential = credentials.get(r.credential) ?? null
    if (credential === null && !brokenCredentials.has(r.credential)) problems.push(at.problem([...path, 'credential'], `no credential named "${r.credential}"`))
    if (action !== 'allow') problems.push(at.problem([...path, 'credential'], `a credential is only used by action allow, not ${action}`))
  }
  if (r.inject !== undefined && r.credential === undefined) {
    problems.push(at.problem([...path, 'inject'], 'inject needs a credential'))
  }
  if (action === 'tunnel' && (r.methods !== undefined || r.paths !== undefined)) {
    problems.push(at.problem([...path, 'action'], 'a tunnel is not inspected, so it cannot match methods or paths'))
  }
  const signs = credential?.type === 'aws-web-identity'
  const injection = credential === null ? null : compileInjection(r.inject ?? (signs ? { sigv4: {} } : undefined), at, [...path, 'inject'], problems)
  if (credential !== null && injection !== null && signs !== (injection.kind === 'sigv4')) {
    problems.push(at.problem([...path, 'inject'], signs ? `credential "${r.credential}" holds AWS keys: it is applied by signing (inject: { sigv4: {} }), not as a header` : 'inject sigv4 needs an aws-web-identity credential'))
  }
  let addresses: BlockList | null = null
  if (r.addresses !== undefined) {
    addresses = new BlockList()
    r.addresses.forEach((cidr, i) => {
      if (!addCidr(addresses!, cidr)) problems.push(at.problem([...path, 'addresses', i], `"${cidr}" is not an IP address or CIDR range`))
    })
  }
  const globs = r.paths?.map((glob, i) => {
    const n = normalizeGlob(glob)
    if ('problem' in n) problems.push(at.problem([...path, 'paths', i], n.problem))
    return 'glob' in n ? n.glob : glob
  })
  const conditions = compileConditions(r.conditions, (p, m) => problems.push(at.problem([...path, 'conditions', ...p], m)))
  const approval = compileApproval(r.approval, defaultApprovalTimeoutMs, (p, m) => problems.push(at.problem([...path, 'approval', ...p], m)))
  if (action !== 'allow') {
    for (const key of ['conditions', 'approval', 'pin_sha256', 'upgrades', 'method_override', 'mcp'] as const) {
      if (r[key] !== undefined) problems.push(at.problem([...path, key], `${key} applies to action allow only, not ${action}`))
    }
  }
  if (problems.length > before || host === null) return null

  const strip = new Set((r.strip ?? []).map((h) => h.toLowerCase()))
  if (injection?.kind === 'header') strip.add(injection.name)
  if (injection?.kind === 'basic') strip.add('authorization')
  // The agent SDK's signature with placeholder keys, and its session token, are replaced. Its
  // x-amz-content-sha256 is left for the signer, which keeps a STREAMING-* mode (the body is
  // framed for it) and replaces the rest on an unsigned_payload route (inject/sigv4.ts).
  if (injection?.kind === 'sigv4') for (const h of ['authorization', 'x-amz-date', 'x-amz-security-token']) strip.add(h)
  const hostName = r.host.startsWith('*.') ? null : host.pattern
  const compiled = {
    name: r.name,
    // The route as written (and the approval timeout it inherits): one a reload did not change
    // reads the same.
    definition: JSON.stringify([r, defaultApprovalTimeoutMs]),
    file: at.file,
    line: at.lineOf(path),
    host,
    ports: new PortMatcher(r.ports === '*' ? null : r.ports ?? [80, 443]),
    // A deny rule is matched broadly (match.ts): what the upstream may read as the same request,
    // and every caller its workloads could mean.
    methods: new MethodMatcher(r.methods ?? null, { broad: action === 'deny' }),
    paths: new PathMatcher(globs ?? null, { broad: action === 'deny' }),
    workloads: new WorkloadMatcher(r.workloads ?? ['*'], { broad: action === 'deny' }),
    action,
    credential,
    injection,
    strip: Object.freeze([...strip]),
    addresses,
    literalAddress: hostName !== null && isIP(hostName) !== 0,
    // Conditions and approvals read each request, so a CONNECT on such a route is intercepted.
    wholeHost: r.methods === undefined && r.paths === undefined && conditions === null && approval === null && r.pin_sha256 === undefined && r.mcp === undefined,
    conditions,
    approval,
    readsPath: globs !== undefined || [...(conditions?.cel ?? []), ...(approval?.when ? [approval.when] : [])].some((p) => /\bpath\b/.test(p.source)),
    methodOverride: r.method_override ?? false,
    variants: action === 'allow' && (conditions !== null || approval !== null) && (r.methods !== undefined || globs !== undefined) ? { methods: new MethodMatcher(r.methods ?? null, { broad: true, updates: true }), paths: new PathMatcher(globs ?? null, { broad: true }) } : null,
    scrub: r.scrub ?? true,
    pinSha256: r.pin_sha256?.toLowerCase() ?? null,
    inspectBodyBytes: conditions?.maxBodyBytes ?? DEFAULT_INSPECT_BODY_BYTES,
    // An upgrade carries the injected credential into a connection that lives on: a route that
    // injects one opts in (docs/security.md).
    upgrades: Object.freeze(r.upgrades ?? (r.credential === undefined ? ['websocket' as const] : [])),
    http2: r.http2 ?? true,
  }
  // An MCP rule's conditions and approval run as the route with them in place (mcp/policy.ts).
  const mcp = r.mcp === undefined ? null : compileMcp(r.mcp, compiled, defaultApprovalTimeoutMs, (p, m) => problems.push(at.problem([...path, 'mcp', ...p], m)))
  if (problems.length > before) return null
  return Object.freeze({ ...compiled, mcp })
}

function compileInjection(inject: InjectV1 | undefined, at: Locator, path: (string | number)[], problems: PolicyProblem[]): Injection | null {
  const spec = inject ?? { header: 'authorization', value: 'Bearer {secret}' }
  const kinds = [spec.header, spec.query, spec.basic, spec.sigv4].filter((k) => k !== undefined).length
  if (kinds !== 1) {
    problems.push(at.problem(path, 'inject takes exactly one of header, query, basic or sigv4'))
    return null
  }
  if (spec.sigv4 !== undefined) {
    if (spec.value !== undefined) problems.push(at.problem([...path, 'value'], 'sigv4 signs the request; it takes no value'))
    // Header names in lower case; subresources (`?acl`) as S3 spells them.
    const allow = (spec.sigv4.allow ?? []).map((h) => (h.startsWith('?') ? h : h.toLowerCase()))
    for (const [i, h] of allow.entries()) {
      if (!isAwsReach(h)) problems.push(at.problem([...path, 'sigv4', 'allow', i], `"${h}" is not something sidekey refuses on SigV4 routes (${AWS_REACH_ITEMS}): nothing to allow`))
    }
    return { kind: 'sigv4', service: spec.sigv4.service ?? null, region: spec.sigv4.region ?? null, unsignedPayload: spec.sigv4.unsigned_payload ?? false, allow: Object.freeze(allow) }
  }
  const template = (source: string, where: string): Template | null => {
    if (!source.includes('{secret}')) {
      problems.push(at.problem([...path, where], `"${source}" must contain {secret}`))
      return null
    }
    if (/[\r\n\0]/.test(source)) {
      problems.push(at.problem([...path, where], 'a template may not contain CR, LF or NUL'))
      return null
    }
    return compileTemplate(source)
  }
  if (spec.header !== undefined) {
    const value = template(spec.value ?? 'Bearer {secret}', 'value')
    return value && { kind: 'header', name: spec.header.toLowerCase(), value }
  }
  if (spec.query !== undefined) {
    const value = template(spec.value ?? '{secret}', 'value')
    return value && { kind: 'query', name: spec.query, value }
  }
  if (spec.value !== undefined) problems.push(at.problem([...path, 'value'], 'basic takes username and password, not value'))
  const username = compileTemplate(spec.basic?.username ?? '')
  const password = compileTemplate(spec.basic?.password ?? '{secret}')
  if (!username.source.includes('{secret}') && !password.source.includes('{secret}')) {
    problems.push(at.problem([...path, 'basic'], 'username or password must contain {secret}'))
  }
  return { kind: 'basic', username, password }
}

/** Monitoring settings with defaults: learn for a day, one-minute windows, alert on everything. */
function compileMonitoring(m: MonitoringV1 | undefined, baseDir: string | null, secretEnvNames: string[]): MonitoringSettings {
  const t = m?.thresholds ?? {}
  return Object.freeze({
    learningMs: (m?.learning_s ?? 86_400) * 1000,
    windowMs: (m?.window_s ?? 60) * 1000,
    thresholds: Object.freeze({
      sigma: t.sigma ?? DEFAULT_THRESHOLDS.sigma,
      factor: t.factor ?? DEFAULT_THRESHOLDS.factor,
      minRequests: t.min_requests ?? DEFAULT_THRESHOLDS.minRequests,
      minBytes: t.min_bytes ?? DEFAULT_THRESHOLDS.minBytes,
      offHoursShare: t.off_hours_share ?? DEFAULT_THRESHOLDS.offHoursShare,
      probingShare: t.probing_share ?? DEFAULT_THRESHOLDS.probingShare,
    }),
    responses: Object.freeze(Object.fromEntries(ANOMALY_KINDS.map((k) => [k, m?.responses?.[k] ?? 'alert'])) as Record<AnomalyKind, AnomalyResponse>),
    throttle: Object.freeze({ rps: m?.throttle?.rps ?? 1, burst: m?.throttle?.burst ?? 5, durationMs: (m?.throttle?.duration_s ?? 900) * 1000 }),
    webhook: compileWebhook(m?.webhook, baseDir, secretEnvNames),
  })
}

/** A webhook target; a URL from a secret reference is read when sending and never logged. */
function compileWebhook(w: MonitoringV1['webhook'], baseDir: string | null, secretEnvNames: string[]): MonitoringSettings['webhook'] {
  if (w === undefined) return null
  let url: SecretSource | string
  if (typeof w.url === 'string') url = w.url
  else if (w.url.env !== undefined) {
    secretEnvNames.push(w.url.env)
    url = new EnvSource(w.url.env)
  } else url = new FileSource(resolve(baseDir ?? '.', w.url.file!))
  return Object.freeze({ url, timeoutMs: w.timeout_ms ?? 5000, retries: w.retries ?? 5, format: w.format ?? 'json' })
}

/** Approval notification settings with defaults: no webhook (the log only), five minutes to decide. */
function compileApprovals(a: ApprovalsV1 | undefined, baseDir: string | null, secretEnvNames: string[]): ApprovalSettings {
  return Object.freeze({
    webhook: compileWebhook(a?.webhook, baseDir, secretEnvNames),
    defaultTimeoutMs: a?.timeout_s === undefined ? DEFAULT_APPROVAL_TIMEOUT_MS : a.timeout_s * 1000,
    quarantineAfterDenials: a?.quarantine_after_denials ?? 3,
    maxHeld: a?.max_held ?? DEFAULT_MAX_HELD,
    maxHeldPerWorkload: a?.max_held_per_workload ?? DEFAULT_MAX_HELD_PER_WORKLOAD,
    maxBodyBytes: a?.max_body_bytes ?? DEFAULT_MAX_HELD_BODY_BYTES,
  })
}

/** Compile `Bearer {secret}` into literal parts joined by the secret at render time. */
export function compileTemplate(source: string): Template {
  const parts = source.split('{secret}')
  return Object.freeze({ source, render: (secret: string) => parts.join(secret) })
}

function addCidr(list: BlockList, cidr: string): boolean {
  const [address, prefixText] = cidr.split('/')
  const family = isIP(address ?? '')
  if (family === 0) return false
  const type = family === 4 ? 'ipv4' : 'ipv6'
  if (prefixText === undefined) {
    list.addAddress(address!, type)
    return true
  }
  if (!/^[0-9]{1,3}$/.test(prefixText)) return false
  const prefix = Number(prefixText)
  if (prefix > (family === 4 ? 32 : 128)) return false
  list.addSubnet(address!, prefix, type)
  return true
}

/** Finds the line of a path in a parsed YAML document, falling back to the nearest parent. */
class Locator {
  constructor(
    readonly file: string,
    readonly doc: Document,
    readonly lines: LineCounter,
  ) {}

  lineOf(path: readonly (string | number)[]): number {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = this.doc.getIn(path.slice(0, depth), true)
      const range = (isScalar(node) || isMap(node) || isSeq(node)) ? node.range : undefined
      if (range) return this.lines.linePos(range[0]).line
    }
    return 1
  }

  /** The line of a map key (for unknown-property errors the key itself is the culprit). */
  keyLine(path: readonly (string | number)[], key: string): number {
    const parent = this.doc.getIn(path, true)
    if (isMap(parent)) {
      for (const pair of parent.items) {
        if (isScalar(pair.key) && pair.key.value === key && pair.key.range) return this.lines.linePos(pair.key.range[0]).line
      }
    }
    return this.lineOf(path)
  }

  problem(path: readonly (string | number)[], message: string): PolicyProblem {
    return { file: this.file, line: this.lineOf(path), path: formatPath(path), message }
  }

  schemaProblem(e: ErrorObject): PolicyProblem {
    const path = e.instancePath.split('/').slice(1).map(unescapePointer).map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s))
    // A credential's fields depend on its type: a field another type takes is named with the type.
    const credentialType = this.credentialTypeAt(path)
    if (e.keyword === 'additionalProperties') {
      const key = String((e.params as { additionalProperty: string }).additionalProperty)
      const message = credentialType !== null && CREDENTIAL_FIELDS.has(key) ? `${credentialType} credentials do not take ${key}` : 'unknown property (check the spelling against the policy reference)'
      return { file: this.file, line: this.keyLine(path, key), path: formatPath([...path, key]), message }
    }
    if (e.keyword === 'required') {
      const key = String((e.params as { missingProperty: string }).missingProperty)
      return { file: this.file, line: this.lineOf(path), path: formatPath(path), message: credentialType === null ? `${key} is required` : `${key} is required for ${credentialType}` }
    }
    let message = e.message ?? 'is invalid'
    if (e.keyword === 'enum') message = `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).join(', ')}`
    if (e.keyword === 'oneOf' && path.at(-1) === 'ports') message = 'must be a list of port numbers or "*"'
    return { file: this.file, line: this.lineOf(path), path: formatPath(path), message }
  }

  /** The type of the credential definition at `path` (`credentials.<name>`), or null when `path` is not one. */
  credentialTypeAt(path: readonly (string | number)[]): string | null {
    if (path.length !== 2 || path[0] !== 'credentials') return null
    const type: unknown = this.doc.getIn([...path, 'type'])
    return typeof type === 'string' ? type : null
  }
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~')
}

function formatPath(path: readonly (string | number)[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').replace(/^\./, '')
}
