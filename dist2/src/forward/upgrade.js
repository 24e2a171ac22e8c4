import { Agent as HttpAgent, ServerResponse } from '../http/node-http.js';
import { Agent as HttpsAgent } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import { isIP } from 'node:net';
import { pipeline } from 'node:stream';
import { lazyModule } from '../lazy-module.js';
import { agentGone, SidekeyError } from '../errors.js';
import { filterStream } from '../http/chunk-filter.js';
import { FrameRewriter } from '../guard/websocket-frames.js';
import { refuseTransferCodings, responseWithoutHopByHop } from '../inject/hop-by-hop.js';
import { dialChecked } from './dial.js';
import { GuardedAgentSide } from './guarded-agent-side.js';
/**
 * Upgraded connections are relayed by http-proxy once the upstream answers 101: it writes the 101
 * and pipes the two sockets, with a GuardedAgentSide standing in for the agent's socket so every
 * frame passes its guard (guard/websocket-frames.ts). Any other answer is not relayed as bytes:
 * it goes through the same response guard as a plain response (scrubbed, decoded, pin checked),
 * or is refused. http-proxy never touches the HTTP request path (its Content-Length handling
 * there has a known smuggling bug, see docs/architecture.md, "Performance choices"). The connection is dialled to the address the SSRF guard
 * checked (`dialChecked`), while TLS still verifies the real host name.
 */
/** http-proxy, loaded by the first upgrade: a workload that never opens a WebSocket never loads it. */
const httpProxy = lazyModule('http-proxy');
export class UpgradeRelay {
    #server = null;
    /** The outgoing request of each relay call, handed over by http-proxy's `proxyReqWs`. */
    #outgoing = new WeakMap();
    /** The relay's http-proxy server, made on the first upgrade. */
    get #proxy() {
        if (this.#server !== null)
            return this.#server;
        const server = httpProxy().createProxyServer({ ws: true, xfwd: false, prependPath: false, toProxy: true });
        server.on('proxyReqWs', (proxyReq, req) => this.#outgoing.get(req)?.(proxyReq));
        // http-proxy also emits errors on the server object; the per-call callback handles them, this
        // keeps an unhandled 'error' from ever crashing the process.
        server.on('error', () => undefined);
        return (this.#server = server);
    }
    /** Relay `socket` to the planned upstream, guarding whatever it answers. */
    relay(req, socket, head, plan, events) {
        const agent = checkedAgent(plan);
        // The path is forwarded exactly as decided (toProxy: no url.parse rewriting by http-proxy).
        req.url = plan.path;
        req.headers = { ...plan.headers, connection: 'Upgrade', upgrade: 'websocket' };
        let answered = false;
        const side = new GuardedAgentSide(socket, head, (err) => events.refused(err));
        let outgoing = null;
        this.#outgoing.set(req, (proxyReq) => {
            outgoing = proxyReq;
            proxyReq.setTimeout(plan.timeoutMs, () => proxyReq.destroy(Object.assign(new Error('the upstream did not answer the upgrade in time'), { code: 'ETIMEDOUT' })));
            // Registered before http-proxy's own 'upgrade' listener, so it runs first: the 101's
            // headers are checked and scrubbed before http-proxy writes them, and the guards are in
            // place before it pipes the sockets.
            proxyReq.on('upgrade', (res, upstream) => {
                let headers;
                try {
                    headers = switchedHeaders(res.headers, plan.response);
                }
                catch (err) {
                    side.discard();
                    // After http-proxy's listener has run on it, so it pipes a closed socket, not a live one.
                    process.nextTick(() => upstream.destroy());
                    events.failed(err, false);
                    return;
                }
                res.headers = headers;
                answered = true;
                events.status(101);
                const guards = plan.frames();
                side.open(upstream, new FrameRewriter('agent', guards.fromAgent), new FrameRewriter('upstream', guards.fromUpstream));
            });
        });
        socket.once('close', () => {
            if (!answered)
                outgoing?.destroy(agentGone('the agent closed the connection before the upstream answered its upgrade'));
        });
        // The agent's early bytes go to `side`, which reads them through the guard after the 101.
        this.#proxy.ws(req, side, Buffer.alloc(0), { target: { protocol: `${plan.scheme}:`, host: plan.host, port: plan.to.port, ca: plan.ca }, agent }, (err) => {
            events.failed(err, answered);
        });
        this.#outgoing.delete(req);
        if (outgoing === null) {
            events.failed(new SidekeyError('SIDEKEY_ERR_UPGRADE_FAILED', 'the upgrade request could not be sent upstream'), false);
            return;
        }
        // http-proxy has just attached its own 'response' listener, which writes any answer but a 101
        // to the agent's socket raw: unscrubbed, undecoded, unchecked (docs/security.md). It is
        // replaced by one that guards the answer like any response.
        const proxyReq = outgoing;
        proxyReq.removeAllListeners('response');
        proxyReq.on('response', (res) => {
            proxyReq.setTimeout(0);
            answered = answerGuarded(req, socket, res, plan.response, events);
        });
    }
    close() {
        this.#server?.close();
    }
}
/**
 * A one-connection agent for http-proxy whose every connection is `dialChecked` to the plan's
 * checked address: the host name only names the TLS server and the certificate checked.
 */
