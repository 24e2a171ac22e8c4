/**
 * Every refusal sidekey makes carries a stable code. The README lists each one (a test checks),
 * and `accept/refuse.ts` turns any of them into the HTTP answer the agent sees.
 *
 * Modelled on jose's `util/errors.ts`: one base class, one subclass per code, so callers can
 * `instanceof` and tests can assert the code.
 */

/** Every code sidekey can answer with, its HTTP status and a one-line meaning (README source). */
export const ERROR_CODES = {
  SIDEKEY_ERR_BAD_REQUEST: { status: 400, meaning: 'The request is not valid HTTP or names no usable destination.' },
  SIDEKEY_ERR_NOT_PROXY_REQUEST: { status: 400, meaning: 'An origin-form request reached the proxy port; send absolute-form or CONNECT.' },
  SIDEKEY_ERR_UNSUPPORTED_SCHEME: { status: 400, meaning: 'Only http, https, ws and wss destinations are proxied.' },
  SIDEKEY_ERR_AMBIGUOUS_PATH: { status: 400, meaning: 'The path holds a form servers read differently (an encoded "/", "\\" or ".", ";", a control byte, double encoding) and a route for the destination matches paths; the message says what to send instead.' },
  SIDEKEY_ERR_METHOD_OVERRIDE: { status: 400, meaning: 'The request names another method in X-HTTP-Method-Override (or X-HTTP-Method, X-Method-Override, _method) and no route accepting overrides allows it, or the override is unclear, or it is a _method body field.' },
  SIDEKEY_ERR_INVALID_HEADER: { status: 400, meaning: 'A header name or value has bytes HTTP does not allow.' },
  SIDEKEY_ERR_HEADERS_TOO_LARGE: { status: 431, meaning: 'The request headers exceed the configured limit.' },
  SIDEKEY_ERR_TOO_MANY_HEADERS: { status: 431, meaning: 'The request has more header fields than sidekey forwards whole (`--max-headers`); nothing was forwarded.' },
  SIDEKEY_ERR_TRAILERS_REFUSED: { status: 400, meaning: 'The request carries (or announces) trailer fields, which sidekey cannot forward; refused rather than forwarded without them.' },
  SIDEKEY_ERR_HEAD_TIMEOUT: { status: 408, meaning: 'The request head (or, after CONNECT, the first byte) did not arrive whole within `--head-timeout`; the connection is closed.' },
  SIDEKEY_ERR_WORKLOAD_CONNECTION_LIMIT: { status: 429, meaning: 'The workload already holds as many open connections as one workload may (`--max-connections-per-workload`); close idle ones (keep-alive pools, tunnels) first.' },
  SIDEKEY_ERR_CONNECTION_LIMIT: { status: 503, meaning: 'sidekey holds as many open connections as it accepts in total (`--max-connections`); retry when some have closed.' },
  SIDEKEY_ERR_PROXY_AUTH_REQUIRED: { status: 407, meaning: 'No run token was presented and no route allows anonymous use here.' },
  SIDEKEY_ERR_PROXY_AUTH_INVALID: { status: 407, meaning: 'The Proxy-Authorization run token is unknown or revoked.' },
  SIDEKEY_ERR_NO_ROUTE: { status: 403, meaning: 'No route matches this destination, method and path (default deny).' },
  SIDEKEY_ERR_ROUTE_DENIED: { status: 403, meaning: 'A route matched and its action is deny.' },
  SIDEKEY_ERR_WORKLOAD_NOT_ALLOWED: { status: 403, meaning: 'A route matches the destination but not this workload.' },
  SIDEKEY_ERR_HOST_MISMATCH: { status: 421, meaning: 'The Host header (or TLS SNI) disagrees with the CONNECT authority.' },
  SIDEKEY_ERR_SECRET_DETECTED: { status: 403, meaning: 'The request carries a secret that sidekey manages (exfiltration); it is refused and the workload quarantined.' },
  SIDEKEY_ERR_QUARANTINED: { status: 403, meaning: 'The workload is quarantined (an anomaly or an admin) until an admin releases it.' },
  SIDEKEY_ERR_THROTTLED: { status: 429, meaning: 'The workload is throttled after an anomaly; Retry-After says when to try again.' },
  SIDEKEY_ERR_OUTSIDE_TIME_WINDOW: { status: 403, meaning: "The route's time window (days, hours, time zone) does not include now." },
  SIDEKEY_ERR_BODY_TOO_LARGE: { status: 413, meaning: "The request body is larger than the route's max_body_bytes (or than what sidekey buffers to inspect it)." },
  SIDEKEY_ERR_CONDITION_FAILED: { status: 403, meaning: "A CEL condition of the route is false for this request; the condition is named." },
  SIDEKEY_ERR_AMBIGUOUS_QUERY: { status: 400, meaning: 'A query parameter a condition reads is given more than once (in any spelling a server reads as the same name); servers disagree on which value counts.' },
  SIDEKEY_ERR_AMBIGUOUS_BODY: { status: 400, meaning: 'A JSON body that a condition or an approver reads has a key twice, keys differing only in letter case, or is declared as a form; parsers disagree on what it says.' },
  SIDEKEY_ERR_CONDITION_UNDECIDABLE: { status: 403, meaning: 'A CEL condition could not be evaluated (body not JSON, a field missing); refused, never guessed.' },
  SIDEKEY_ERR_RATE_LIMITED: { status: 429, meaning: "The route's rate limit for this workload is used up; Retry-After says when to try again." },
  SIDEKEY_ERR_QUOTA_EXCEEDED: { status: 429, meaning: "The route's hourly or daily quota for this workload is used up; Retry-After says when it resets." },
  SIDEKEY_ERR_APPROVAL_DENIED: { status: 403, meaning: 'A person denied the held request.' },
  SIDEKEY_ERR_APPROVAL_TIMEOUT: { status: 403, meaning: 'Nobody approved the held request before its timeout (no decision means deny).' },
  SIDEKEY_ERR_APPROVAL_BODY_TOO_LARGE: { status: 413, meaning: 'The request needs approval and its body is larger than approvers are shown whole (approvals.max_body_bytes); it is not held.' },
  SIDEKEY_ERR_TOO_MANY_HELD: { status: 429, meaning: 'The workload already has as many requests waiting for approval as it may (approvals.max_held_per_workload); Retry-After says when one ends at the latest.' },
  SIDEKEY_ERR_APPROVALS_FULL: { status: 503, meaning: 'As many requests wait for approval as sidekey holds at once (approvals.max_held); Retry-After says when one ends at the latest.' },
  SIDEKEY_ERR_APPROVAL_SETTLED: { status: 409, meaning: 'The approval was already decided (or expired); the first decision stands.' },
  SIDEKEY_ERR_APPROVAL_UNAVAILABLE: { status: 503, meaning: 'The request needs approval and the approval store cannot be reached (fail closed).' },
  SIDEKEY_ERR_PIN_MISMATCH: { status: 502, meaning: 'A pinned download did not have the pinned SHA-256; the response was cut before its end.' },
  SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE: { status: 502, meaning: 'The upstream answered in a content coding sidekey cannot decode to scrub echoed secrets, or framed it with a transfer coding other than chunked; nothing of it was relayed.' },
  SIDEKEY_ERR_TLS_HANDSHAKE: { status: 400, meaning: "The agent's TLS handshake inside the tunnel failed (does it trust sidekey's CA?)." },
  SIDEKEY_ERR_DESTINATION_BLOCKED: { status: 403, meaning: 'The destination resolves to a loopback, private, link-local, CGNAT or otherwise internal address that no route names.' },
  SIDEKEY_ERR_DNS: { status: 502, meaning: 'The destination host name could not be resolved.' },
  SIDEKEY_ERR_STATE_UNAVAILABLE: { status: 503, meaning: "The shared state store (Redis) cannot be reached and this route's rate limit or quota fails closed (on_store_error: refuse), or an admin call needs it." },
  SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE: { status: 502, meaning: 'The credential for this route could not be obtained; nothing was sent upstream.' },
  SIDEKEY_ERR_UPSTREAM_CONNECT: { status: 502, meaning: 'The upstream refused the connection or its TLS certificate did not verify.' },
  SIDEKEY_ERR_UPSTREAM_TIMEOUT: { status: 504, meaning: 'The upstream did not answer in time.' },
  SIDEKEY_ERR_UPSTREAM_RESET: { status: 502, meaning: 'The upstream closed or reset the connection before a complete answer.' },
  SIDEKEY_ERR_UPGRADE_FAILED: { status: 502, meaning: 'The upgraded (WebSocket) connection to the upstream failed.' },
  SIDEKEY_ERR_UPGRADE_REFUSED: { status: 403, meaning: 'The upgrade is not allowed: a route with a credential needs `upgrades: [websocket]`, and only a WebSocket upgrade (GET, no body) is relayed.' },
  SIDEKEY_ERR_WEBSOCKET_FRAME: { status: 400, meaning: 'A WebSocket frame broke RFC 6455 or could not be inspected (unmasked from the agent, masked from the upstream, reserved bits or opcodes, compressed); the connection was closed with 1002.' },
  SIDEKEY_ERR_INTERNAL: { status: 500, meaning: 'An unexpected fault inside sidekey; the request was not forwarded.' },
  SIDEKEY_ERR_POLICY_INVALID: { status: 500, meaning: 'A policy file is invalid (reported by `sidekey policy check` and at load).' },
  SIDEKEY_ERR_CA: { status: 500, meaning: 'The CA certificate or key cannot be loaded or created.' },
  SIDEKEY_ERR_CONFIG: { status: 500, meaning: 'A startup setting is invalid.' },
  SIDEKEY_ERR_ADMIN_UNAUTHORIZED: { status: 401, meaning: 'An admin API call that changes state lacks the admin token.' },
  SIDEKEY_ERR_ADMIN_HOST: { status: 421, meaning: 'The admin listener does not answer to the Host this request names (DNS-rebinding defence); call it by a loopback name or one set with `--admin-hosts`.' },
  SIDEKEY_ERR_NOT_FOUND: { status: 404, meaning: 'The admin API has no such resource.' },
} as const satisfies Record<string, { status: number; meaning: string }>

