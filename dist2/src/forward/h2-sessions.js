import { subscribe } from 'node:diagnostics_channel';
import { connect, constants as h2constants } from 'node:http2';
import { SidekeyError } from '../errors.js';
import { endedByPeer } from '../http/h2-stream-end.js';
import { undiciErrors } from '../http/undici.js';
/**
 * Streams sidekey runs at once on one HTTP/2 upstream connection (the server's own
 * SETTINGS_MAX_CONCURRENT_STREAMS lowers it); past it another connection is dialled.
 */
export const H2_STREAMS_PER_CONNECTION = 100;
/**
 * Per-stream and per-connection receive windows offered to upstreams: a 64 KiB stream window (the
 * protocol's default) holds a large download to one window per round trip.
 */
const STREAM_WINDOW = 256 * 1024;
const CONNECTION_WINDOW = 1024 * 1024;
/** RST_STREAM's code for a stream the server did not process (RFC 9113 section 8.7). */
const NGHTTP2_REFUSED_STREAM = 0x7;
/**
 * How long a request waits for a server that allows no stream (SETTINGS_MAX_CONCURRENT_STREAMS 0)
 * to raise its limit. RFC 9113 section 6.5.2 asks servers to say 0 only for short durations, so a
 * request is held that long (the HTTP/2 library sends it as soon as the limit rises), then refused.
 */
const STREAM_LIMIT_WAIT_MS = 1000;
/** Largest response head (decoded header list) accepted from an upstream. */
const MAX_RESPONSE_HEAD = 16 * 1024;
/** Header fields HTTP/2 forbids (RFC 9113 section 8.2.2); `te` is allowed only as "trailers". */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);
/**
 * The HTTP/2 connections to one upstream origin at one checked address, each multiplexing up to
 * `H2_STREAMS_PER_CONNECTION` requests, whatever their method or body. (undici's HTTP/2 client runs
 * a POST, or any request with a streamed body, only on a connection with no other stream: every
 * concurrent gRPC call or streamed upload opened a connection of its own, 31 for 32 gRPC callers.)
 *
 * The sockets come in already connected and verified: `add` takes one whose ALPN chose h2, dialled
 * by the caller through `dialChecked`. Each request is dispatched with undici's handler interface
 * (`onRequestStart`, `onResponseStart`, `onResponseData`, `onResponseEnd`, `onResponseError`), so
 * `forward` drives an HTTP/2 upstream and an HTTP/1.1 pool alike.
 */
