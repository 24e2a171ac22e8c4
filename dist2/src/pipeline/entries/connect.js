import { refuseSocket } from '../../accept/refuse.js';
import { parseAuthority } from '../../policy/host.js';
import { newConnectionExchange, runStages } from '../exchange.js';
import { CONNECTION_STAGES } from '../stages/index.js';
import { connectCaller } from '../stages/identify.js';
import { settledOnClose } from './settled.js';
/**
 * Entry point for CONNECT: decided on its authority, the caller named in Proxy-Authorization. A
 * refusal is shown by the status line alone in most clients (curl, requests, Go), so it says why.
 * One audit line per tunnel, written when it closes.
 */
export function serveConnect(ctx, req, socket, head, handOver) {
    const settled = settledOnClose(socket);
    const ex = newConnectionExchange({
        socket,
        head,
        sent: { target: req.url ?? '', rawHeaders: req.rawHeaders },
        authority: parseAuthority(req.url ?? ''),
        unnamed: 'CONNECT needs host:port',
        identifyCaller: connectCaller(ctx, req),
        refusalsInside: false,
        established: () => {
            ex.audit.status = 200;
            socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        },
        handOver,
    }, 'CONNECT');
    return runStages(ctx, ex, CONNECTION_STAGES, (err) => refuseSocket(socket, err, ex.id, ex.audit.reason), settled(ex.audit));
}
//# sourceMappingURL=connect.js.map