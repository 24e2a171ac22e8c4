import { refuseSocket } from '../../accept/refuse.js';
import { newRequestExchange, runStages } from '../exchange.js';
import { recordScrubbed } from '../stages/guard-response.js';
import { REQUEST_STAGES } from '../stages/index.js';
/**
 * Entry point for an HTTP/1.1 upgrade request (WebSocket), on the proxy port or inside a tunnel:
 * the request stages, then the relay. One audit line per upgrade, written when the agent's socket
 * closes; a refusal is an HTTP answer on the socket.
 */
export function serveUpgrade(ctx, req, socket, head, tunnel) {
    socket.on('error', () => socket.destroy());
    const gone = new AbortController();
    const closed = new Promise((resolve) => socket.once('close', () => {
        gone.abort();
        resolve();
    }));
    const ex = newRequestExchange(req, tunnel, { kind: 'upgrade', socket, head }, gone.signal);
    return runStages(ctx, ex, REQUEST_STAGES, (err) => refuseSocket(socket, err, ex.id, ex.audit.reason), closed.then(() => recordScrubbed(ex.audit, ex.scrubbed)));
}
//# sourceMappingURL=upgrade.js.map