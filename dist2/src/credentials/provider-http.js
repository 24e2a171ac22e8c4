import { request } from '../http/undici.js';
import { SidekeyError } from '../errors.js';
/**
 * One call to a credential provider's API (token endpoints, AWS STS, Google IAM Credentials, Vault), with
 * the runtime's connection pool and timeout. Network failures become SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE
 * naming the credential and what went wrong, never a token; the caller reads status and body.
 */
export async function callProvider(transport, credential, what, url, init) {
    try {
        const res = await request(url, {
            method: init.method,
            headers: init.headers,
            body: init.body,
            dispatcher: transport.dispatcher,
            headersTimeout: transport.timeoutMs,
            bodyTimeout: transport.timeoutMs,
            signal: AbortSignal.timeout(transport.timeoutMs),
        });
        return { status: res.statusCode, text: await boundedText(res.body, credential, what), headers: res.headers };
    }
    catch (cause) {
        if (cause instanceof SidekeyError)
            throw cause;
        const timeout = /Timeout/.test(cause.name ?? '');
        const code = cause.code;
        const why = timeout ? `did not answer within ${transport.timeoutMs} ms` : code === INTERNAL_ADDRESS ? `is refused: ${cause.message}` : `is unreachable (${code ?? cause.message})`;
        throw providerFailure(credential, `${what} ${why}`, cause);
    }
}
/** The error code of a connection refused because a discovered name resolved to an internal address. */
export const INTERNAL_ADDRESS = 'SIDEKEY_INTERNAL_ADDRESS';
/**
 * The most a provider's answer may hold. Token, metadata and registration answers are a few KiB;
 * a provider (or a discovered one: an MCP server's authorization server) that streams more is
 * refused rather than buffered, so it cannot exhaust sidekey's memory.
 */
export const MAX_PROVIDER_ANSWER_BYTES = 1024 * 1024;
async function boundedText(body, credential, what) {
    const chunks = [];
    let size = 0;
    for await (const chunk of body) {
        size += chunk.length;
        if (size > MAX_PROVIDER_ANSWER_BYTES) {
            body.destroy();
            throw providerFailure(credential, `${what} answered more than ${MAX_PROVIDER_ANSWER_BYTES} bytes`);
        }
        chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
}
/** The refusal for a credential that cannot be obtained; `why` must hold no secret. */
export function providerFailure(credential, why, cause, details) {
    return new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${credential}": ${why}`, { cause, ...(details === undefined ? {} : { details }) });
}
/** Parse a JSON answer or fail naming the provider. */
export function jsonOf(credential, what, status, text) {
    try {
        return JSON.parse(text);
    }
    catch {
        throw providerFailure(credential, `${what} answered HTTP ${status} with a body that is not JSON`);
    }
}
//# sourceMappingURL=provider-http.js.map