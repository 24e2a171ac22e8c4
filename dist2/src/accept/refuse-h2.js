import { reasonPhrase, refusalBody, refusalHeaders } from './refuse.js';
/**
 * How a refusal reaches a client on an HTTP/2 stream. The stream ends with the answer; the
 * connection and its other streams go on. A gRPC call is answered in gRPC's terms, so the
 * client's library surfaces the refusal (PERMISSION_DENIED, UNAUTHENTICATED, ...) instead of a
 * protocol error; anything else gets the JSON refusal every HTTP/1.1 client gets.
 */
/** gRPC status codes (grpc/grpc `doc/statuscodes.md`) sidekey answers with. */
export const GRPC_STATUS = {
    OK: 0,
    INVALID_ARGUMENT: 3,
    DEADLINE_EXCEEDED: 4,
    PERMISSION_DENIED: 7,
    RESOURCE_EXHAUSTED: 8,
    INTERNAL: 13,
    UNAVAILABLE: 14,
    UNAUTHENTICATED: 16,
};
/** True for a gRPC request: `content-type: application/grpc`, `application/grpc+proto`, ... */
export function isGrpc(contentType) {
    return contentType !== undefined && /^application\/grpc(?:[+;]|$)/i.test(contentType);
}
/**
 * The gRPC status for a refusal, from its HTTP status: a missing or refused run token is
 * UNAUTHENTICATED, a limit RESOURCE_EXHAUSTED, an upstream that cannot be reached or timed out
 * UNAVAILABLE or DEADLINE_EXCEEDED (codes clients retry on), sidekey's own fault INTERNAL, and
 * every other refusal (policy, a detected secret, a malformed request) PERMISSION_DENIED.
 */
export function grpcStatusOf(err) {
    switch (err.status) {
        case 401:
        case 407:
            return GRPC_STATUS.UNAUTHENTICATED;
        case 429:
            return GRPC_STATUS.RESOURCE_EXHAUSTED;
        case 502:
        case 503:
            return GRPC_STATUS.UNAVAILABLE;
        case 504:
            return GRPC_STATUS.DEADLINE_EXCEEDED;
        case 500:
            return GRPC_STATUS.INTERNAL;
        default:
            return GRPC_STATUS.PERMISSION_DENIED;
    }
}
/**
 * `grpc-message` is percent-encoded UTF-8 (gRPC `PROTOCOL-HTTP2.md`): everything outside printable
 * ASCII, and `%` itself, is escaped.
 */
export function grpcMessage(text) {
    return Array.from(Buffer.from(text, 'utf8'), (b) => (b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}
/**
 * Answer a refused stream: a gRPC call with HTTP 200 and the status in a Trailers-Only response
 * (one HEADERS frame that ends the stream: `grpc-status`, a `grpc-message` naming the sidekey error
 * code, and `x-sidekey-error`), anything else with the JSON refusal. Returns the gRPC status sent,
 * or null for a JSON refusal.
 */
export function refuseStream(res, err, requestId, reason, grpc) {
    if (!grpc) {
        const body = refusalBody(err, requestId, reason);
        // HTTP/2 has no reason phrase (RFC 9113 section 8.3.2): the message travels in x-sidekey-message.
        res.writeHead(err.status, refusalHeaders(err, body, requestId));
        res.end(body);
        return null;
    }
    const status = grpcStatusOf(err);
    res.statusCode = 200;
    res.setHeader('content-type', 'application/grpc');
    res.setHeader('grpc-status', String(status));
    res.setHeader('grpc-message', grpcMessage(reasonPhrase(err)));
    res.setHeader('x-sidekey-error', err.code);
    if (requestId !== null)
        res.setHeader('x-sidekey-request-id', requestId);
    // Ending before anything was written sends the head with END_STREAM: the Trailers-Only form.
    res.end();
    return status;
}
//# sourceMappingURL=refuse-h2.js.map