/** A stable sidekey error code. */
export type ErrorCode = keyof typeof ERROR_CODES

/** Base class of every run-time refusal. `code` is stable; `message` is safe to show the agent. */
export class SidekeyError extends Error {
  readonly code: ErrorCode
  readonly status: number
  /** Seconds the agent should wait before retrying (sent as Retry-After), for 429s. */
  readonly retryAfterS: number | undefined

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterS?: number }) {
    super(message, options)
    this.name = 'SidekeyError'
    this.code = code
    this.status = ERROR_CODES[code].status
    this.retryAfterS = options?.retryAfterS
  }
}

/** A refusal by one of a route's conditions; `condition` names it (audit line, explain). */
export class ConditionRefusal extends SidekeyError {
  readonly condition: string

  constructor(code: ErrorCode, condition: string, message: string, options?: { retryAfterS?: number }) {
    super(code, message, options)
    this.name = 'ConditionRefusal'
    this.condition = condition
  }
}

/** A policy set that failed validation; `problems` lists every error with file and line. */
export class PolicyInvalidError extends SidekeyError {
  readonly problems: readonly PolicyProblem[]

  constructor(problems: readonly PolicyProblem[]) {
    super('SIDEKEY_ERR_POLICY_INVALID', `policy invalid: ${problems.length} problem(s)\n${problems.map(formatProblem).join('\n')}`)
    this.name = 'PolicyInvalidError'
    this.problems = problems
  }
}

/** One problem found in a policy file. `line` is 1-based; 0 when the file could not be parsed at all. */
export interface PolicyProblem {
  file: string
  line: number
  path: string
  message: string
}

/** `file:line: path: message`, the format editors and CI annotate. */
export function formatProblem(p: PolicyProblem): string {
  return `${p.file}:${p.line}: ${p.path || '(document)'}: ${p.message}`
}

/** True when `e` carries one of sidekey's codes. */
export function isSidekeyError(e: unknown): e is SidekeyError {
  return e instanceof SidekeyError
}
