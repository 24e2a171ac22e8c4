import { randomUUID } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { SidekeyError, type ErrorCode } from '../errors.js'
import { PERCENT_ENCODE } from '../http/raw-url-bytes.js'
import { newAuditRecord } from '../observe/audit.js'
import type { EntryHandlers } from './entry-handlers.js'
import { refuseSocket } from './refuse.js'
import { tunnelOf } from './tunnel.js'

/**
 * Node's parser errors and the refusal each becomes. Node's strict defaults do the rejecting
 * (both Content-Length and Transfer-Encoding, obs-fold, bad header bytes: docs/architecture.md, rule 10); this
 * only turns the rejection into a specific answer and an audit line.
 */
const PARSER_ERRORS: Record<string, [ErrorCode, string, string]> = {
  HPE_HEADER_OVERFLOW: ['SIDEKEY_ERR_HEADERS_TOO_LARGE', 'the request headers are too large', 'malformed-request'],
  HPE_UNEXPECTED_CONTENT_LENGTH: ['SIDEKEY_ERR_BAD_REQUEST', 'Content-Length together with Transfer-Encoding is refused (request smuggling)', 'malformed-request'],
  HPE_INVALID_TRANSFER_ENCODING: ['SIDEKEY_ERR_BAD_REQUEST', 'invalid Transfer-Encoding', 'malformed-request'],
  HPE_INVALID_CONTENT_LENGTH: ['SIDEKEY_ERR_BAD_REQUEST', 'invalid Content-Length', 'malformed-request'],
  HPE_INVALID_HEADER_TOKEN: ['SIDEKEY_ERR_INVALID_HEADER', 'a header has bytes HTTP does not allow', 'malformed-request'],
  HPE_LF_EXPECTED: ['SIDEKEY_ERR_BAD_REQUEST', 'bare LF or obs-fold in the request head', 'malformed-request'],
  HPE_CR_EXPECTED: ['SIDEKEY_ERR_BAD_REQUEST', 'bare CR in the request head', 'malformed-request'],
  // A byte the URL may not carry raw: a control byte, DEL, or any byte over 0x7E (UTF-8 text).
  HPE_INVALID_URL: ['SIDEKEY_ERR_BAD_REQUEST', `the request target is not a valid URL: it holds a byte a URL may not carry raw (a control byte, or the UTF-8 of non-ASCII text), or does not start with "/" or a scheme; ${PERCENT_ENCODE}`, 'malformed-request'],
  // Node's head timeout (headersTimeout): the head was not complete in time (a slow-loris client).
  ERR_HTTP_REQUEST_TIMEOUT: ['SIDEKEY_ERR_HEAD_TIMEOUT', 'the request head did not arrive whole in time (--head-timeout); the connection is closed', 'head-timeout'],
}

/**
 * A request Node's parser refused, or whose head did not arrive in time, on any of sidekey's HTTP
 * servers: a specific answer on the socket (inside a tunnel too) and one audit line.
 */
export function onClientError(handlers: Pick<EntryHandlers, 'audit'>, err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable || (err.code === 'HPE_INVALID_EOF_STATE' && requestInFlight(socket))) {
    socket.destroy()
    return
  }
  const [code, message, reason] = PARSER_ERRORS[err.code ?? ''] ?? ['SIDEKEY_ERR_BAD_REQUEST', 'malformed HTTP request', 'malformed-request']
  const id = randomUUID()
  const tunnel = tunnelOf(socket)
  const audit = newAuditRecord('request', id, tunnel?.id ?? null)
  audit.decision = 'deny'
  audit.reason = reason
  audit.error = code
  const refusal = new SidekeyError(code, message)
  audit.status = refusal.status
  if (tunnel !== null) Object.assign(audit, { host: tunnel.authority.host, port: tunnel.authority.port, workload: tunnel.caller.workload })
  handlers.audit(audit, performance.now())
  refuseSocket(socket, refusal, id, reason)
}

/**
 * Whether a request on `socket` was handed to the stages and is not answered yet (Node's in-flight
 * response, the one its own clientError handler checks). Its connection ending mid-body
 * (HPE_INVALID_EOF_STATE) is the agent going away, which that request's own audit line reports
 * (SIDEKEY_ERR_AGENT_GONE): a second line would count it twice, as a malformed request.
 */
function requestInFlight(socket: Duplex): boolean {
  return (socket as Duplex & { _httpMessage?: unknown })._httpMessage != null
}
