import { SidekeyError } from '../errors.js';
import { requestHasBody } from '../http/message.js';
/**
 * Which HTTP/1.1 upgrades (`Connection: Upgrade`) go on. An upgrade turns one request into a
 * connection that outlives it, carrying the credential injected into its first request; what the
 * two sides send afterwards is no longer HTTP. sidekey relays only WebSocket, because it can read
 * WebSocket frames (guard/websocket-frames.ts) and nothing else, and only on a route that allows
 * it: a route with a credential allows no upgrade unless it says `upgrades: [websocket]`
 * (docs/security.md).
 */
/**
 * Refuse an upgrade request sidekey cannot relay at all, whatever the policy: any protocol but
 * WebSocket, and a WebSocket handshake that is not a GET without a body (RFC 6455 section 4.1).
 * A body would reach the upstream as the first "frames", read differently on each side.
 */
export function checkUpgradeRequest(method, headers) {
    const protocols = (headers.upgrade ?? '').split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
    if (protocols.length !== 1 || protocols[0] !== 'websocket') {
        const named = protocols.length === 0 ? 'an empty Upgrade header' : `"${protocols.join(', ').slice(0, 64)}"`;
        throw new SidekeyError('SIDEKEY_ERR_UPGRADE_REFUSED', `the upgrade to ${named} is refused: sidekey relays only WebSocket upgrades (Upgrade: websocket), whose frames it can inspect; send the request without Upgrade, or use a tunnel route for other protocols`);
    }
    if (method !== 'GET')
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', `a WebSocket upgrade must be a GET (RFC 6455 section 4.1), not ${method}`);
    if (requestHasBody(headers)) {
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'a WebSocket upgrade request cannot carry a body (Content-Length or Transfer-Encoding)');
    }
}
/** The policy refusal for a WebSocket upgrade on `route`, or null when the route allows it. */
export function upgradeRefusal(route) {
    // An MCP route decides each JSON-RPC message of each POST (docs/mcp.md); messages sent over a
    // WebSocket would reach the server undecided, so no upgrade, whatever `upgrades` says.
    if (route.mcp !== null)
        return new SidekeyError('SIDEKEY_ERR_UPGRADE_REFUSED', `route "${route.name}" is an MCP endpoint: sidekey decides each JSON-RPC message sent in a POST, and a WebSocket would carry messages it never decided; use MCP's Streamable HTTP transport`);
    if (route.upgrades.includes('websocket'))
        return null;
    const why = route.credential !== null ? `injects credential "${route.credential.name}" and does not allow upgrades` : 'does not allow upgrades (upgrades: [])';
    return new SidekeyError('SIDEKEY_ERR_UPGRADE_REFUSED', `route "${route.name}" ${why}; the WebSocket connection was not opened. A person can add \`upgrades: [websocket]\` to the route to allow it`);
}
//# sourceMappingURL=upgrade-guard.js.map