import { createHash } from 'node:crypto';
import { lazyModule } from '../../lazy-module.js';
/**
 * Sign with SigV4 and return the headers to add: authorization, x-amz-date, and
 * x-amz-security-token for temporary credentials. S3 signs its path as sent; every other
 * service's path is normalised and encoded once more, as the SDKs do.
 */
export async function signAws(req, credentials, scope, at = new Date()) {
    const signer = signerFor(credentials, scope);
    const query = {};
    for (const part of req.url.search.slice(1).split('&').filter(Boolean)) {
        const eq = part.indexOf('=');
        const key = decodeURIComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, '%20'));
        const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, '%20'));
        const prev = query[key];
        query[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    }
    const headers = { ...req.headers };
    if (req.payloadHash !== undefined)
        headers['x-amz-content-sha256'] = req.payloadHash;
    const signed = await signer.sign({
        method: req.method,
        protocol: req.url.protocol,
        hostname: req.url.hostname,
        ...(req.url.port !== '' ? { port: Number(req.url.port) } : {}),
        path: req.url.pathname,
        query,
        headers,
        body: req.body ?? undefined,
    }, { signingDate: at, ...(req.signableHeaders !== undefined ? { signableHeaders: new Set(req.signableHeaders) } : {}) });
    const out = {};
    for (const [name, value] of Object.entries(signed.headers)) {
        const lower = name.toLowerCase();
        if (lower === 'authorization' || lower === 'x-amz-date' || lower === 'x-amz-security-token' || (lower === 'x-amz-content-sha256' && req.payloadHash !== undefined))
            out[lower] = value;
    }
    return out;
}
/** Loaded by the first AWS request: a policy without AWS credentials never loads the SDK's signer. */
const signatureV4 = lazyModule('@smithy/signature-v4');
const hashNode = lazyModule('@smithy/hash-node');
/** Signers by keys and scope: each keeps its derived signing key for the day, so it is derived once, not per request. */
const signers = new Map();
const MAX_SIGNERS = 64;
function signerFor(credentials, scope) {
    const key = `${credentials.accessKeyId}\0${credentials.secretAccessKey}\0${'sessionToken' in credentials ? credentials.sessionToken : ''}\0${scope.service}\0${scope.region}`;
    let signer = signers.get(key);
    if (signer === undefined) {
        // Keys rotate hourly: old signers are simply dropped once there are many.
        if (signers.size >= MAX_SIGNERS)
            signers.clear();
        signer = new (signatureV4().SignatureV4)({ service: scope.service, region: scope.region, credentials, sha256: hashNode().Hash.bind(null, 'sha256'), uriEscapePath: scope.service !== 's3', applyChecksum: false });
        signers.set(key, signer);
    }
    return signer;
}
/** SHA-256 of a body in hex, as SigV4 wants it. */
export function payloadSha256(body) {
    return createHash('sha256').update(body ?? Buffer.alloc(0)).digest('hex');
}
//# sourceMappingURL=aws-sigv4.js.map