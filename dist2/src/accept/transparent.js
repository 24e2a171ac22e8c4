import { randomUUID } from 'node:crypto';
import { createServer as createNetServer } from 'node:net';
import { SidekeyError } from '../errors.js';
import { newAuditRecord } from '../observe/audit.js';
import { parseAuthority } from '../policy/host.js';
import { parseClientHello } from './client-hello.js';
import { onClientError } from './client-error.js';
import { createLimitedServer } from './http-limits.js';
import { refuse } from './refuse.js';
import { bindTunnel, tunnelOf } from './tunnel.js';
/**
 * Transparent mode: listeners for connections iptables redirected to sidekey (the agent network
 * namespace's outbound TCP to each redirected port, sidekey's own user excluded), one listener per
 * redirected port. The agent knows nothing about a proxy. On a TLS listener the destination is the
 * SNI of the ClientHello; on an HTTP listener it is the Host header of the first request, and the
 * connection stays bound to that host. Either way the port is the one the listener stands for
 * (`port`: 443, 80 or another redirected port), since a redirect keeps no trace of it that Node
 * can read.
 */
/** Accept redirected TLS connections: read the SNI, then tunnel or intercept by policy. */
export function createTransparentTlsServer(config, handlers, handOver, port = 443) {
    const open = new Set();
    // No Nagle delay, as on Node's HTTP servers: a small response frame goes out at once.
    const server = createNetServer({ noDelay: true }, (socket) => {
        open.add(socket);
        socket.once('close', () => open.delete(socket));
        socket.on('error', () => socket.destroy());
        let buffered = Buffer.alloc(0);
        let finished = false;
        // The ClientHello is this listener's request head: the same head timeout applies.
        const acceptedAt = performance.now();
        const timer = setTimeout(() => {
            if (finished)
                return;
            finished = true;
            const audit = newAuditRecord('tunnel', randomUUID());
            Object.assign(audit, { method: 'TLS', workload: config.workload, decision: 'deny', reason: 'head-timeout', error: 'SIDEKEY_ERR_HEAD_TIMEOUT', bytes_up: buffered.length });
            handlers.audit(audit, acceptedAt);
            socket.destroy();
        }, config.headTimeoutMs);
        timer.unref();
        const onData = (chunk) => {
            buffered = Buffer.concat([buffered, chunk]);
            const r = parseClientHello(buffered);
            if (r.state === 'incomplete')
                return;
            done(r.state === 'done' ? r.serverName : null);
        };
        const done = (serverName) => {
            if (finished)
                return;
            finished = true;
            clearTimeout(timer);
            socket.off('data', onData);
            socket.pause();
            handlers.transparentTls(socket, buffered, serverName, port, handOver);
        };
        socket.on('data', onData);
    });
    return Object.assign(server, {
        closeAll() {
            for (const s of open)
                s.destroy();
        },
    });
}
/** Accept redirected cleartext HTTP: the Host header names the destination host, `port` its port. */
export function createTransparentHttpServer(config, handlers, port = 80) {
    const server = createLimitedServer(config);
    const tunnelFor = (req) => {
        const bound = tunnelOf(req.socket);
        if (bound !== null)
            return bound;
        const claimed = req.headers.host === undefined ? null : parseAuthority(req.headers.host, port);
        if (claimed === null)
            return null;
        const tunnel = { id: randomUUID(), authority: { host: claimed.host, port }, caller: handlers.sidecarCaller(), tls: false, client: req.socket };
        bindTunnel(req.socket, tunnel);
        return tunnel;
    };
    server.on('request', (req, res) => {
        const tunnel = tunnelFor(req);
        if (tunnel === null)
            return refuseNoHost(config, handlers, req, res);
        handlers.request(req, res, tunnel);
    });
    server.on('upgrade', (req, socket, head) => {
        const tunnel = tunnelFor(req);
        if (tunnel === null) {
            socket.destroy();
            return;
        }
        handlers.upgrade(req, socket, head, tunnel);
    });
    server.on('clientError', (err, socket) => onClientError(handlers, err, socket));
    return server;
}
function refuseNoHost(config, handlers, req, res) {
    const startedAt = performance.now();
    const id = randomUUID();
    const audit = newAuditRecord('request', id);
    const err = new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'a redirected request without a valid Host header names no destination to decide on');
    Object.assign(audit, { method: req.method ?? null, decision: 'deny', reason: 'no-host', error: err.code, status: err.status, workload: config.workload });
    refuse(res, err, id, 'no-host');
    handlers.audit(audit, startedAt);
}
//# sourceMappingURL=transparent.js.map