function checkedAgent(plan) {
    const agent = plan.scheme === 'https' ? new HttpsAgent({ keepAlive: false }) : new HttpAgent({ keepAlive: false });
    // An IP-literal host sends no SNI (RFC 6066 section 3) and is still the name the certificate must carry.
    const tls = plan.scheme === 'https' ? { ca: plan.ca, ...(isIP(plan.host) === 0 ? { servername: plan.host } : { checkServerIdentity: (_, cert) => checkServerIdentity(plan.host, cert) }) } : undefined;
    agent.createConnection = () => dialChecked(plan.to, tls);
    return agent;
}
/**
 * The 101's headers as the agent may see them: an extension sidekey did not offer is refused (a
 * compressed frame cannot be inspected, RFC 7692), and echoed secrets are masked.
 */
function switchedHeaders(headers, response) {
    if (headers['sec-websocket-extensions'] !== undefined) {
        throw new SidekeyError('SIDEKEY_ERR_UPGRADE_FAILED', 'the upstream accepted the WebSocket with an extension (Sec-WebSocket-Extensions) that sidekey did not offer; compressed frames cannot be inspected');
    }
    if (response === null)
        return headers;
    const shaped = response.begin(101, headers);
    if (shaped.stages.length > 0)
        throw new SidekeyError('SIDEKEY_ERR_UPGRADE_FAILED', "the upstream's 101 declares a content coding; sidekey does not relay it");
    return shaped.headers;
}
/**
 * An answer other than 101 is an ordinary response, not the start of a byte stream: it is written
 * to the agent through the response guard, the way `forward` writes one (Node frames the body;
 * a failed pin check cuts it), and the connection closes after it. Returns whether a status line
 * was sent; a guard refusal before that is reported through `events.failed`.
 */
function answerGuarded(req, socket, res, response, events) {
    const status = res.statusCode ?? 502;
    let headers = responseWithoutHopByHop(res.headers);
    let stages = [];
    try {
        refuseTransferCodings(res.headers);
    }
    catch (err) {
        res.destroy();
        events.failed(err, false);
        return false;
    }
    if (response !== null) {
        try {
            const shaped = response.begin(status, headers);
            headers = shaped.headers;
            stages = shaped.stages.length > 0 ? shaped.stages : shaped.filter !== null ? [filterStream(shaped.filter)] : [];
        }
        catch (err) {
            res.destroy();
            events.failed(err, false);
            return false;
        }
    }
    // The request's socket left Node's HTTP server with the 'upgrade' event; a response of our own
    // on it (as @fastify/websocket does) gets Node's framing, chunked when the length is unknown.
    const out = new ServerResponse(req);
    out.shouldKeepAlive = false;
    try {
        out.assignSocket(socket);
        out.writeHead(status, headers);
    }
    catch (err) {
        // A header value Node will not write (its checks are stricter than what its client accepts).
        out.detachSocket(socket);
        res.destroy();
        events.failed(new SidekeyError('SIDEKEY_ERR_UPGRADE_FAILED', `the upstream answered ${status} with a head sidekey cannot relay`, { cause: err }), false);
        return false;
    }
    events.status(status);
    // Reported as the error is emitted, before the cut socket closes and the audit line is written.
    let failed = false;
    const fail = (err) => {
        if (failed)
            return;
        failed = true;
        events.failed(err, true);
    };
    for (const stream of [res, ...stages])
        stream.once('error', fail);
    pipeline([res, ...stages, out], (err) => {
        out.detachSocket(socket);
        if (err) {
            socket.destroy();
            fail(err);
            return;
        }
        socket.end();
        setTimeout(() => socket.destroy(), 2000).unref();
    });
    return true;
}
//# sourceMappingURL=upgrade.js.map