export class H2Sessions {
    #authority;
    #timeouts;
    #sessions = [];
    /**
     * Streams one connection to this origin may carry, as its last SETTINGS said: a new connection
     * starts with it before its own SETTINGS arrive, so a server that allows few streams is not sent
     * more (they would wait in the HTTP/2 library's queue instead of going to another connection).
     */
    #streamsPerConnection = H2_STREAMS_PER_CONNECTION;
    /** Requests sent once already and refused unprocessed: they are not sent a third time. */
    #retried = new WeakSet();
    /** Send a request again, as the caller sends any (a free stream, or one more connection). */
    #redispatch;
    /**
     * `origin` is `https://host:port` as the session's default authority (every request names its
     * own); `redispatch` sends a request the server refused unprocessed once more.
     */
    constructor(origin, timeouts, redispatch) {
        this.#authority = origin;
        this.#timeouts = timeouts;
        this.#redispatch = redispatch;
    }
    /** Streams a new connection is expected to carry at once. */
    get streamsPerConnection() {
        return this.#streamsPerConnection;
    }
    /** Take a connected TLS socket whose ALPN chose h2 as a new connection. */
    add(socket) {
        const session = connect(this.#authority, {
            createConnection: () => socket,
            peerMaxConcurrentStreams: H2_STREAMS_PER_CONNECTION,
            // Node's default, 128 fields per header block, reset the stream of a response with more (a
            // 502 for a head of 1.3 KB that HTTP/1.1 passes on): allow as many as the 16 KiB head limit
            // holds in HTTP/2's accounting (RFC 9113 section 6.5.2: 32 bytes a field besides its text).
            maxHeaderListPairs: MAX_RESPONSE_HEAD / 32,
            // Asks the server to keep response heads under the limit; `runStream` enforces it.
            settings: { enablePush: false, initialWindowSize: STREAM_WINDOW, maxHeaderListSize: MAX_RESPONSE_HEAD },
        });
        const entry = { session, active: 0, max: this.#streamsPerConnection, draining: false };
        this.#sessions.push(entry);
        session.on('connect', () => {
            try {
                session.setLocalWindowSize(CONNECTION_WINDOW);
            }
            catch {
                // Closed before it connected: its streams report that.
            }
        });
        session.on('remoteSettings', (settings) => {
            // 0 is the server allowing no new stream until it raises the limit (RFC 9113 section 5.1.2);
            // a new connection is still expected to carry one (its own SETTINGS may say more).
            entry.max = Math.min(H2_STREAMS_PER_CONNECTION, settings.maxConcurrentStreams ?? H2_STREAMS_PER_CONNECTION);
            this.#streamsPerConnection = Math.max(1, entry.max);
        });
        const retire = () => {
            entry.draining = true;
            const at = this.#sessions.indexOf(entry);
            if (at !== -1)
                this.#sessions.splice(at, 1);
        };
        session.on('goaway', retire);
        session.on('close', retire);
        // A session error also fails its streams, which report it to their requests.
        session.on('error', retire);
        session.on('frameError', () => undefined);
        // Idle connections do not keep the process alive, and close after a while without a stream.
        session.unref();
        session.setTimeout(this.#timeouts.idleTimeoutMs, () => {
            if (entry.active === 0)
                session.close();
        });
    }
    /**
     * Run one request on a connection with a free stream. Returns false, having done nothing, when
     * none has one (the caller dials another and asks again). A connection whose server allows no
     * stream for now (SETTINGS_MAX_CONCURRENT_STREAMS 0) takes the request rather than another
     * connection being dialled around the server's wish: it waits there for the server to raise its
     * limit, `STREAM_LIMIT_WAIT_MS` at most.
     */
    dispatch(request, handler) {
        const live = (s) => !s.draining && !s.session.closed && !s.session.destroyed;
        const entry = this.#sessions.find((s) => live(s) && s.active < s.max) ?? this.#sessions.find((s) => live(s) && s.max === 0);
        if (entry === undefined)
            return false;
        const body = request.body;
        if (body !== null && !Buffer.isBuffer(body) && body.failure !== null) {
            // The body failed while the request waited for a connection (a body filter refused it):
            // nothing of it goes upstream, not even the head.
            handler.onResponseError?.(new StreamController(), body.failure);
            return true;
        }
        let stream;
        try {
            stream = entry.session.request(h2RequestHeaders(request), { endStream: body === null || (Buffer.isBuffer(body) && body.length === 0) });
        }
        catch (err) {
            // Headers Node refuses to send (a repeated single-value field): nothing went upstream.
            handler.onResponseError?.(new StreamController(), err);
            return true;
        }
        entry.active++;
        entry.session.ref();
        // RFC 9113 section 8.7: a stream refused with REFUSED_STREAM, or above a GOAWAY's last stream
        // (nghttp2 closes those with REFUSED_STREAM), was not processed, and may be sent again: once,
        // and only with a body sidekey still holds whole (a streamed one may be partly gone).
        const retry = this.#retried.has(request) || !(body === null || Buffer.isBuffer(body)) ? null : this;
        const heldRefusal = entry.max === 0 ? () => this.#noStreamAllowed() : null;
        new StreamExchange(stream, request, handler, this.#timeouts, entry, retry, heldRefusal).start(body);
        return true;
    }
    /** Send a request the server refused unprocessed once more; it is not sent a third time. */
    sendAgain(request, handler) {
        this.#retried.add(request);
        this.#redispatch(request, handler);
    }
    /** The refusal of a request the server allowed no stream for, in time. */
    #noStreamAllowed() {
        return new SidekeyError('SIDEKEY_ERR_UPSTREAM_CONNECT', `${this.#authority.replace(/^https:\/\//, '')} allows no new HTTP/2 stream (its SETTINGS_MAX_CONCURRENT_STREAMS is 0) and did not raise the limit within ${STREAM_LIMIT_WAIT_MS} ms; nothing was sent. Try again later`);
    }
    /** Close every connection: streams running finish, no new ones start. */
    async close() {
        const sessions = this.#sessions.splice(0);
        await Promise.all(sessions.map((s) => new Promise((resolve) => (s.session.closed ? resolve() : s.session.close(() => resolve())))));
    }
    /** Destroy every connection at once; their streams fail. */
    destroy() {
        for (const s of this.#sessions.splice(0))
            s.session.destroy();
    }
}
/**
 * The request's headers as HTTP/2 fields, in Node's raw form (name, value, name, value, ...):
 * `host` becomes `:authority`, connection-specific fields go, a repeated field stays repeated.
 * The raw form spares Node building and copying a headers object per stream.
 */
