import { serveConnect } from './entries/connect.js';
import { serveH2Stream } from './entries/h2-stream.js';
import { serveRequest } from './entries/request.js';
import { serveTransparentTls } from './entries/transparent-tls.js';
import { serveUpgrade } from './entries/upgrade.js';
import { finishAudit } from './stages/audit.js';
import { sidecarCaller } from './stages/identify.js';
/** The request path's entry points, as the listeners in accept/ call them. */
export function entryHandlers(ctx) {
    return {
        request: (req, res, tunnel) => void serveRequest(ctx, req, res, tunnel),
        h2Request: (req, res, tunnel) => void serveH2Stream(ctx, req, res, tunnel),
        upgrade: (req, socket, head, tunnel) => void serveUpgrade(ctx, req, socket, head, tunnel),
        connect: (req, socket, head, handOver) => void serveConnect(ctx, req, socket, head, handOver),
        transparentTls: (socket, hello, serverName, port, handOver) => void serveTransparentTls(ctx, socket, hello, serverName, port, handOver),
        sidecarCaller: () => sidecarCaller(ctx),
        audit: (record, startedAt) => finishAudit(ctx, record, startedAt),
    };
}
//# sourceMappingURL=handlers.js.map