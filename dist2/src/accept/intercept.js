import { TLSSocket } from 'node:tls';
import { normalizeHost } from '../policy/host.js';
import { bindTunnel } from './tunnel.js';
/**
 * ALPN offered to agents, preferred first (RFC 7301): HTTP/2 for clients that speak it (every gRPC
 * client needs it), HTTP/1.1 otherwise. A client that offers no ALPN speaks HTTP/1.1.
 */
const ALPN = ['h2', 'http/1.1'];
/** First byte of a TLS record carrying a handshake (RFC 8446 section 5.1, ContentType 22). */
const TLS_HANDSHAKE = 0x16;
/**
 * What can happen to an intercepted tunnel that does not reach the inner HTTP server cleanly: the
 * error code its audit line carries, and how loudly it is logged. A client giving up or asking for
 * another name is routine; sidekey failing to mint a leaf is its own fault, and loud.
 */
export const INTERCEPT_FAILURES = {
    'sni-mismatch': { code: 'SIDEKEY_ERR_HOST_MISMATCH', level: 'debug' },
    'tls-handshake-failed': { code: 'SIDEKEY_ERR_TLS_HANDSHAKE', level: 'debug' },
    'client-rejected-certificate': { code: 'SIDEKEY_ERR_TLS_HANDSHAKE', level: 'debug' },
    idle: { code: 'SIDEKEY_ERR_HEAD_TIMEOUT', level: 'debug' },
    'mint-failed': { code: 'SIDEKEY_ERR_INTERNAL', level: 'error' },
};
/**
 * Hand an accepted CONNECT tunnel to the inner HTTP server, where each request is decided on its
 * own. Look at the first byte: 0x16 starts a TLS handshake, which sidekey terminates with a leaf
 * for the CONNECT host; anything else is cleartext HTTP (undici's ProxyAgent tunnels plain http://
 * this way) and goes to the same decision path. A tunnel that sends nothing within
 * `firstByteTimeoutMs` (the head timeout) is closed; from the first byte on, the inner server's
 * head and keep-alive timeouts apply, to the TLS socket as to a cleartext one.
 */
export function intercept(socket, head, tunnel, leaves, inner, serveH2, firstByteTimeoutMs, onFailure) {
    if (head.length > 0)
        socket.unshift(head);
    const timer = setTimeout(() => {
        onFailure('idle', 'no bytes after CONNECT');
        socket.destroy();
    }, firstByteTimeoutMs);
    timer.unref();
    // A client that closes the tunnel before its first byte (Go's transport closes the spare
    // connections it dialled, right after CONNECT): close it now. The proxy port's sockets allow half
    // open, so nothing else would, and until the head timeout it would count against the
    // workload's connections (a Go client at -c 32 held 256 such tunnels, and was refused with 429).
    const onEnd = () => {
        clearTimeout(timer);
        socket.off('readable', onReadable);
        socket.destroy();
    };
    const onReadable = () => {
        const first = socket.read(1);
        if (first === null)
            return;
        socket.off('readable', onReadable);
        socket.off('end', onEnd);
        clearTimeout(timer);
        socket.unshift(first);
        if (first[0] === TLS_HANDSHAKE) {
            void terminateTls(socket, tunnel, leaves, inner, serveH2, firstByteTimeoutMs, onFailure);
        }
        else {
            bindTunnel(socket, tunnel);
            inner.emit('connection', socket);
        }
    };
    socket.once('end', onEnd);
    socket.on('readable', onReadable);
    onReadable();
}
/**
 * Terminate the agent's TLS with a leaf for the tunnel's host. The protocol the client picks in
 * ALPN is known once the handshake is done: then the socket goes to the HTTP/2 server or to the
 * inner HTTP/1.1 server. The handshake must finish within `handshakeTimeoutMs` (the head timeout),
 * which until then stands in for the inner server's own.
 */
async function terminateTls(socket, tunnel, leaves, inner, serveH2, handshakeTimeoutMs, onFailure) {
    const host = tunnel.authority.host;
    let context;
    try {
        context = await leaves.get(host);
    }
    catch (err) {
        onFailure('mint-failed', `cannot mint a certificate for ${host}: ${err.message}`);
        socket.destroy();
        return;
    }
    tunnel.tls = true;
    const tls = new TLSSocket(socket, {
        isServer: true,
        secureContext: context,
        ALPNProtocols: ALPN,
        // The SNI must name the CONNECT host: a client asking for another name inside this tunnel is
        // trying to reach a destination policy did not decide on (docs/architecture.md, rule 2).
        SNICallback: (servername, cb) => {
            if (!sniNamesTunnel(servername, tunnel)) {
                onFailure('sni-mismatch', `SNI ${servername.slice(0, 255)} does not match the CONNECT host ${host}`);
                cb(new Error('SNI does not match the CONNECT authority'), undefined);
                return;
            }
            cb(null, context);
        },
    });
    let secured = false;
    const timer = setTimeout(() => {
        onFailure('idle', 'the TLS handshake did not finish in time');
        tls.destroy();
    }, handshakeTimeoutMs);
    timer.unref();
    tls.once('secure', () => {
        secured = true;
        clearTimeout(timer);
        bindTunnel(tls, tunnel);
        tls.secureConnecting = false;
        if (tls.alpnProtocol === 'h2')
            serveH2(tls, tunnel);
        else
            inner.emit('connection', tls);
    });
    tls.on('error', (err) => {
        clearTimeout(timer);
        if (!secured)
            onFailure(rejectsCertificate(err) ? 'client-rejected-certificate' : 'tls-handshake-failed', err.message);
        tls.destroy();
    });
    tls.once('close', () => clearTimeout(timer));
    // A client that checks the certificate after the handshake (pinning, its own hostname check)
    // closes the tunnel without a word and without an alert. The end comes before the tunnel's close,
    // and so before its audit line.
    tls.once('end', () => {
        if (secured && tls.bytesRead === 0)
            onFailure('client-rejected-certificate', 'the client ended the tunnel after the TLS handshake without sending a request');
    });
}
/**
 * TLS alerts a client sends when it does not accept the certificate it was shown (RFC 8446
 * section 6.2): bad_certificate (42, Go), unsupported_certificate (43), certificate_revoked (44),
 * certificate_expired (45), certificate_unknown (46, Java) and unknown_ca (48, OpenSSL clients:
 * curl, Python, Node). For sidekey's leaf that almost always means the client does not trust
 * sidekey's CA.
 */
const CERTIFICATE_ALERTS = new Set([42, 43, 44, 45, 46, 48]);
/** True when a server-side handshake failed on the client's alert that it rejects the certificate. */
export function rejectsCertificate(err) {
    // OpenSSL reports a received alert as "... SSL alert number N".
    const alert = /SSL alert number (\d+)/.exec(err.message);
    return alert !== null && CERTIFICATE_ALERTS.has(Number(alert[1]));
}
/**
 * True when a ClientHello's server name names the tunnel's destination: its host, or its host with
 * the tunnel's own port. Go clients (hey, and any that copy `req.Host` into the TLS ServerName)
 * send `host:port` when the URL has a port; that is the same destination. Any other name, or the
 * host with another port, is a different destination and refused (docs/architecture.md, rule 2).
 */
export function sniNamesTunnel(servername, tunnel) {
    const { host, port } = tunnel.authority;
    if (normalizeHost(servername) === host)
        return true;
    const colon = servername.lastIndexOf(':');
    return colon > 0 && servername.slice(colon + 1) === String(port) && normalizeHost(servername.slice(0, colon)) === host;
}
//# sourceMappingURL=intercept.js.map