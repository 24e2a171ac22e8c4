import type { Logger } from 'pino'
import { writeSerialized } from './logger.js'

/**
 * The canonical audit line: exactly one per request, tunnel or upgraded connection, written when it
 * ends. Field names are fixed; tests and log pipelines rely on them.
 * It never holds a secret, a header value or a query value.
 */
export interface AuditRecord {
  event: 'request' | 'tunnel' | 'upgrade' | 'connect'
  id: string
  /** The CONNECT tunnel this request travelled in, if any. */
  tunnel: string | null
  workload: string | null
  identity: 'run-token' | 'default' | 'anonymous' | 'invalid' | null
  method: string | null
  /** The method an override header or `_method` query parameter named (policy decided on it). */
  method_override?: string
  scheme: 'http' | 'https' | 'ws' | 'wss' | null
  host: string | null
  port: number | null
  /** Path without query string; only the query's parameter names are kept. */
  path: string | null
  query_keys: string[] | null
  route: string | null
  decision: 'allow' | 'deny' | 'tunnel' | 'intercept' | 'error'
  reason: string
  report_only: boolean
  /** The route condition that refused (or would have, in report-only mode): `time`, `rate`, `cel[0] ...`. */
  condition: string | null
  /** Limits (`rate`, `quota`) this request was not counted against: the state store was down and the route fails open. */
  uncounted?: readonly string[]
  /** The approval the request waited for (its id), or `grant` when an earlier grant covered it. */
  approval: string | null
  /** `h2` for a request that came as an HTTP/2 stream (absent: HTTP/1.x). */
  protocol?: 'h2'
  /**
   * HTTP/2 streams nghttp2 reset before sidekey read them (a malformed head, over the stream limit)
   * or that the client skipped: how many, from stream id `h2_stream` on (accept/h2-unread-streams.ts).
   */
  unread_streams?: number
  /** The HTTP/2 stream id of the first of `unread_streams`. */
  h2_stream?: number
  /** The `grpc-status` the agent received, for a gRPC call (from the upstream's trailers, or sidekey's refusal). */
  grpc_status?: number
  /** Echoed secrets masked in the response (headers and body), when any were. */
  scrubbed?: number
  /**
   * On an MCP route (docs/mcp.md): the JSON-RPC method, the tool, resource or prompt it names, the
   * request id, and the outcome (`result`, `error:CODE` from the server, or the sidekey code that
   * refused it); flat fields, so managed secrets in them are masked like any other. A batch
   * records its first message that names something (or its first); `mcp_batch` counts them.
   * `mcp_arguments` (JSON, cut) only when the route sets `log_arguments`; `mcp_hidden`: list items
   * filtered out of the answer.
   */
  mcp_method?: string
  mcp_tool?: string
  /** Every tool a JSON-RPC batch called, when it called more than one (mcp_tool names the first). */
  mcp_tools?: string[]
  mcp_resource?: string
  mcp_prompt?: string
  mcp_id?: string | number
  mcp_outcome?: string
  mcp_arguments?: string
  mcp_batch?: number
  mcp_hidden?: number
  /** The MCP rule (its glob, as policy wrote it) that allowed the call: metrics label calls by it. */
  mcp_rule?: string
  /**
   * Why sidekey closed a tunnel or upgraded connection that was in use: `token-revoked`,
   * `quarantined`, `route-gone` (a reload no longer allows it), `idle`, `shutdown` (sidekey's drain).
   */
  closed?: string
  credential: string | null
  credential_source: string | null
  /** Set when the upstream answered 401 to a delegated grant's token and the request was sent once more after a refresh. */
  retried_after_401?: boolean
  status: number | null
  error: string | null
  /** Body bytes sent upstream. */
  bytes_up: number
  /**
   * Bytes of the request line and headers sent upstream (the agent's part: target and its
   * headers, not the injected credential), when the request was forwarded. The volume anomaly
   * counts them with `bytes_up`: data carried in a header or the query is data sent too.
   */
  head_bytes_up?: number
  bytes_down: number
  decision_ms: number | null
  credential_ms: number | null
  upstream_ms: number | null
  total_ms: number
}

