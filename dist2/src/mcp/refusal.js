import { reasonPhrase, refusalHeaders } from '../accept/refuse.js';
import { SidekeyError } from '../errors.js';
import { HEADER_MISMATCH } from './headers.js';
/**
 * A refusal on an MCP route, once its body is parsed, said in MCP's terms: a JSON-RPC error
 * response carrying the request's id, so the agent's MCP client hands it to the model as the
 * call's error instead of failing the transport. Every sidekey code comes out this way (the
 * exchange's refusal answer is switched once, not per code); the `x-sidekey-error` header and the
 * `data` member still carry the code for programs.
 *
 * Status: 200 when the body holds a request (a JSON-RPC error is a normal answer to it);
 * HeaderMismatch is 400, as the spec requires; a body of notifications or responses only gets the
 * code's own status (the transport says the server "MUST return an HTTP error status" when it
 * cannot accept one), with an error whose id is null.
 */
/** The JSON-RPC code for a sidekey refusal that JSON-RPC has no code of its own for (implementation-defined range). */
export const SIDEKEY_REFUSED = -32003;
/** Write `err` for the parsed `messages` onto `res`; returns the status sent. */
export function refuseMcp(res, err, messages, context, requestId, reason, batch) {
    const jsonrpcCode = typeof err.details?.jsonrpc_code === 'number' ? err.details.jsonrpc_code : SIDEKEY_REFUSED;
    const about = context.subject === null ? '' : ` ${context.subject}`;
    const error = {
        code: jsonrpcCode,
        message: `sidekey refused${about}: ${err.message} (${err.code})`,
        data: { sidekey_error: err.code, reason, request_id: requestId, ...(context.subject === null ? {} : { call: context.subject }), ...(err.retryAfterS === undefined ? {} : { retry_after_s: err.retryAfterS }), ...withoutEnvelopeFields(err.details) },
    };
    const ids = messages.filter((m) => m.kind === 'request').map((m) => m.id);
    const answers = (ids.length === 0 ? [null] : ids).map((id) => ({ jsonrpc: '2.0', id, error }));
    const text = JSON.stringify(batch && ids.length > 0 ? answers : answers[0]);
    const status = ids.length === 0 ? err.status : jsonrpcCode === HEADER_MISMATCH ? 400 : 200;
    res.writeHead(status, status === 200 ? 'OK' : reasonPhrase(err), refusalHeaders(err, text, requestId));
    res.end(text);
    return status;
}
/** The refusal's details for `data`, but the two that are said in the envelope itself (code and id). */
function withoutEnvelopeFields(details) {
    return Object.fromEntries(Object.entries(details ?? {}).filter(([k]) => k !== 'jsonrpc_code' && k !== 'jsonrpc_id'));
}
/**
 * The messages a refusal of a body that did not parse answers: the one request whose id could be
 * read (`jsonrpc_id`), or none (the error then has a null id and the code's own HTTP status).
 */
export function unparsedMessages(err) {
    const id = err instanceof SidekeyError ? err.details?.jsonrpc_id : undefined;
    return id === undefined ? [] : [{ kind: 'request', id, method: '', params: undefined }];
}
//# sourceMappingURL=refusal.js.map