import { parseAuthority } from '../../policy/host.js';
import { newConnectionExchange, runStages } from '../exchange.js';
import { CONNECTION_STAGES } from '../stages/index.js';
import { sidecarCaller } from '../stages/identify.js';
import { settledOnClose } from './settled.js';
/**
 * Entry point for a TLS connection redirected to sidekey by iptables (transparent mode): no CONNECT
 * line, so the ClientHello's SNI names the destination, with the port it was redirected from, and
 * the caller is the sidecar's workload. sidekey resolves that name itself, so a lying SNI only
 * reaches the real host of the name it claims, under that name's policy. Nothing readable can be
 * said before TLS: refusals are said inside it, request by request (the connection is intercepted
 * even when denied), and a connection with no usable name is closed.
 */
export function serveTransparentTls(ctx, socket, hello, serverName, port, handOver) {
    const settled = settledOnClose(socket);
    const authority = serverName === null ? null : parseAuthority(`${serverName}:${port}`);
    const ex = newConnectionExchange({
        socket,
        head: hello,
        sent: { target: authority?.host ?? '', rawHeaders: [] },
        authority,
        unnamed: 'a redirected TLS connection without a server name (SNI) names no destination to decide on',
        identifyCaller: () => sidecarCaller(ctx),
        refusalsInside: true,
        established: null,
        handOver,
    }, 'TLS');
    return runStages(ctx, ex, CONNECTION_STAGES, () => socket.destroy(), settled(ex.audit));
}
//# sourceMappingURL=transparent-tls.js.map