import { randomUUID } from 'node:crypto';
import { newAuditRecord } from '../observe/audit.js';
import { onClientError } from './client-error.js';
import { createLimitedServer, trackConnections } from './http-limits.js';
import { createH2Server } from './h2-server.js';
import { unreadStreamsAudit } from './h2-unread-streams.js';
import { intercept, INTERCEPT_FAILURES } from './intercept.js';
import { refuseSocket } from './refuse.js';
import { createTransparentHttpServer, createTransparentTlsServer } from './transparent.js';
import { tunnelOf } from './tunnel.js';
/** Create the listening servers (not yet listening) and route what they accept to `handlers`. */
export function createProxyServers({ config, leaves, connections, handlers }) {
    const inner = createLimitedServer(config);
    trackConnections(inner);
    inner.on('request', (req, res) => {
        const tunnel = tunnelOf(req.socket);
        if (tunnel !== null)
            connections.serving(tunnel.client, res);
        handlers.request(req, res, tunnel);
    });
    inner.on('upgrade', (req, socket, head) => handlers.upgrade(req, socket, head, tunnelOf(req.socket)));
    inner.on('clientError', (err, socket) => onClientError(handlers, err, socket));
    const innerH2 = createH2Server(config, connections, handlers.h2Request, (tunnel, firstId, count) => handlers.audit(unreadStreamsAudit(tunnel, firstId, count), performance.now()));
    const handOver = (socket, head, tunnel, onFailure) => intercept(socket, head, tunnel, leaves, inner, innerH2.serve, config.headTimeoutMs, (why, detail) => {
        const { code, level } = INTERCEPT_FAILURES[why];
        onFailure(code, why, detail, level);
    });
    const proxy = createLimitedServer(config);
    proxy.on('request', (req, res) => {
        connections.serving(req.socket, res);
        handlers.request(req, res, null);
    });
    proxy.on('connect', (req, socket, head) => handlers.connect(req, socket, head, handOver));
    proxy.on('upgrade', (req, socket, head) => handlers.upgrade(req, socket, head, null));
    proxy.on('clientError', (err, socket) => onClientError(handlers, err, socket));
    admitFirst(proxy, connections, (socket, refusal) => refuseConnection(handlers, socket, refusal, true));
    const transparent = [
        ...config.transparentHttp.map((listener) => {
            const server = createTransparentHttpServer(config, handlers, listener.from);
            admitFirst(server, connections, (socket, refusal) => refuseConnection(handlers, socket, refusal, true));
            server.on('request', (req, res) => connections.serving(req.socket, res));
            return { server, listener, tls: false };
        }),
        ...config.transparentHttps.map((listener) => {
            const server = createTransparentTlsServer(config, handlers, handOver, listener.from);
            // Nothing readable can be said before TLS: a refused redirected TLS connection is closed.
            admitFirst(server, connections, (socket, refusal) => refuseConnection(handlers, socket, refusal, false));
            return { server, listener, tls: true };
        }),
    ];
    return { proxy, inner, innerH2: innerH2.server, transparent };
}
/**
 * Put the total connection cap in front of a listener: a connection past it never reaches the
 * server's own handler (no HTTP parser, no decision), it is answered and closed.
 */
function admitFirst(server, connections, onRefused) {
    const listeners = server.listeners('connection');
    server.removeAllListeners('connection');
    server.on('connection', (socket) => {
        const refusal = connections.admit(socket);
        if (refusal !== null)
            return onRefused(socket, refusal);
        for (const listener of listeners)
            listener.call(server, socket);
    });
}
/**
 * A connection past the total cap: one audit line, and an HTTP answer when the client speaks
 * HTTP (its status line says why, since a CONNECT client shows nothing else), before any request.
 */
function refuseConnection(handlers, socket, refusal, http) {
    socket.on('error', () => socket.destroy());
    const id = randomUUID();
    const audit = newAuditRecord('connect', id);
    Object.assign(audit, { decision: 'deny', reason: 'connection-limit', error: refusal.code, status: refusal.status });
    handlers.audit(audit, performance.now());
    if (http)
        refuseSocket(socket, refusal, id, 'connection-limit');
    else
        socket.destroy();
}
//# sourceMappingURL=server.js.map