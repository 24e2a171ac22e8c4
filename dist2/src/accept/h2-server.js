import { createServer } from 'node:http2';
import { H2Response } from './h2-response.js';
import { H2ServerRequest, SESSION_STATE } from './h2-server-request.js';
import { UnreadStreams } from './h2-unread-streams.js';
/**
 * The HTTP/2 server for intercepted tunnels and redirected TLS connections whose client chose `h2`
 * in ALPN (sidekey terminated the TLS; this server only ever sees decrypted sockets). Each stream is
 * one request, handed to `onRequest` with the tunnel it arrived in, so it is decided like a request
 * on HTTP/1.1.
 *
 * The limits, set here rather than left to defaults so they are visible and tested
 * (test/e2e/h2-hostile.test.ts):
 * - concurrent streams per connection, and the header list per stream (decoded size, and count:
 *   a huge header list is refused whatever its compressed size, so an HPACK bomb costs the sender);
 * - session memory (nghttp2's buffers, HPACK tables, queued frames): past it new streams are
 *   refused and a flood of control frames (SETTINGS, PING) ends the session;
 * - streams the client opens and resets at once (rapid reset, CVE-2023-44487): nghttp2's reset
 *   rate limit, and a cap on refused streams and invalid frames after which the session ends;
 * - CONTINUATION frames per header block (nghttp2 ends the session past its own cap);
 * - a connection idle (no stream open) for the idle timeout is closed, as on HTTP/1.1.
 */
/** Streams one agent connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS). */
export const H2_MAX_CONCURRENT_STREAMS = 128;
/** nghttp2 session memory in MB before it refuses new streams or ends the session. */
const MAX_SESSION_MEMORY_MB = 10;
/** Stream resets a client may send in a burst, then per second (CVE-2023-44487). */
const STREAM_RESET_BURST = 200;
const STREAM_RESET_RATE = 50;
/** Streams refused (over the stream limit) and invalid frames before the session is ended. */
const MAX_REJECTED_STREAMS = 100;
const MAX_INVALID_FRAMES = 100;
/** Pseudo-headers a request carries besides its header fields (`:method`, `:scheme`, `:authority`, `:path`). */
const PSEUDO_HEADERS = 4;
/**
 * Create the HTTP/2 server with sidekey's limits; `serve` hands it a TLS socket that chose h2.
 * Each stream goes to `onRequest`; streams that never reached it are told to `onUnread`.
 */
export function createH2Server(config, connections, onRequest, onUnread) {
    const server = createServer({
        maxSessionMemory: MAX_SESSION_MEMORY_MB,
        maxHeaderListPairs: config.maxHeaderCount + PSEUDO_HEADERS,
        maxSessionRejectedStreams: MAX_REJECTED_STREAMS,
        maxSessionInvalidFrames: MAX_INVALID_FRAMES,
        streamResetBurst: STREAM_RESET_BURST,
        streamResetRate: STREAM_RESET_RATE,
        // Node's default; written out because a settings flood is bounded by it.
        maxSettings: 32,
        maxOutstandingPings: 10,
        settings: {
            maxConcurrentStreams: H2_MAX_CONCURRENT_STREAMS,
            maxHeaderListSize: config.maxHeaderSize,
            // No server push, no extended CONNECT (RFC 8441): WebSocket over HTTP/2 is not offered.
            enablePush: false,
            enableConnectProtocol: false,
        },
    });
    let pending = null;
    server.on('session', (session) => {
        // Emitted synchronously while `serve` hands the socket over, so `pending` is this session's tunnel.
        if (pending === null)
            return;
        const { tunnel, socket } = pending;
        const state = { tunnel, open: 0 };
        session[SESSION_STATE] = state;
        session.on('error', () => session.destroy());
        // The session reads the TLS socket natively, so no one sees its end in JavaScript: when the
        // session is over (the client closed, GOAWAY, a limit), close the client's connection too, or
        // the tunnel (and its audit line) would wait on a half-closed socket.
        session.once('close', () => tunnel.client.destroy());
        closeWhenIdle(session, state, config.idleTimeoutMs);
        const unread = new UnreadStreams((firstId, count) => onUnread(tunnel, firstId, count));
        session.on('stream', (stream) => stream.id !== undefined && unread.handedOver(stream.id));
        // The session still holds nghttp2's count when its socket ends or closes: prepended, so this
        // runs before Node's own listener destroys the session (a destroyed one's state is empty).
        const ending = () => unread.ending(session.state.lastProcStreamID);
        socket.prependOnceListener('end', ending);
        socket.prependOnceListener('close', ending);
    });
    // Every stream, CONNECT and any Expect included, is one request through the stages, which
    // refuse what they do not forward with a reason and an audit line. (Node's compatibility API,
    // not used here, answered a CONNECT 405 and an unknown Expect 417 itself, with neither.)
    server.on('stream', (stream, headers, _flags, rawHeaders) => {
        // Each stream's request is made with its head read as HTTP/1.1, its tunnel, and counted open.
        const req = new H2ServerRequest(stream, rawHeaders);
        const tunnel = req.tunnel;
        if (tunnel === null) {
            stream.close();
            return;
        }
        const res = new H2Response(stream);
        // As an HTTP/1.1 server does, and Node's compatibility API did: the client may send its body.
        if (headers.expect === '100-continue')
            stream.additionalHeaders({ ':status': 100 });
        connections.serving(tunnel.client, res);
        onRequest(req, res, tunnel);
    });
    // A stream error (a peer's malformed frame on one stream) ends that stream only.
    server.on('sessionError', () => undefined);
    return {
        server,
        serve(socket, tunnel) {
            pending = { tunnel, socket };
            try {
                server.emit('connection', socket);
            }
            finally {
                pending = null;
            }
            // HTTP/2 has GOAWAY for a graceful end; a client that closes its side of the connection is
            // gone (curl exits), and Node leaves the socket half open: close it, so the tunnel ends.
            socket.once('end', () => socket.destroy());
        },
    };
}
/**
 * Close a session that has had no stream open for `idleMs`, as an idle HTTP/1.1 keep-alive
 * connection is closed; a long-lived stream (SSE, a gRPC stream, a held request) keeps it open.
 * Streams are counted in `state` by each stream's request (accept/h2-server-request.ts).
 */
function closeWhenIdle(session, state, idleMs) {
    // Not setTimeout's callback: Node registers that with `once`, so a timeout that found a stream
    // open would be the last one, and the session would never again be closed for idling.
    session.setTimeout(idleMs);
    session.on('timeout', () => {
        if (state.open === 0)
            session.close();
    });
}
//# sourceMappingURL=h2-server.js.map