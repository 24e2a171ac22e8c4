import { agentGone, ConditionRefusal, SidekeyError } from '../errors.js';
/**
 * Buffer a request body that must be read before the request is decided (CEL over `body`, a held
 * approval, a size limit without Content-Length). Bounded: past `limit` bytes the request is
 * refused with 413 and the rest is not read. A body the agent cut short (its connection closed, its
 * HTTP/2 stream reset) fails with the request's own refusal, or SIDEKEY_ERR_AGENT_GONE.
 */
export function readBody(req, limit) {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit)
        return Promise.reject(tooLarge(limit));
    return new Promise((resolve, reject) => {
        const chunks = [];
        let size = 0;
        const done = (err) => {
            req.off('data', onData);
            req.off('end', onEnd);
            req.off('error', onError);
            req.off('close', onClose);
            if (err === null)
                resolve(Buffer.concat(chunks, size));
            else
                reject(err);
        };
        const onData = (chunk) => {
            size += chunk.length;
            if (size > limit) {
                req.pause();
                done(tooLarge(limit));
                return;
            }
            chunks.push(chunk);
        };
        const onEnd = () => done(null);
        // An HTTP/2 request fails with its own refusal (accept/h2-server-request.ts); Node's HTTP/1.1
        // request with ECONNRESET "aborted", which is the agent gone.
        const onError = (err) => done(err instanceof SidekeyError ? err : cutShort(err));
        const onClose = () => {
            if (!req.complete)
                done(cutShort());
        };
        req.on('data', onData);
        req.on('end', onEnd);
        req.on('error', onError);
        req.on('close', onClose);
    });
}
function cutShort(cause) {
    return agentGone('the agent closed the connection before its request body ended; nothing of it was decided on or sent', cause);
}
function tooLarge(limit) {
    return new ConditionRefusal('SIDEKEY_ERR_BODY_TOO_LARGE', 'max_body_bytes', `the request body is larger than ${limit} bytes, the most this route accepts or inspects`);
}
/** The body as JSON, or undefined when it is empty or not JSON. */
export function parseJsonBody(body) {
    if (body === null || body.length === 0)
        return undefined;
    try {
        return JSON.parse(body.toString('utf8'));
    }
    catch {
        return undefined;
    }
}
//# sourceMappingURL=body.js.map