function h2RequestHeaders(request) {
    const headers = [':method', request.method, ':path', request.path, ':scheme', 'https'];
    const raw = request.headers;
    for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i].toLowerCase();
        const value = raw[i + 1];
        if (name === 'host') {
            headers.push(':authority', value);
            continue;
        }
        if (CONNECTION_SPECIFIC.has(name) || (name === 'te' && value.trim().toLowerCase() !== 'trailers'))
            continue;
        headers.push(name, value);
    }
    return headers;
}
/** Where each running stream keeps its exchange, for the listeners every stream shares. */
const EXCHANGE = Symbol('sidekey.upstreamStream');
/**
 * Whether each running stream's response was ended by the server (END_STREAM), as seen when Node
 * closes the stream. Node's client ends a stream's readable side ('end', no error) not only on
 * END_STREAM but also when the server resets it with NO_ERROR or CANCEL, or the connection closes
 * without an error: a response cut after some of its body would read as complete. Node publishes
 * each client stream's close on this channel from inside its close, before it ends a reset stream's
 * readable side, so the note is there when 'end' comes (an end on END_STREAM comes before it, or
 * after with the readable side already ended).
 */
subscribe('http2.client.stream.close', (message) => {
    const stream = message.stream;
    const exchange = stream[EXCHANGE];
    // (`remoteClose` does not tell: nghttp2 sets it on any close.)
    if (exchange !== undefined)
        exchange.endedByServer = endedByPeer(stream);
});
/**
 * Whether the HTTP/2 library has sent the stream's HEADERS. One the server's limit does not allow
 * yet is held unsent: nghttp2 has not opened it (its state reads idle, or nothing before it has an id).
 */
function sentYet(stream) {
    const state = stream.state.state;
    return state !== undefined && state !== h2constants.NGHTTP2_STREAM_STATE_IDLE;
}
/**
 * The controller undici's handler interface hands each callback: it records an abort, once. As
 * it is, it is the controller of a request that failed before a stream opened (no connection,
 * headers Node refuses), with nothing to stop, pause or resume; `StreamExchange` extends it for a
 * running stream.
 */
