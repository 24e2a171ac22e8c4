import type { BlockList } from 'node:net'
import type { CredentialProvider } from '../credentials/provider.js'
import type { AnomalyKind, Thresholds } from '../observe/baseline.js'
import type { WebhookTarget } from '../observe/alerts.js'
import type { CelPredicate } from './cel.js'
import type { McpPolicy } from '../mcp/policy.js'
import type { HostMatcher, MethodMatcher, PathMatcher, PortMatcher, WorkloadMatcher } from './match.js'
import type { TimeWindow } from './time-window.js'

/**
 * Domain types the request path runs on. They are built from the YAML shapes (`schema.ts`) once,
 * at load (`load.ts`), then frozen; nothing here is parsed per request.
 */

/** What a route does with a request it matches. */
export type RouteAction = 'allow' | 'deny' | 'tunnel'

/** A secret template such as `Bearer {secret}`, split at load into literal parts. */
export interface Template {
  readonly source: string
  render(secret: string): string
}

/** How a credential is applied to a forwarded request. */
export type Injection =
  | { readonly kind: 'header'; readonly name: string; readonly value: Template }
  | { readonly kind: 'query'; readonly name: string; readonly value: Template }
  | { readonly kind: 'basic'; readonly username: Template; readonly password: Template }
  /** AWS Signature Version 4 with the credential's temporary keys; service and region null: from the request. */
  | { readonly kind: 'sigv4'; readonly service: string | null; readonly region: string | null; readonly unsignedPayload: boolean; /** What of S3's reach past the URL the route lets through (guard/aws-resource.ts): header names in lower case, subresources as `?acl`. */ readonly allow: readonly string[] }

/** A compiled route. `file` and `line` say where it was written, for explain and audit. */
export interface Route {
  readonly name: string
  /**
   * The route as its policy file writes it (JSON): a reload rebuilds every route, and this tells
   * one it changed from one it did not (a request held for approval goes on only under the route
   * it was approved under: pipeline/stages/after-hold.ts).
   */
  readonly definition: string
  readonly file: string
  readonly line: number
  readonly host: HostMatcher
  readonly ports: PortMatcher
  readonly methods: MethodMatcher
  readonly paths: PathMatcher
  readonly workloads: WorkloadMatcher
  readonly action: RouteAction
  readonly credential: CredentialProvider | null
  readonly injection: Injection | null
  /** Header names (lower case) the agent may have sent that are removed before forwarding. */
  readonly strip: readonly string[]
  /** Addresses this route may reach even though the SSRF guard would refuse them. */
  readonly addresses: BlockList | null
  /** True when the route names a literal IP address as its host. */
  readonly literalAddress: boolean
  /** True when the route matches every method and path, so a CONNECT can be decided on it alone. */
  readonly wholeHost: boolean
  /** Conditional access: every condition must hold for the request to go on. */
  readonly conditions: Conditions | null
  /** Human approval, when required. */
  readonly approval: ApprovalRule | null
  /**
   * True when the route's paths, or a CEL expression of its conditions or approval, read the
   * path: requests to its destination must then have a path with one meaning (policy/path.ts).
   */
  readonly readsPath: boolean
  /**
   * True when a method override (`X-HTTP-Method-Override` and the like, `?_method=`) may name a
   * method this route allows; policy then decides on the overridden method. Off by default.
   */
  readonly methodOverride: boolean
  /**
   * For an allow route with conditions or an approval that names methods or paths: the same read
   * broadly, as a deny's are (any letter case, a trailing slash or dot, HEAD for GET). A request
   * they match that the route itself does not is one the upstream may take for the route's, and
   * it is refused rather than let through by a later route without the guards (policy/decide.ts).
   */
  readonly variants: { readonly methods: MethodMatcher; readonly paths: PathMatcher } | null
  /** Replace managed secrets echoed in responses (on by default for routes that inject). */
  readonly scrub: boolean
  /** Lower-case hex SHA-256 every 2xx response body must have (pinned download). */
  readonly pinSha256: string | null
  /** Bytes of request body buffered for CEL and approvals (and the most a held request may carry). */
  readonly inspectBodyBytes: number
  /**
   * HTTP/1.1 upgrades the route allows (`Connection: Upgrade`). A route with a credential allows
   * none unless it says so; one without allows WebSocket. Frames are guarded either way.
   */
  readonly upgrades: readonly UpgradeProtocol[]
  /** The route is an MCP endpoint: each POST's JSON-RPC body is parsed and decided (docs/mcp.md). */
  readonly mcp: McpPolicy | null
  /** Offer HTTP/2 to the upstream (ALPN); false keeps it on HTTP/1.1 (an upstream that misbehaves on h2). */
  readonly http2: boolean
}

