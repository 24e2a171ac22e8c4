import { SidekeyError } from '../errors.js';
/** Largest admin request body accepted. */
const MAX_BODY = 16 * 1024;
/** Answer with a JSON body, never cached. */
export function send(res, status, body, headers = {}) {
    const text = JSON.stringify(body, null, 2);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
    res.end(text);
}
/** Read a small JSON request body (an empty one is `{}`). */
export async function readJson(req) {
    let size = 0;
    const chunks = [];
    for await (const chunk of req) {
        size += chunk.length;
        if (size > MAX_BODY)
            throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'admin request body too large');
        chunks.push(chunk);
    }
    try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    }
    catch {
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'admin request body is not JSON');
    }
}
//# sourceMappingURL=json.js.map