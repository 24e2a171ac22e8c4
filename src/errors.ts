/**
 * Every refusal sidekey makes carries a stable code. `docs/errors.md` lists each one: it is
 * generated from `ERROR_CODES` by `npm run docs:errors`, and a test fails when it is stale.
 * `accept/refuse.ts` turns any of them into the HTTP answer the agent sees.
 *
 * One base class, one subclass per code, so callers can `instanceof` and tests can assert the code.
 */

/**
 * Every code sidekey can answer with, its HTTP status and what it means for the agent or the
 * operator (what was refused, why, and what to change). The source of `docs/errors.md`.
 */
export const ERROR_CODES = {
  SIDEKEY_ERR_BAD_REQUEST: { status: 400, meaning: 'The request is not valid HTTP (including Content-Length with Transfer-Encoding, obs-fold, bare CR/LF, a raw non-ASCII byte in the request target or HTTP/2 `:path`: percent-encode it; `Content-Type` sent twice) or names no usable destination.' },
  SIDEKEY_ERR_NOT_PROXY_REQUEST: { status: 400, meaning: 'An origin-form request reached the proxy port; send absolute-form or CONNECT.' },
  SIDEKEY_ERR_UNSUPPORTED_SCHEME: { status: 400, meaning: 'Only http, https, ws and wss destinations are proxied.' },
  SIDEKEY_ERR_AMBIGUOUS_PATH: { status: 400, meaning: 'The path holds a form servers read differently (an encoded `/`, `\\` or `.`, `;`, a control byte, `%25` before hex, a bare `%`, escaped bytes that are not UTF-8, a raw `\\`) and a route for the destination matches paths; the message names the form and what to send instead.' },
  SIDEKEY_ERR_METHOD_OVERRIDE: { status: 400, meaning: 'The request names another method in `X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override` or `_method`, and the route allowing that method does not set `method_override: true`; or the route deciding the method as sent has conditions or an approval that the overridden method\'s route would skip; or the override is not one method name; or it is a `_method` body field (always refused).' },
  SIDEKEY_ERR_GUARDED_VARIANT: { status: 400, meaning: 'The request is another spelling (letter case, a trailing slash or dot, HEAD for GET, PUT for PATCH and the reverse) of what a route with conditions or an approval names, and a later route would allow it without them; servers may read it as the same request. Send it as the route names it.' },
  SIDEKEY_ERR_AWS_REACH_REFUSED: { status: 403, meaning: 'On a SigV4 route, the request carries an S3 header that makes AWS act on another object than the URL\'s (`x-amz-copy-source`, `x-amz-copy-source-*`) or on who may read one (`x-amz-acl`, `x-amz-grant-*`, `x-amz-website-redirect-location`), or writes a subresource that does (`?acl`, `?policy`, `?publicAccessBlock`, `?ownershipControls`, `?website`, `?replication`), and the route does not name it in `inject.sigv4.allow`.' },
  SIDEKEY_ERR_INVALID_HEADER: { status: 400, meaning: 'A header name or value has bytes HTTP does not allow.' },
  SIDEKEY_ERR_HEADERS_TOO_LARGE: { status: 431, meaning: 'The request head exceeds `--max-header-size`.' },
  SIDEKEY_ERR_TOO_MANY_HEADERS: { status: 431, meaning: 'The request has more header fields than `--max-headers` (default 100): refused whole, never forwarded with some dropped.' },
  SIDEKEY_ERR_TRAILERS_REFUSED: { status: 400, meaning: 'The request announces (`Trailer`) or carries trailer fields after a chunked body; sidekey cannot forward them, so it refuses the request (a streamed body is cut before its last chunk) rather than forward it without them.' },
  SIDEKEY_ERR_HEAD_TIMEOUT: { status: 408, meaning: 'The request head (or, after CONNECT, the first byte) did not arrive whole within `--head-timeout`; the connection is closed.' },
  SIDEKEY_ERR_WORKLOAD_CONNECTION_LIMIT: { status: 429, meaning: 'The workload already holds `--max-connections-per-workload` open connections; close idle ones (keep-alive pools, tunnels) first. For CONNECT the status line says so.' },
  SIDEKEY_ERR_CONNECTION_LIMIT: { status: 503, meaning: 'sidekey holds `--max-connections` open connections in total (unidentified ones included); retry when some have closed.' },
  SIDEKEY_ERR_PROXY_AUTH_REQUIRED: { status: 407, meaning: 'No run token, and no route allows anonymous use here.' },
  SIDEKEY_ERR_PROXY_AUTH_INVALID: { status: 407, meaning: 'The `Proxy-Authorization` run token is unknown or revoked.' },
  SIDEKEY_ERR_NO_ROUTE: { status: 403, meaning: 'No route matches this destination, method and path (default deny); the message names the host, port and workload a route would need.' },
  SIDEKEY_ERR_ROUTE_DENIED: { status: 403, meaning: 'A route matched and its action is deny.' },
  SIDEKEY_ERR_WORKLOAD_NOT_ALLOWED: { status: 403, meaning: "A route matches the destination but not this workload; the message says to add the workload to the route's `workloads`." },
  SIDEKEY_ERR_HOST_MISMATCH: { status: 421, meaning: 'The Host header (or TLS SNI) disagrees with the CONNECT authority.' },
  SIDEKEY_ERR_SECRET_DETECTED: { status: 403, meaning: 'The request (host, URL, a header name or value, or the body) carries a secret that sidekey manages: the agent is exfiltrating it. Refused, reported as a security event, and the workload is quarantined.' },
  SIDEKEY_ERR_QUARANTINED: { status: 403, meaning: 'The workload is quarantined (by an anomaly response or an admin) until an admin releases it.' },
  SIDEKEY_ERR_THROTTLED: { status: 429, meaning: 'The workload is throttled after an anomaly; `Retry-After` says when to try again.' },
  SIDEKEY_ERR_OUTSIDE_TIME_WINDOW: { status: 403, meaning: "The route's time window (days, hours, time zone) does not include now." },
  SIDEKEY_ERR_BODIES_BUFFERED: { status: 429, meaning: 'The workload already has as many bytes of request bodies being read whole (for conditions, approvals, MCP) as it may hold at once (`--max-buffered-body-bytes`, default 64 MiB): end or cancel the requests in flight before sending more.' },
  SIDEKEY_ERR_BODIES_FULL: { status: 503, meaning: 'sidekey already holds as many bytes of request bodies being read whole, all workloads together, as it holds at once (four times `--max-buffered-body-bytes`); try again shortly.' },
  SIDEKEY_ERR_BODY_TOO_LARGE: { status: 413, meaning: "The request body is larger than the route's `max_body_bytes` (or than the 1 MiB sidekey buffers to evaluate CEL or hold a request for approval)." },
  SIDEKEY_ERR_CONDITION_FAILED: { status: 403, meaning: "A CEL condition of the route is false for this request; the message and the audit line's `condition` name it." },
  SIDEKEY_ERR_AMBIGUOUS_QUERY: { status: 400, meaning: 'A query parameter that a condition reads is given more than once (counting `%61mount`, `AMOUNT`, `amount[]` and `;`-separated forms as the same name), or in the body as well (a form, multipart or JSON field of the same name; any name in both when a condition reads the body): servers disagree on which value counts. Send it once, in one place.' },
  SIDEKEY_ERR_AMBIGUOUS_HEADER: { status: 400, meaning: 'A header that a condition reads is given more than once, or spelled with `_` for `-` (`X_Mode`, which CGI-style servers read as `X-Mode` and others as another header): servers disagree on which value counts. Send it once, spelled with `-`.' },
  SIDEKEY_ERR_AMBIGUOUS_BODY: { status: 400, meaning: 'A JSON body that a condition or an approver reads has a key twice, keys that differ only in letter case, or a `__proto__` key (at the path the message names); or is JSON sent as a form, or without a JSON Content-Type and holding `&` or `;`; or declares a charset other than UTF-8: parsers disagree on what it says. Send JSON once per key, as application/json in UTF-8.' },
  SIDEKEY_ERR_CONDITION_UNDECIDABLE: { status: 403, meaning: 'A CEL condition could not be evaluated (body not JSON, a field missing, a type error); refused, never guessed.' },
  SIDEKEY_ERR_RATE_LIMITED: { status: 429, meaning: "The route's rate limit for this workload is used up; `Retry-After` says when to try again." },
  SIDEKEY_ERR_QUOTA_EXCEEDED: { status: 429, meaning: "The route's hourly or daily quota for this workload is used up; `Retry-After` says when it resets." },
  SIDEKEY_ERR_APPROVAL_PENDING: { status: 403, meaning: 'The route asks a person asynchronously (`approval.mode: async`): nothing was sent; the body names the approval (`approval_id`) and `Retry-After` says when to send the identical request again. Once approved, that identical request (same method, URL, body and workload) goes through.' },
  SIDEKEY_ERR_APPROVAL_DENIED: { status: 403, meaning: 'A person denied the held request (the note, if any, is in the message).' },
  SIDEKEY_ERR_POLICY_CHANGED: { status: 409, meaning: 'A policy reload while the request waited for approval changed the route that asked for it (another route decides it now, or the route was rewritten: its destination, conditions, approval or MCP rules); nothing was sent. Send it again to have it decided, and asked about, under the policy in force. A reload that now denies it answers with that refusal instead.' },
  SIDEKEY_ERR_APPROVAL_TIMEOUT: { status: 403, meaning: 'Nobody decided the held request before its timeout: no decision means deny.' },
  SIDEKEY_ERR_APPROVAL_BODY_TOO_LARGE: { status: 413, meaning: 'The request needs approval and its body is larger than approvers are shown whole (`approvals.max_body_bytes`, default 64 KiB); it is not held.' },
  SIDEKEY_ERR_TOO_MANY_HELD: { status: 429, meaning: 'The workload already has `approvals.max_held_per_workload` (default 10) requests waiting for approval (or hung up on before they were decided, until they would have timed out); `Retry-After` says when the first of them ends at the latest.' },
  SIDEKEY_ERR_APPROVALS_FULL: { status: 503, meaning: '`approvals.max_held` (default 100) requests already wait for approval in this sidekey process; `Retry-After` says when the first ends at the latest.' },
  SIDEKEY_ERR_APPROVAL_SETTLED: { status: 409, meaning: 'Admin API: the approval was already decided, expired or cancelled; the first decision stands.' },
  SIDEKEY_ERR_APPROVAL_UNAVAILABLE: { status: 503, meaning: 'The request needs approval and the approval store cannot be reached (fail closed).' },
  SIDEKEY_ERR_PIN_MISMATCH: { status: 502, meaning: 'A pinned download did not have the pinned SHA-256: the response is cut before its last bytes (logged on the audit line; the agent sees a failed download), or refused with this 502 when none of it had gone out yet.' },
  SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE: { status: 502, meaning: 'The upstream answered a credentialed request in a content encoding sidekey cannot scrub for echoed secrets, or framed any answer with a transfer coding other than `chunked` (`Transfer-Encoding: gzip, chunked`); nothing of it was relayed.' },
  SIDEKEY_ERR_TLS_HANDSHAKE: { status: 400, meaning: "The agent's TLS handshake inside the tunnel failed; logged on the tunnel's audit line, with the reason `client-rejected-certificate` when the client sent an alert that it does not accept sidekey's certificate (it does not trust sidekey's CA: docs/clients.md)." },
  SIDEKEY_ERR_DESTINATION_BLOCKED: { status: 403, meaning: "The destination resolves to a loopback, private, link-local, CGNAT or other internal address that no route names; the message names the address, to list in the route's `addresses` if the destination is meant to be internal." },
  SIDEKEY_ERR_DNS: { status: 502, meaning: 'The destination host name could not be resolved.' },
  SIDEKEY_ERR_STATE_UNAVAILABLE: { status: 503, meaning: "The shared state store (Redis) cannot be reached and the route's rate limit or quota fails closed (`on_store_error: refuse`, the default); also admin calls that need the store, and every request on a replica that has not read the shared quarantine list since it started (`unknown_quarantine: refuse`, the default)." },
  SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE: { status: 502, meaning: "The route's credential could not be obtained (a variable unset in sidekey's own environment, an unreadable file, bytes a header cannot carry); nothing was sent upstream." },
  SIDEKEY_ERR_GRANT_RECONNECT: { status: 403, meaning: "The route's credential is a person's delegated OAuth grant that is missing, revoked, or was refused at refresh (`invalid_grant`): nothing was sent upstream, and retrying will not help until a person connects the account again (console: Connect, or `sidekey oauth connect NAME`). For MCP routes the same refusal is a JSON-RPC error." },
  SIDEKEY_ERR_OAUTH_CALLBACK: { status: 400, meaning: "Admin listener: an OAuth authorization callback was refused (its state is unknown, expired or already used, the browser is not the one that started it, the provider answered an error, or the code exchange failed); start Connect again." },
  SIDEKEY_ERR_UPSTREAM_CONNECT: { status: 502, meaning: 'The upstream refused the connection or its TLS certificate did not verify for the host, or, over HTTP/2, it allowed no stream (SETTINGS_MAX_CONCURRENT_STREAMS 0) for the second sidekey waits for it to raise the limit; nothing was sent.' },
  SIDEKEY_ERR_UPSTREAM_TIMEOUT: { status: 504, meaning: 'The upstream did not answer in time.' },
  SIDEKEY_ERR_UPSTREAM_RESET: { status: 502, meaning: "The upstream closed or reset the connection before a complete answer, or sent one that breaks HTTP (such as HTTP/2 DATA beyond its content-length). Once the status was sent (a sized answer's goes with its first bytes), the agent's response is cut instead, never given more bytes than it declared." },
  SIDEKEY_ERR_AGENT_GONE: { status: 499, meaning: "The agent closed its connection, or reset its HTTP/2 stream, before the exchange was over (499, nginx's \"client closed request\"): on the audit line and in metrics only, since no agent is left to read it. Whatever the request waited for (an approval, an upstream connection, the answer) was cancelled, and a request body cut short was never sent up as complete. Not the upstream's failure: that is `SIDEKEY_ERR_UPSTREAM_RESET`." },
  SIDEKEY_ERR_UPGRADE_FAILED: { status: 502, meaning: 'The upgraded (WebSocket) connection to the upstream failed.' },
  SIDEKEY_ERR_UPGRADE_REFUSED: { status: 403, meaning: 'The upgrade is not allowed: a route with a credential needs `upgrades: [websocket]`, and only a WebSocket upgrade (GET, no body) is relayed; never on an MCP route.' },
  SIDEKEY_ERR_WEBSOCKET_FRAME: { status: 400, meaning: 'A WebSocket frame broke RFC 6455 or could not be inspected (unmasked from the agent, masked from the upstream, reserved bits or opcodes, compressed); the connection was closed with 1002.' },
  SIDEKEY_ERR_MCP_INVALID: { status: 400, meaning: 'On an MCP route (`mcp:`), the POST body is not one JSON-RPC 2.0 message (or a batch where the revision allows one): not UTF-8 JSON (or a charset or content coding the server would decode otherwise), a key twice or two keys differing only in letter case (or a JSON-RPC member spelled in another case), nesting deeper than 32, a batch under revision 2025-06-18 or later, repeated ids. Answered as a JSON-RPC error (docs/mcp.md).' },
  SIDEKEY_ERR_MCP_HEADER_MISMATCH: { status: 400, meaning: "An `Mcp-Method`, `Mcp-Name` or `Mcp-Param-*` header disagrees with the JSON-RPC body (or is missing where revision 2026-07-28 requires it): the spec's HeaderMismatch (-32020). sidekey decides on the body; a header never authorizes anything." },
  SIDEKEY_ERR_MCP_DENIED: { status: 403, meaning: "The route's `mcp:` block does not allow this JSON-RPC method, tool, resource or prompt (a deny rule, or none matches: default deny). Answered as a JSON-RPC error naming the tool." },
  SIDEKEY_ERR_MCP_NAME_REFUSED: { status: 400, meaning: 'A tool or prompt name, or a resource URI, has characters outside what MCP names use (Unicode look-alikes, spaces, controls), or differs only in letter case from what a rule names, or a resource URI has a dot segment or an encoded separator or plain character: refused rather than matched one way by sidekey and another by the server.' },
  SIDEKEY_ERR_MCP_SESSION_UNKNOWN: { status: 404, meaning: 'The request names an MCP session (`Mcp-Session-Id`) this workload did not open through sidekey (another workload\'s, one older than a day, or one from before sidekey restarted). As with a server that no longer knows a session, the client starts a new one (`initialize` without the header).' },
  SIDEKEY_ERR_MCP_NO_SESSIONS: { status: 405, meaning: 'The MCP route is `stateless: true` (revision 2026-07-28): it has no session, so no GET stream and no DELETE.' },
  SIDEKEY_ERR_INTERNAL: { status: 500, meaning: 'An unexpected fault inside sidekey; the request was not forwarded.' },
  SIDEKEY_ERR_POLICY_INVALID: { status: 500, meaning: 'A policy file is invalid (`sidekey policy check`, startup, reload).' },
  SIDEKEY_ERR_CA: { status: 500, meaning: 'The CA certificate or key cannot be loaded or created (or the key file is readable by others).' },
  SIDEKEY_ERR_CONFIG: { status: 500, meaning: 'A startup setting is invalid.' },
  SIDEKEY_ERR_ADMIN_UNAUTHORIZED: { status: 401, meaning: 'An admin call that changes state lacks the admin token.' },
  SIDEKEY_ERR_ADMIN_CROSS_SITE: { status: 403, meaning: 'A browser sent a call that changes state (not GET) to the admin API from another site (`Sec-Fetch-Site` other than same-origin, or an `Origin` that is not the listener): only its own pages, and clients that are not browsers, may make such calls.' },
  SIDEKEY_ERR_ADMIN_HOST: { status: 421, meaning: 'The admin listener does not answer to the Host the request names (DNS-rebinding defence): call it by a loopback name or one set with `--admin-hosts`.' },
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
  /** Fields the refusal's JSON body carries besides code and message (an approval's id); never a secret. */
  readonly details: Readonly<Record<string, string | number>> | undefined

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterS?: number; details?: Readonly<Record<string, string | number>> }) {
    super(message, options)
    this.name = 'SidekeyError'
    this.code = code
    this.status = ERROR_CODES[code].status
    this.retryAfterS = options?.retryAfterS
    this.details = options?.details
  }
}

/**
 * The agent closed its connection or reset its stream before the exchange was over; `message` says
 * when ("the agent closed the connection while its request waited for approval"). Recorded as
 * SIDEKEY_ERR_AGENT_GONE, so an agent that hung up is never counted as an upstream that failed;
 * also the reason an upstream exchange under way is aborted with.
 */
export function agentGone(message: string, cause?: unknown): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_AGENT_GONE', message, cause === undefined ? undefined : { cause })
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
