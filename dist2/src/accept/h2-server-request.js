import { Readable } from 'node:stream';
import { agentGone, SidekeyError } from '../errors.js';
import { h2RequestHead } from '../http/h2-request.js';
import { endedByPeer } from '../http/h2-stream-end.js';
/** Where the state is kept on a session, and on each of its streams (a stream may outlive `stream.session`). */
export const SESSION_STATE = Symbol('sidekey.h2SessionState');
/** Where each stream keeps its request, for the listeners every stream shares. */
const REQUEST = Symbol('sidekey.h2Request');
/** One HTTP/2 stream's request, as the stages read it. */
export class H2ServerRequest extends Readable {
    stream;
    /** `:method`, as sent. */
    method;
    /** `:path`, as sent (none for CONNECT). */
    url;
    /** The head's fields as HTTP/1.1 reads them (http/h2-request.ts). */
    headers;
    /** The fields to forward: no pseudo-headers, Host from `:authority`. */
    rawHeaders;
    /** Trailer fields that followed the body, as Node's HTTP/1.1 request has them (refused: accept/http-limits.ts). */
    trailers = {};
    rawTrailers = [];
    httpVersionMajor = 2;
    httpVersionMinor = 0;
    httpVersion = '2.0';
    /** The `:authority` and `host` fields disagree: the request names two destinations. */
    authorityConflict;
    /** `:method` is not one sidekey forwards (http/h2-request.ts): refused before it is decided. */
    methodRefused;
    /** `:path` holds a byte HTTP/1.1 refuses raw in a target (http/raw-url-bytes.ts): refused before it is decided. */
    pathRefused;
    /** The tunnel (or redirected connection) the stream arrived in; null for a session sidekey did not hand over. */
    tunnel;
    /** The body was read whole, or the stream closed. */
    #over = false;
    /** Reading the stream's DATA has begun. */
    #reading = false;
    constructor(stream, rawHeaders) {
        // Not destroyed at its end: a request, like Node's, stays readable for its 'close' (below).
        super({ autoDestroy: false });
        this.stream = stream;
        const head = h2RequestHead(rawHeaders, stream.endAfterHeaders);
        this.method = head.method;
        this.url = head.path;
        this.headers = head.headers;
        this.rawHeaders = head.rawHeaders;
        this.authorityConflict = head.authorityConflict;
        this.methodRefused = head.methodRefused;
        this.pathRefused = head.pathRefused;
        const state = stream.session?.[SESSION_STATE];
        this.tunnel = state?.tunnel ?? null;
        const s = stream;
        s[REQUEST] = this;
        if (state !== undefined) {
            state.open++;
            s[SESSION_STATE] = state;
        }
        // A stream error (the peer's reset, a frame nghttp2 refused) is reported by its close below;
        // without a listener it would be thrown.
        stream.on('error', ignore);
        // Prepended: the request fails or ends before anything else hears of the close (the response's
        // listeners, which may settle the exchange).
        stream.prependListener('close', onStreamClose);
        if (stream.endAfterHeaders) {
            this.#over = true;
            this.push(null);
            return;
        }
        stream.on('trailers', onStreamTrailers);
        stream.on('end', onStreamEnd);
        // 'aborted' comes before Node ends a stream reset with NO_ERROR (see `failIfCut`).
        stream.once('aborted', onStreamAborted);
    }
    /** Whether the body has all arrived (or never will), as Node's HTTP/1.1 request says. */
    get complete() {
        return this.#over || this.stream.destroyed;
    }
    /** Read the stream's DATA on demand: the first read starts it, later ones resume a paused stream. */
    _read() {
        if (this.#over)
            return;
        if (!this.#reading) {
            this.#reading = true;
            this.stream.on('data', onStreamData);
        }
        else
            this.stream.resume();
    }
    /**
     * As Node's HTTP/1.1 request does: a request failed with no one listening (a refusal sent before
     * its body was read) is destroyed quietly, not an uncaught 'error'.
     */
    _destroy(err, callback) {
        callback(this.listenerCount('error') > 0 ? err : null);
    }
    /**
     * The stream closed before the body ended: unless the agent's END_STREAM arrived first
     * (`endedByPeer`), the body was cut, and the request fails, never ends. Either the agent broke
     * HTTP/2 on the stream (nghttp2 found DATA that contradicts content-length, and Node destroyed
     * the stream with ERR_HTTP2_ERROR), a malformed request; or the agent reset its stream or closed
     * its connection: it went away, which is never the upstream's failure. (Node ends a stream's
     * readable side on any close, reset or not, so a stream reset mid-body would read as a complete
     * body: piped up, an HTTP/1.1 upstream got the last chunk, an HTTP/2 one END_STREAM.)
     */
    failIfCut() {
        const stream = this.stream;
        if (this.destroyed || this.#over || endedByPeer(stream))
            return;
        this.#over = true;
        this.destroy(stream.errored?.code === 'ERR_HTTP2_ERROR'
            ? new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the HTTP/2 request body broke the protocol (such as DATA that contradicts content-length); its stream was reset and nothing of it was sent as complete')
            : agentGone('the agent reset its HTTP/2 stream (or closed the connection) before the request body ended; nothing of it was sent as complete'));
    }
    /** The agent's END_STREAM: the body is whole. */
    bodyEnded() {
        if (this.#over)
            return;
        this.#over = true;
        this.push(null);
    }
    /** The stream closed: a body cut short fails; the request is over, and says so with 'close'. */
    streamClosed() {
        this.failIfCut();
        if (!this.#over)
            this.bodyEnded();
        // A body no one read (a refusal sent before it) is let go, as Node's HTTP/1.1 request does.
        if (!this.#reading && !this.destroyed)
            this.resume();
        this.emit('close');
    }
}
function ignore() { }
// The stream's listeners, shared by every stream (`this` is the stream).
// After the close the request is gone from the stream (`onStreamClose`): nothing is read then.
function onStreamData(chunk) {
    const req = this[REQUEST];
    if (req !== undefined && !req.push(chunk))
        this.pause();
}
function onStreamEnd() {
    this[REQUEST]?.bodyEnded();
}
function onStreamTrailers(trailers, _flags, rawTrailers) {
    const req = this[REQUEST];
    if (req === undefined)
        return;
    Object.assign(req.trailers, trailers);
    req.rawTrailers.push(...rawTrailers);
}
function onStreamAborted() {
    this[REQUEST]?.failIfCut();
}
function onStreamClose() {
    const state = this[SESSION_STATE];
    if (state !== undefined)
        state.open--;
    const req = this[REQUEST];
    // The closed stream lets go of the request (and through it the exchange): Node's stream object
    // outlives its close by a while, and whatever it still points to is copied by each young-
    // generation collection meanwhile, then promoted (docs/benchmarks.md, eighth session on #15).
    this[REQUEST] = undefined;
    req?.streamClosed();
}
//# sourceMappingURL=h2-server-request.js.map