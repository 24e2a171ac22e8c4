import { createServer } from '../http/node-http.js';
import { SidekeyError } from '../errors.js';
/**
 * The limits every HTTP server that reads agents' requests shares (the proxy port, the inner
 * server of intercepted tunnels, the transparent HTTP listener), so a slow head, an idle
 * keep-alive connection or a request with too many headers meets the same rule on every path.
 */
/**
 * An HTTP server with sidekey's limits:
 * - the head must be complete within `headTimeoutMs` (Node checks on an interval, set here to a
 *   fraction of the timeout so a slow head is closed close to its deadline, not up to 30 s late);
 * - a keep-alive connection idle between requests closes after `idleTimeoutMs`;
 * - no limit on the whole request (uploads and approvals may take long; upstream timeouts bound them);
 * - Node's header-count cap is lifted: past it Node drops further headers without a word (about
 *   1,000 of 2,601 reached the upstream), so sidekey counts them itself and refuses instead
 *   (`assertWholeHead`); `maxHeaderSize` still bounds the head in bytes.
 */
export function createLimitedServer(config) {
    const server = createServer({
        maxHeaderSize: config.maxHeaderSize,
        headersTimeout: config.headTimeoutMs,
        requestTimeout: 0,
        keepAliveTimeout: config.idleTimeoutMs,
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.headTimeoutMs / 4))),
    });
    server.maxHeadersCount = 0;
    // An Expect other than 100-continue: Node answers 417 itself, without x-sidekey-error, reason or
    // audit line. The request goes to the request listener instead, whose accept stage refuses it
    // (`assertWholeHead`) like any other malformed head.
    server.on('checkExpectation', (req, res) => server.emit('request', req, res));
    return server;
}
/** What Node's HTTP/1.1 server reads as a 100-continue expectation (lib/_http_server.js). */
const CONTINUE_EXPECTATION = /(?:^|\W)100-continue(?:$|\W)/i;
/**
 * Node applies the head timeout only to servers that listen (connection tracking starts on
 * `listening`). The inner server of intercepted tunnels never listens: it is handed sockets. Start
 * its tracking the same way, so a slow head inside a tunnel is closed like one on the proxy port.
 */
export function trackConnections(server) {
    server.emit('listening');
}
/**
 * A request is forwarded whole or not at all: one with more header fields than `max` is refused
 * (431) before anything is decided or sent, never forwarded with some of them missing. So is one
 * that announces trailer fields (`Trailer`, RFC 9110 section 6.6.2): the upstream leg sends a
 * body, never trailers; and one with an expectation other than 100-continue.
 */
export function assertWholeHead(req, max) {
    const count = req.rawHeaders.length / 2;
    if (count > max) {
        throw new SidekeyError('SIDEKEY_ERR_TOO_MANY_HEADERS', `the request has ${count} header fields; sidekey forwards at most ${max} (--max-headers) and never forwards part of a request: send fewer headers`);
    }
    if (req.headers.trailer !== undefined)
        throw trailersRefused();
    const expect = req.headers.expect;
    if (expect !== undefined && !CONTINUE_EXPECTATION.test(expect)) {
        throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the request has an Expect field other than 100-continue, an expectation sidekey cannot meet (RFC 9110 section 10.1.1): remove it');
    }
}
/** A body read whole before forwarding: refuse it when trailer fields came after it. */
export function assertNoTrailers(req) {
    if (req.rawTrailers.length > 0)
        throw trailersRefused();
}
/**
 * For a chunked body streamed upstream: trailer fields are known only once the body has ended.
 * Fail the upload then, so the upstream is left with an unfinished body it must discard (no last
 * chunk is sent), never a complete request without its trailers.
 */
export function refuseTrailersAtEnd(req) {
    return {
        push: (chunk) => chunk,
        end() {
            if (req.rawTrailers.length > 0)
                throw trailersRefused();
            return null;
        },
    };
}
function trailersRefused() {
    return new SidekeyError('SIDEKEY_ERR_TRAILERS_REFUSED', 'the request carries trailer fields after its body, which sidekey cannot forward; it is refused rather than forwarded without them: send them as headers');
}
//# sourceMappingURL=http-limits.js.map