import { signAws } from '../credentials/cloud/aws-sigv4.js';
import { SidekeyError } from '../errors.js';
import { foldHeaders } from '../http/message.js';
import { hostHeader } from '../policy/host.js';
import { awsScope } from './aws-scope.js';
import { signingKey, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER } from './sigv4-chunked.js';
/**
 * Sign a forwarded request with SigV4 and the route's temporary AWS keys. The agent's SDK signed
 * it with placeholder keys (already stripped); sidekey signs the same request again: the same
 * service and region (from the SDK's credential scope unless the route says), the same headers
 * the SDK signed, and the payload hash the SDK sent in `x-amz-content-sha256` (S3), or the hash of
 * the buffered body, or `UNSIGNED-PAYLOAD` where the route allows it for large streamed bodies.
 * For a chunk-signed upload it returns what the body's chunks must be signed again with (their
 * signatures chain from the new request signature); otherwise null.
 */
export async function signForwarded(out, request, injection, credentials, body, credentialName) {
    const scope = awsScope(request.agentAuthorization, request.host, injection);
    if (scope === null)
        throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${credentialName}": cannot tell which AWS service and region ${request.host} is; set inject.sigv4.service and region on the route`);
    // Signed as sent: repeated fields are sent folded, in the one form every stage uses.
    const headers = foldHeaders(out.headers);
    headers.host ??= hostHeader(request, request.scheme);
    let payloadHash;
    const claimed = headers['x-amz-content-sha256'];
    // A STREAMING-* body is framed for that mode (aws-chunked): it keeps its mode whatever the route.
    if (injection.unsignedPayload && !claimed?.startsWith('STREAMING-'))
        payloadHash = 'UNSIGNED-PAYLOAD';
    else if (claimed !== undefined)
        payloadHash = claimed;
    else if (body === null && request.hasBody) {
        // guard/request-guard.ts buffers such a body; reaching here unbuffered is a fault, refused.
        throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${credentialName}": the request body must be hashed to sign it and was not buffered`);
    }
    const agentSigned = /SignedHeaders=([a-z0-9;-]+)/i.exec(request.agentAuthorization ?? '')?.[1]?.toLowerCase().split(';');
    const signed = await signAws({
        method: request.method,
        url: new URL(`${request.scheme}://${headers.host}${out.path}`),
        headers,
        body,
        ...(payloadHash !== undefined ? { payloadHash } : {}),
        ...(agentSigned !== undefined ? { signableHeaders: agentSigned.filter((h) => headers[h] !== undefined) } : {}),
    }, credentials, scope);
    const replaced = new Set(Object.keys(signed));
    const kept = [];
    for (let i = 0; i < out.headers.length; i += 2)
        if (!replaced.has(out.headers[i].toLowerCase()))
            kept.push(out.headers[i], out.headers[i + 1]);
    for (const [name, value] of Object.entries(signed))
        kept.push(name, value);
    out.headers = kept;
    if (payloadHash !== STREAMING_SIGNED && payloadHash !== STREAMING_SIGNED_TRAILER)
        return null;
    const seedSignature = /Signature=([0-9a-f]{64})/.exec(signed.authorization ?? '')?.[1];
    const amzDate = signed['x-amz-date'];
    if (seedSignature === undefined || amzDate === undefined)
        throw new SidekeyError('SIDEKEY_ERR_INTERNAL', 'the SigV4 signer returned no signature');
    const date = amzDate.slice(0, 8);
    return {
        signingKey: signingKey(credentials.secretAccessKey, date, scope.region, scope.service),
        amzDate,
        scope: `${date}/${scope.region}/${scope.service}/aws4_request`,
        seedSignature,
        trailer: payloadHash === STREAMING_SIGNED_TRAILER,
    };
}
//# sourceMappingURL=sigv4.js.map