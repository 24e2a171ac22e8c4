import { createHash } from 'node:crypto';
import { foldHeaders } from '../http/message.js';
/**
 * What an asynchronous approval is bound to: a SHA-256 over who asks (workload), on which route,
 * and what is sent (method, host, port, path, query, content type, body). A retry carrying the
 * same bytes there gets the same approval; any difference is a different request, asked about
 * anew. Other headers are left out: clients change some on every retry (the OpenAI SDK's
 * `x-stainless-retry-count`, request ids, dates), and the content type is the one that changes
 * what the body means. The hash is hex and holds no request text, so it can be a store key.
 */
export function requestHash(h) {
    const contentType = foldHeaders(h.rawHeaders)['content-type'] ?? '';
    const hash = createHash('sha256');
    // Length-prefixed fields, so no two different requests join to the same bytes.
    for (const field of [h.workload ?? '', h.route.name, h.method, h.host, String(h.port), h.path, h.query, contentType]) {
        hash.update(`${Buffer.byteLength(field)}:`).update(field);
    }
    hash.update(`${h.body?.length ?? 0}:`);
    if (h.body !== null)
        hash.update(h.body);
    return hash.digest('hex');
}
//# sourceMappingURL=request-hash.js.map