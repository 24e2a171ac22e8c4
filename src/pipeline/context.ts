import type { Logger } from 'pino'
import type { Connections } from '../accept/connections.js'
import type { BodyBudget } from '../guard/body-budget.js'
import type { McpSessions } from '../mcp/sessions.js'
import type { Approvals } from '../approvals/approvals.js'
import type { Config } from '../config.js'
import type { Resolver } from '../forward/ssrf.js'
import type { UpgradeRelay } from '../forward/upgrade.js'
import type { UpstreamPools } from '../forward/upstream.js'
import type { SecretScanner } from '../guard/secret-scan.js'
import type { Throttle } from '../guard/throttle.js'
import type { RunTokens } from '../identity/run-tokens.js'
import type { AuditRecord } from '../observe/audit.js'
import type { PolicyStore } from '../policy/store.js'
import type { Counters } from '../state/counters.js'
import type { QuarantineStore } from '../state/store.js'

/** What the request path needs from the running process: the parts every stage may use. */
export interface ProxyContext {
  readonly config: Config
  readonly log: Logger
  readonly policy: PolicyStore
  readonly runTokens: RunTokens
  readonly pools: UpstreamPools
  readonly upgrades: UpgradeRelay
  readonly resolver: Resolver
  /** PEM roots for upstream TLS. */
  readonly upstreamCa: string[]
  /** Quarantined workloads (refused at identify), and the counters of rate limits and quotas (guard). */
  readonly state: Counters & Pick<QuarantineStore, 'quarantined' | 'listQuarantined' | 'quarantineListKnown'>
  readonly throttle: Throttle
  /** Every secret sidekey holds, to catch an agent sending one out. */
  readonly scanner: SecretScanner
  /** Called with every finished audit record (metrics, baselines). Must not throw or wait. */
  readonly observe: (record: AuditRecord) => void
  /** Held requests and their decisions. */
  readonly approvals: Approvals
  /** What request bodies being read whole may hold, per workload and in total. */
  readonly bodies: BodyBudget
  /** Which workload opened each MCP session (mcp/sessions.ts). */
  readonly mcpSessions: McpSessions
  /** Every open client connection: limits, and closing what a revocation, quarantine or reload ends. */
  readonly connections: Connections
  readonly now: () => number
}
