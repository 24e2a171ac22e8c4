import { randomUUID } from 'node:crypto';
import { SidekeyError } from '../errors.js';
import { PERCENT_ENCODE } from '../http/raw-url-bytes.js';
import { newAuditRecord } from '../observe/audit.js';
import { destroyAfterGrace, refuseSocket } from './refuse.js';
import { tunnelAuditFields, tunnelOf } from './tunnel.js';
/**
 * Node's parser errors and the refusal each becomes. Node's strict defaults do the rejecting
 * (both Content-Length and Transfer-Encoding, obs-fold, bad header bytes: docs/architecture.md, rule 10); this
 * only turns the rejection into a specific answer and an audit line.
 */
const PARSER_ERRORS = {
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
};
/** Marks a connection whose parser failure has been reported (its audit line written). */
const REFUSED = Symbol('sidekey.parserFailureReported');
/**
 * A request Node's parser refused, or whose head did not arrive in time, on any of sidekey's HTTP
 * servers: a specific answer on the socket (inside a tunnel too) and one audit line. A body that
 * breaks after its request began fails that request instead (its own line); a malformed request
 * pipelined behind one still being answered gets its line, and the connection closes after that
 * answer rather than carrying a refusal the agent would read as it.
 */
export function onClientError(handlers, err, socket) {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
        socket.destroy();
        return;
    }
    // Node's parser reports each later chunk of data on a failed connection again: one line, one refusal.
    if (socket[REFUSED] === true)
        return;
    const inFlight = responseInFlight(socket);
    if (inFlight !== null && (err.code === 'HPE_INVALID_EOF_STATE' || !inFlight.req.complete)) {
        // The head was read and the request handed to the stages; what broke is its body. That
        // request's own audit line reports it, so none is written here: the connection ending mid-body
        // (HPE_INVALID_EOF_STATE) is the agent going away (SIDEKEY_ERR_AGENT_GONE); a body that breaks
        // HTTP/1.1's framing (a bad chunk size, a chunk without its CRLF) fails the request with this
        // refusal. Node's request then closes the connection, whose parser cannot go on.
        if (err.code !== 'HPE_INVALID_EOF_STATE')
            inFlight.req.destroy(malformedBody(err.code));
        socket.destroy();
        return;
    }
    ;
    socket[REFUSED] = true;
    const [code, message, reason] = PARSER_ERRORS[err.code ?? ''] ?? ['SIDEKEY_ERR_BAD_REQUEST', 'malformed HTTP request', 'malformed-request'];
    const id = randomUUID();
    const tunnel = tunnelOf(socket);
    const audit = newAuditRecord('request', id, tunnel?.id ?? null);
    audit.decision = 'deny';
    audit.reason = reason;
    audit.error = code;
    const refusal = new SidekeyError(code, message);
    audit.status = refusal.status;
    if (tunnel !== null)
        Object.assign(audit, tunnelAuditFields(tunnel));
    handlers.audit(audit, performance.now());
    if (inFlight === null) {
        refuseSocket(socket, refusal, id, reason);
        return;
    }
    // A request pipelined after one still being answered (whose body is whole): a refusal written
    // now would reach the agent as that request's answer. That answer goes out whole, and the
    // connection closes after it, with nothing more read from it.
    inFlight.once('finish', () => socket.end());
    inFlight.once('close', () => destroyAfterGrace(socket));
}
/**
 * The response to a request on `socket` that was handed to the stages and is not answered yet
 * (Node's in-flight response, the one its own clientError handler checks; `req` is that request),
 * or null.
 */
function responseInFlight(socket) {
    return socket._httpMessage ?? null;
}
/** The refusal of a request whose body broke HTTP/1.1's framing after its head was read. */
function malformedBody(parserCode) {
    const what = parserCode === 'HPE_INVALID_CHUNK_SIZE' ? 'a chunk size that is not one' : parserCode === 'HPE_CR_EXPECTED' || parserCode === 'HPE_LF_EXPECTED' || parserCode === 'HPE_STRICT' ? 'a chunk not ended by CRLF' : `a framing error (${parserCode ?? 'unknown'})`;
    return new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', `the request body broke HTTP/1.1's chunked framing (${what}); the connection was closed and nothing of the body was sent as complete: send a well-formed chunked body, or a Content-Length`);
}
//# sourceMappingURL=client-error.js.map