/** A fresh record with nothing known yet. */
export function newAuditRecord(event: AuditRecord['event'], id: string, tunnel: string | null = null): AuditRecord {
  return {
    event,
    id,
    tunnel,
    workload: null,
    identity: null,
    method: null,
    scheme: null,
    host: null,
    port: null,
    path: null,
    query_keys: null,
    route: null,
    decision: 'error',
    reason: 'incomplete',
    report_only: false,
    condition: null,
    approval: null,
    credential: null,
    credential_source: null,
    status: null,
    error: null,
    bytes_up: 0,
    bytes_down: 0,
    decision_ms: null,
    credential_ms: null,
    upstream_ms: null,
    total_ms: 0,
  }
}

/** Split a request target into the path and its query parameter names (values are never kept). */
export function auditPath(pathWithQuery: string): { path: string; query_keys: string[] | null } {
  const q = pathWithQuery.indexOf('?')
  if (q < 0) return { path: pathWithQuery, query_keys: null }
  const keys = [...new Set([...new URLSearchParams(pathWithQuery.slice(q + 1)).keys()])]
  return { path: pathWithQuery.slice(0, q), query_keys: keys }
}

/** What masking needs from the secret scanner. */
export interface SecretMasker {
  /** True when any of `texts` holds a managed secret (one pass over all of them). */
  foundInFields(texts: readonly string[]): boolean
  /** `text` with every managed secret masked. */
  mask(text: string): string
}

/** maskAuditRecord's texts to search, reused from one record to the next. */
const RECORD_TEXTS: string[] = []

/**
 * Mask managed secrets in every text field of a record, in place, before it is written or handed
 * on: an agent that puts a secret in a host, path, query key or header name must not have sidekey
 * copy it into the audit log, security events, alerts, metrics labels, baselines or the console
 * (all of which are built from this record). The common case (none) costs one search.
 */
export function maskAuditRecord(record: AuditRecord, masker: SecretMasker): void {
  const fields = record as unknown as Record<string, unknown>
  // Every exchange passes here: the texts are gathered into one reused array (the search is
  // synchronous) and read in place, not copied out with Object.values first.
  const texts = RECORD_TEXTS
  for (const name in fields) {
    const value = fields[name]
    if (typeof value === 'string') texts.push(value)
    else if (Array.isArray(value)) for (const v of value as unknown[]) if (typeof v === 'string') texts.push(v)
  }
  const found = masker.foundInFields(texts)
  // Emptied at once, so it holds no record's text past this call.
  texts.length = 0
  if (!found) return
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string') fields[name] = masker.mask(value)
    else if (Array.isArray(value)) fields[name] = value.map((v: unknown) => (typeof v === 'string' ? masker.mask(v) : v))
  }
}

const round = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * 1000) / 1000)

/**
 * Write the line, at a level that follows the outcome: info when served, warn when refused, error
 * on faults.
 *
 * The line is the one pino would write (level label, ISO time, the logger's bindings, the fields,
 * `msg`), on the logger's own destination, but serialized with one `JSON.stringify` of the
 * fixed-shape record: pino's field-by-field serializer cost about 15 µs a line, the largest part
 * of sidekey's own work per request. The logger's level still decides whether it is written.
 */
export function writeAudit(log: Logger, record: AuditRecord, startedAt: number): void {
  record.total_ms = round(performance.now() - startedAt)!
  record.decision_ms = round(record.decision_ms)
  record.credential_ms = round(record.credential_ms)
  record.upstream_ms = round(record.upstream_ms)
  const level = auditLevel(record)
  if (log.isLevelEnabled(level)) writeSerialized(log, level, JSON.stringify(record), 'audit')
}

/**
 * The level of an audit line: `warn` when refused, `error` on faults, else `info`. An agent that
 * went away (SIDEKEY_ERR_AGENT_GONE) is neither refused nor a fault: its line is `info`, as a
 * cancelled call is no one's failure.
 */
function auditLevel(record: AuditRecord): 'info' | 'warn' | 'error' {
  if (record.error === 'SIDEKEY_ERR_AGENT_GONE') return 'info'
  if (record.decision === 'deny') return 'warn'
  return record.error !== null || (record.status ?? 0) >= 500 ? 'error' : 'info'
}

/**
 * The size of a request's line and headers as they go upstream, counted from the agent's own part
 * (the method, the target, each header name and value the agent sent), for the volume baseline.
 */
export function requestHeadBytes(method: string, path: string, rawHeaders: readonly string[]): number {
  // "METHOD SP target SP HTTP/1.1 CRLF", then "name: value CRLF" per header.
  let n = method.length + path.length + 12
  for (let i = 0; i < rawHeaders.length; i += 2) n += rawHeaders[i]!.length + rawHeaders[i + 1]!.length + 4
  return n
}
