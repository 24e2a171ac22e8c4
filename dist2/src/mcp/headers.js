import { SidekeyError } from '../errors.js';
import { shown } from './decide.js';
import { cgiHeaderName } from '../http/header-name.js';
/**
 * The headers revision 2026-07-28 mirrors from the body (SEP-2243): `Mcp-Method`, `Mcp-Name`
 * and, for tool arguments the tool marks `x-mcp-header`, `Mcp-Param-{Name}`. sidekey decides on the
 * body it parsed; these headers only have to agree with it, or the request is refused as the
 * spec's HeaderMismatch (-32020, HTTP 400), so nothing downstream that reads a header can be told
 * another story than policy was.
 */
/** The JSON-RPC code of HeaderMismatch (MCP 2026-07-28). */
export const HEADER_MISMATCH = -32020;
/** The first revision with the mirrored headers. */
const FIRST_MIRRORING_REVISION = '2026-07-28';
/** The `params` field `Mcp-Name` mirrors, per method (as the TypeScript SDK's MCP_NAME_HEADER_SOURCE). */
const NAME_SOURCE = Object.freeze({
    'tools/call': 'name',
    'prompts/get': 'name',
    'resources/read': 'uri',
    'tasks/get': 'taskId',
    'tasks/update': 'taskId',
    'tasks/cancel': 'taskId',
});
function mismatch(why) {
    return new SidekeyError('SIDEKEY_ERR_MCP_HEADER_MISMATCH', `HeaderMismatch: ${why}`, { details: { jsonrpc_code: HEADER_MISMATCH } });
}
/**
 * The MCP headers of a request, by lower-case name (`_` read as `-`, as CGI-style servers do:
 * http/header-name.ts); a name sent twice, in either spelling, is refused (which one would a server read?).
 */
export function mcpHeaders(rawHeaders) {
    const out = new Map();
    for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = cgiHeaderName(rawHeaders[i]);
        if (!name.startsWith('mcp-'))
            continue;
        if (out.has(name))
            throw mismatch(`the ${name} header is sent more than once`);
        out.set(name, rawHeaders[i + 1].trim());
    }
    return out;
}
/**
 * A header value as SEP-2243 encodes it: as is, or `=?base64?...?=` holding UTF-8. Null when the
 * sentinel is there but its payload is not canonical base64 of UTF-8 (the spec says reject).
 */
export function decodeHeaderValue(value) {
    if (!(value.startsWith('=?base64?') && value.endsWith('?=')))
        return value;
    const b64 = value.slice(9, -2);
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(b64))
        return null;
    try {
        return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
    }
    catch {
        return null;
    }
}
/** Check the mirrored headers of `headers` (from `mcpHeaders`) against the parsed `body`. Throws HeaderMismatch. */
export function checkMirroredHeaders(headers, body) {
    const params = [...headers.keys()].filter((n) => n.startsWith('mcp-param-'));
    const mirrored = headers.has('mcp-method') || headers.has('mcp-name') || params.length > 0;
    const single = body.batch ? null : body.messages[0];
    if (single === null || single.kind === 'response') {
        if (mirrored)
            throw mismatch(`Mcp-Method, Mcp-Name and Mcp-Param-* describe one request, and the body is ${single === null ? 'a batch' : 'a response'}`);
        return;
    }
    const modern = (headers.get('mcp-protocol-version') ?? '') >= FIRST_MIRRORING_REVISION;
    checkMethod(headers.get('mcp-method'), single, modern);
    checkName(headers.get('mcp-name'), single, modern);
    if (params.length > 0)
        checkParams(headers, params, single);
}
function checkMethod(header, call, modern) {
    if (header === undefined) {
        // The spec requires it on every request of the revision; a notification is exempt.
        if (modern && call.kind === 'request')
            throw mismatch(`revision ${FIRST_MIRRORING_REVISION} requires the Mcp-Method header on a request (the body says ${shown(call.method)})`);
        return;
    }
    if (header !== call.method)
        throw mismatch(`the Mcp-Method header says ${shown(header)} and the body says ${shown(call.method)}`);
}
function checkName(header, call, modern) {
    const field = Object.hasOwn(NAME_SOURCE, call.method) ? NAME_SOURCE[call.method] : null;
    const body = field === null ? undefined : call.params?.[field];
    if (header === undefined) {
        if (modern && call.kind === 'request' && typeof body === 'string')
            throw mismatch(`revision ${FIRST_MIRRORING_REVISION} requires the Mcp-Name header on ${call.method} (the body names ${shown(body)})`);
        return;
    }
    if (field === null)
        throw mismatch(`the Mcp-Name header names ${shown(header)}, and ${shown(call.method)} names nothing`);
    const decoded = decodeHeaderValue(header);
    if (decoded === null)
        throw mismatch('the Mcp-Name header has a base64 sentinel whose payload is not canonical base64 of UTF-8');
    if (decoded !== body)
        throw mismatch(`the Mcp-Name header names ${shown(decoded)} and the body's params.${field} is ${typeof body === 'string' ? shown(body) : 'not a string'}`);
}
/**
 * `Mcp-Param-{Name}` mirrors an argument the tool's schema marks `x-mcp-header: Name`. sidekey does
 * not hold the tool's schema, so it checks what it can without it: the header goes with
 * `tools/call`, and its value is the value of an argument (the one named like the header, when
 * there is one; otherwise any primitive argument at any depth). The server, which has the schema,
 * checks the rest. Either way sidekey decided on the body, never on this header.
 */
function checkParams(headers, names, call) {
    if (call.method !== 'tools/call')
        throw mismatch(`Mcp-Param-* headers go with tools/call, and the body is ${shown(call.method)}`);
    const args = call.params?.arguments;
    const values = new Map();
    collectPrimitives(args, values);
    for (const name of names) {
        const decoded = decodeHeaderValue(headers.get(name));
        const header = name.slice('mcp-param-'.length);
        if (decoded === null)
            throw mismatch(`the Mcp-Param-${header} header has a base64 sentinel whose payload is not canonical base64 of UTF-8`);
        const named = values.get(header.toLowerCase());
        const candidates = named ?? [...values.values()].flat();
        if (!candidates.some((v) => v === decoded || (isDecimal(decoded) && isDecimal(v) && Number(v) === Number(decoded)))) {
            throw mismatch(`the Mcp-Param-${header} header carries a value no argument of the body has`);
        }
    }
}
function isDecimal(s) {
    return /^-?\d+(\.\d+)?$/.test(s);
}
/** Every string, number and boolean in `value` reached through object properties, by lower-case key, as SEP-2243 writes them. */
function collectPrimitives(value, out, key = '') {
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
        const list = out.get(key) ?? [];
        list.push(String(value));
        out.set(key, list);
    }
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value))
            collectPrimitives(v, out, k.toLowerCase());
    }
}
//# sourceMappingURL=headers.js.map