export class StreamController {
    #aborted = false;
    #reason = null;
    get aborted() {
        return this.#aborted;
    }
    get paused() {
        return false;
    }
    get reason() {
        return this.#reason;
    }
    abort(reason) {
        if (this.#aborted)
            return;
        this.#aborted = true;
        this.#reason = reason;
        this.aborting(reason);
    }
    pause() { }
    resume() { }
    /** What an abort stops, once: nothing here. */
    aborting(_reason) { }
}
/**
 * One request on one upstream stream: it sends the body and reports the answer to `handler`
 * (undici's handler interface), exactly once ending in `onResponseEnd` or `onResponseError`, and
 * is the controller the handler is given (abort, pause, resume). One object per stream, kept on
 * the stream, with listeners every stream shares: no closure per stream or per event.
 *
 * With `heldRefusal`, the server allowed no stream when this one was made: the HTTP/2 library
 * holds it until the server raises its limit, and if it has not sent it `STREAM_LIMIT_WAIT_MS`
 * later, the request fails with what `heldRefusal` makes.
 */
class StreamExchange extends StreamController {
    #stream;
    #request;
    #handler;
    #timeouts;
    /** The connection's entry: its count of open streams. */
    #entry;
    /** Where a request refused unprocessed is sent again; null when it may not be. */
    #retry;
    #done = false;
    /** The response head arrived (and went to the handler). */
    #started = false;
    #paused = false;
    #trailers = {};
    /** The headers timeout, then the body timeout (stopped while the agent is not reading). */
    #timer = null;
    #admission = null;
    /** Set from Node's close of the stream (`subscribe` above): the server ended it with END_STREAM. */
    endedByServer = false;
    constructor(stream, request, handler, timeouts, entry, retry, heldRefusal) {
        super();
        this.#stream = stream;
        this.#request = request;
        this.#handler = handler;
        this.#timeouts = timeouts;
        this.#entry = entry;
        this.#retry = retry;
        stream[EXCHANGE] = this;
        if (timeouts.headersTimeoutMs > 0)
            this.#timer = setTimeout(onHeadersTimeout, timeouts.headersTimeoutMs, this);
        // Failing a stream the library still holds unsent sends nothing (nghttp2 drops its HEADERS), so
        // the server never sees a reset of a stream it did not know.
        if (heldRefusal !== null) {
            this.#admission = setTimeout(() => {
                if (!sentYet(stream))
                    this.fail(heldRefusal());
            }, STREAM_LIMIT_WAIT_MS);
        }
        stream.on('response', onStreamResponse);
        stream.on('data', onStreamData);
        stream.on('trailers', onStreamTrailers);
        stream.on('end', onStreamEnd);
        stream.on('error', onStreamError);
        stream.on('close', onStreamClose);
    }
    get paused() {
        return this.#paused;
    }
    /** An abort (the agent gone, the answer refused) fails the exchange. */
    aborting(reason) {
        this.fail(reason);
    }
    pause() {
        if (this.#paused)
            return;
        this.#paused = true;
        this.#stream.pause();
        // The body timer stops while the agent is not reading.
        if (this.#started && !this.#done)
            this.#clearTimer();
    }
    resume() {
        if (!this.#paused)
            return;
        this.#paused = false;
        this.#stream.resume();
        if (this.#started && !this.#done)
            this.#armBodyTimer();
    }
    /** Start: the handler hears of the request, and the body goes up. */
    start(body) {
        this.#handler.onRequestStart?.(this, {});
        if (Buffer.isBuffer(body)) {
            if (body.length > 0)
                this.#stream.end(body);
        }
        else if (body !== null) {
            // A failing body (a body filter's refusal, the agent gone) resets the stream, never ends it.
            body.sendTo(this.#stream, (err) => this.fail(err));
        }
    }
    /** Fail the exchange once: the stream is reset (or the request sent again) and the handler told. */
    fail(err) {
        if (this.#done)
            return;
        this.#done = true;
        this.#clearTimer();
        const stream = this.#stream;
        const retry = this.#retry;
        if (retry !== null && !this.#started && stream.rstCode === NGHTTP2_REFUSED_STREAM) {
            // Refused unprocessed: sent again, after this stream's close has freed its slot. The handler
            // hears nothing of this stream; the next one starts it over. An abort in between (the agent
            // gone) ends it there.
            setImmediate(() => (this.aborted ? this.#handler.onResponseError?.(this, this.reason ?? err) : retry.sendAgain(this.#request, this.#handler)));
            return;
        }
        // destroy(err), not close(CANCEL): Node's close() ends the writable side first, which sends
        // END_STREAM before the RST_STREAM, and a server may take the request as complete in between.
        // destroy(err) sends only RST_STREAM (INTERNAL_ERROR): a refused body never reads as whole.
        if (!stream.destroyed)
            stream.destroy(err);
        this.#handler.onResponseError?.(this, err);
    }
    /** The response head. */
    response(head) {
        if (this.#done)
            return;
        this.#started = true;
        const status = Number(head[':status']);
        const headers = {};
        let size = 0;
        for (const name in head) {
            const value = head[name];
            size += name.length + (Array.isArray(value) ? value.reduce((n, v) => n + v.length, 0) : String(value).length);
            if (name.charCodeAt(0) !== 58 /* ':' */)
                headers[name] = value;
        }
        if (size > MAX_RESPONSE_HEAD) {
            // Node's client does not hold the server to the limit it advertised: a head over it fails
            // the whole response (502), never passed on in part, as undici's limit does on HTTP/1.1.
            this.fail(Object.assign(new Error(`the upstream's response head is over ${MAX_RESPONSE_HEAD} bytes`), { code: 'UND_ERR_HEADERS_OVERFLOW' }));
            return;
        }
        if (!this.#paused)
            this.#armBodyTimer();
        else
            this.#clearTimer();
        // A handler that throws (the agent's side refusing what the upstream sent) fails the exchange:
        // inside a stream event a throw would be uncaught and end the process (undici's clients catch
        // them too). The same for each chunk below.
        try {
            this.#handler.onResponseStart?.(this, status, headers, '');
        }
        catch (err) {
            this.fail(err);
        }
    }
    data(chunk) {
        if (this.#done)
            return;
        if (this.#timer !== null)
            this.#timer.refresh();
        try {
            this.#handler.onResponseData?.(this, chunk);
        }
        catch (err) {
            this.fail(err);
        }
    }
    trailers(head) {
        const trailers = {};
        for (const name in head)
            if (name.charCodeAt(0) !== 58)
                trailers[name] = head[name];
        this.#trailers = trailers;
    }
    end() {
        if (this.#done)
            return;
        const stream = this.#stream;
        if (!this.#started) {
            this.fail(Object.assign(new Error('the upstream ended the stream without a response'), { code: 'ERR_HTTP2_STREAM_ERROR' }));
            return;
        }
        // A stream still open ended on END_STREAM; a closed one did only if Node saw the server end it
        // (`endedByServer`): else it was reset (RST_STREAM NO_ERROR or CANCEL) or its connection lost,
        // and the response is cut, never complete.
        if (stream.closed && !this.endedByServer) {
            this.fail(Object.assign(new Error(`the upstream cut the response (HTTP/2 error ${stream.rstCode ?? 'unknown'} before the end of the stream)`), { code: 'ERR_HTTP2_STREAM_ERROR' }));
            return;
        }
        this.#done = true;
        this.#clearTimer();
        try {
            this.#handler.onResponseEnd?.(this, this.#trailers);
        }
        catch (err) {
            // Done already, so not through `fail`: the handler still hears of it, once.
            this.#handler.onResponseError?.(this, err);
        }
    }
    /** The stream is gone: its slot on the connection is free. */
    closed() {
        const entry = this.#entry;
        entry.active--;
        if (entry.active === 0)
            entry.session.unref();
        if (this.#admission !== null)
            clearTimeout(this.#admission);
        // Every stream closes, most after their end: build the error (a stack trace) only when it is one.
        if (!this.#done)
            this.fail(Object.assign(new Error(`the upstream closed the stream (HTTP/2 error ${this.#stream.rstCode ?? 'unknown'})`), { code: 'ERR_HTTP2_STREAM_ERROR' }));
    }
    #armBodyTimer() {
        const ms = this.#timeouts.bodyTimeoutMs;
        // The headers timer becomes the body timer when both are the same length.
        if (this.#timer !== null && ms === this.#timeouts.headersTimeoutMs) {
            this.#timer.refresh();
            return;
        }
        this.#clearTimer();
        if (ms > 0)
            this.#timer = setTimeout(onBodyTimeout, ms, this);
    }
    #clearTimer() {
        if (this.#timer !== null)
            clearTimeout(this.#timer);
        this.#timer = null;
    }
}
function onHeadersTimeout(exchange) {
    exchange.fail(new undiciErrors.HeadersTimeoutError());
}
function onBodyTimeout(exchange) {
    exchange.fail(new undiciErrors.BodyTimeoutError());
}
// The stream's listeners, shared by every stream (`this` is the stream).
function onStreamResponse(head) {
    this[EXCHANGE]?.response(head);
}
function onStreamData(chunk) {
    this[EXCHANGE]?.data(chunk);
}
function onStreamTrailers(head) {
    this[EXCHANGE]?.trailers(head);
}
function onStreamEnd() {
    this[EXCHANGE]?.end();
}
function onStreamError(err) {
    this[EXCHANGE]?.fail(err);
}
function onStreamClose() {
    const exchange = this[EXCHANGE];
    // The closed stream lets go of the exchange (and through it the request's objects): Node's
    // stream object outlives its close by a while (accept/h2-server-request.ts says why that costs).
    this[EXCHANGE] = undefined;
    exchange?.closed();
}
//# sourceMappingURL=h2-sessions.js.map