/** An `Upgrade` protocol a route can allow: only WebSocket, whose frames sidekey can inspect. */
export type UpgradeProtocol = 'websocket'

/** Request-rate limit per workload and route. */
export interface RateLimit {
  readonly requests: number
  readonly windowMs: number
  /** Sliding (weighted two-window) rather than fixed windows. */
  readonly sliding: boolean
  /** When the shared state store cannot count: refuse (fail closed, the default) or allow (fail open). */
  readonly onStoreError: 'refuse' | 'allow'
}

/** Calendar quota per workload and route (resets at the start of each local hour or day). */
export interface Quota {
  readonly requests: number
  readonly per: 'hour' | 'day'
  readonly zone: string
  /** When the shared state store cannot count: refuse (fail closed, the default) or allow (fail open). */
  readonly onStoreError: 'refuse' | 'allow'
}

/** A route's conditions, compiled. Checked in this order; the first that fails refuses. */
export interface Conditions {
  readonly time: TimeWindow | null
  readonly maxBodyBytes: number | null
  readonly cel: readonly CelPredicate[]
  readonly rate: RateLimit | null
  readonly quota: Quota | null
}

/** When a request waits for a person, and for how long at most. */
export interface ApprovalRule {
  /** Null: every request on the route needs approval. */
  readonly when: CelPredicate | null
  /** How long a person has to decide. */
  readonly timeoutMs: number
  /**
   * `wait`: the request is held open until a person decides. `async`: it is answered at once with
   * `SIDEKEY_ERR_APPROVAL_PENDING`, and the identical request sent again after approval goes through.
   */
  readonly mode: 'wait' | 'async'
  /** Async: the Retry-After sent with a pending answer. */
  readonly retryAfterS: number
  /** Async: how long an approved request may be sent again; null: once, within `timeoutMs` of the decision. */
  readonly approvedForMs: number | null
}

/** Where approvers are told about held requests. */
export interface ApprovalSettings {
  readonly webhook: WebhookTarget | null
  /** Default wait for a decision when a route does not set one. */
  readonly defaultTimeoutMs: number
  /** Denials within an hour that quarantine a workload (0: never). */
  readonly quarantineAfterDenials: number
  /** Requests held at once in one process, in total and per workload (held bodies stay in memory). */
  readonly maxHeld: number
  readonly maxHeldPerWorkload: number
  /** Largest body a request may carry to be held: approvers are shown it whole. */
  readonly maxBodyBytes: number
}

/** What is done about an anomaly. */
export type AnomalyResponse = 'alert' | 'throttle' | 'quarantine'

/** Monitoring settings in force (policy's `monitoring`, defaults filled in). */
export interface MonitoringSettings {
  readonly learningMs: number
  readonly windowMs: number
  readonly thresholds: Thresholds
  readonly responses: Readonly<Record<AnomalyKind, AnomalyResponse>>
  readonly throttle: { readonly rps: number; readonly burst: number; readonly durationMs: number }
  readonly webhook: WebhookTarget | null
}

/** One place a credential reads a secret from: an environment variable's name, or a file's absolute path. */
export interface CredentialSource {
  readonly kind: 'env' | 'file'
  readonly name: string
}

/** A loaded, validated policy set. */
export interface Policy {
  readonly routes: readonly Route[]
  readonly credentials: ReadonlyMap<string, CredentialProvider>
  readonly files: readonly string[]
  /**
   * Files that say they hold no route (`routes: []`: `declared`) or hold nothing at all (no YAML
   * document, only blanks or comments: `blank`). A reload reads these to tell a policy emptied on
   * purpose from one cut short while it was being written (`reload-acceptance.ts`).
   */
  readonly emptyFiles: ReadonlyMap<string, 'declared' | 'blank'>
  /** Environment variables named by static credentials: `sidekey run` hides them from the agent. */
  readonly secretEnvNames: readonly string[]
  /** Absolute paths of every file a credential or webhook reads a secret from: `sidekey run`'s sandbox hides them. */
  readonly secretFiles: readonly string[]
  /** Where each credential reads its secret from (a variable of sidekey's environment or a file), by credential name. */
  readonly credentialSources: ReadonlyMap<string, readonly CredentialSource[]>
  readonly monitoring: MonitoringSettings
  readonly approvals: ApprovalSettings
  readonly loadedAt: Date
}
