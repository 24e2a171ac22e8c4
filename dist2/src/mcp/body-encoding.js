import { SidekeyError } from '../errors.js';
/**
 * The bytes of an MCP POST must mean to the server what they meant to sidekey, which reads them as
 * UTF-8 JSON exactly as sent. A server may decode them otherwise when the request says so:
 * Express's `express.json()` (which the MCP SDK's `createMcpExpressApp` mounts) inflates a
 * `Content-Encoding: gzip`/`deflate` body and decodes any charset whose name starts with `utf-`,
 * UTF-7 included, in which `+ACI-` is a quote. A body sidekey reads as
 * `{"name":"search_issues","arguments":{"q":"+ACIAfQ...-"}}` is then `admin_wipe` to the server.
 * So on an MCP route a POST declares no content coding, one Content-Type, and no charset but UTF-8.
 */
/** Throws SIDEKEY_ERR_MCP_INVALID when `rawHeaders` (name, value, ...) ask the server to decode the body otherwise than as UTF-8 bytes. */
export function checkBodyEncoding(rawHeaders) {
    let types = 0;
    for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = rawHeaders[i].toLowerCase();
        const value = rawHeaders[i + 1].trim().toLowerCase();
        if (name === 'content-encoding' && value !== 'identity') {
            throw invalid(`the body has Content-Encoding ${JSON.stringify(value.slice(0, 32))}; sidekey decides on the bytes as sent, so an MCP POST goes uncompressed`);
        }
        if (name !== 'content-type')
            continue;
        if (++types > 1)
            throw invalid('the request has more than one Content-Type header; servers differ on which counts');
        // Only a charset parameter can change how the bytes decode; any mention of one but plain UTF-8 is refused.
        if (value.includes('charset') && !/^[^;"]*;\s*charset\s*=\s*(?:utf-8|"utf-8")\s*$/.test(value)) {
            throw invalid(`the Content-Type ${JSON.stringify(value.slice(0, 64))} names a charset other than UTF-8; sidekey reads the body as UTF-8, so the server must too`);
        }
    }
}
function invalid(why) {
    return new SidekeyError('SIDEKEY_ERR_MCP_INVALID', `the MCP request is not valid JSON-RPC 2.0 as sidekey reads it: ${why}`, { details: { jsonrpc_code: -32700 } });
}
//# sourceMappingURL=body-encoding.js.map