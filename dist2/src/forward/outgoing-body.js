var _a;
import { PassThrough } from 'node:stream';
/**
 * Filtered bytes held for an upstream not there yet (a connection being dialled) before the agent's
 * body is paused: about what one stream stage would have buffered.
 */
const HOLD_LIMIT = 64 * 1024;
/** Where a body keeps its OutgoingBody: on its source and on its sink, so their listeners need no closure. */
const BODY = Symbol('sidekey.outgoingBody');
/**
 * A request body on its way up: the agent's body read chunk by chunk as it arrives, passed through
 * the body filters (a throw is a refusal), counted, and written to what sends it upstream: an
 * HTTP/2 stream itself (`sendTo`), or a stream undici reads on HTTP/1.1 (`readable`).
 *
 * Reading starts at once, as a pipe would, so a refusal found while the request waits for a
 * connection fails it before anything goes up (`failure`); what is read before the upstream is
 * there is held, HOLD_LIMIT at most, then the agent's body is paused until it is.
 *
 * Plain calls rather than a Transform and two pipes: on HTTP/2 a gRPC call's body used to cost a
 * Duplex, two pipe() set-ups with their listeners, and a few ticks per call (docs/benchmarks.md).
 */
export class OutgoingBody {
    #source;
    #filter;
    #counted;
    #failed;
    #sink = null;
    #onSinkFailure = null;
    /** Filtered chunks read before the sink was attached; null once it is. */
    #held = [];
    #heldBytes = 0;
    /** The agent's body ended and the filters ended: nothing more will be written. */
    #ended = false;
    #failure = null;
    /** The sink asked for a pause (write returned false), and the agent's body waits for its 'drain'. */
    #waiting = false;
    /**
     * @param source The agent's request body.
     * @param filter The body filters, chained (null for none).
     * @param counted Told the size of each filtered chunk passed on.
     * @param failed Told once, when the body fails: a filter's refusal, or the agent's body failing.
     */
    constructor(source, filter, counted, failed) {
        this.#source = source;
        this.#filter = filter;
        this.#counted = counted;
        this.#failed = failed;
        source[BODY] = this;
        source.on('data', _a.#onData);
        source.on('end', _a.#onEnd);
        source.on('error', _a.#onError);
    }
    /** Why the body failed, or null. A failed body sends nothing more. */
    get failure() {
        return this.#failure;
    }
    /**
     * Write the body to `sink` (an HTTP/2 stream), with backpressure, and end it when the body ends.
     * `onFailure` hears a failure later on (a refusal, the agent gone); the sink is not ended then,
     * and the caller resets it. Once only; check `failure` first.
     */
    sendTo(sink, onFailure) {
        this.#sink = sink;
        this.#onSinkFailure = onFailure;
        sink[BODY] = this;
        sink.on('close', _a.#onSinkClose);
        const held = this.#held;
        this.#held = null;
        this.#heldBytes = 0;
        if (this.#ended) {
            if (held.length === 0)
                sink.end();
            else if (held.length === 1)
                sink.end(held[0]);
            else
                sink.end(Buffer.concat(held));
            return;
        }
        for (const chunk of held)
            this.#write(chunk);
        if (!this.#waiting)
            this.#source.resume();
    }
    /** The body as a stream for undici's HTTP/1.1 client; a failure destroys it with the reason. */
    readable() {
        const out = new PassThrough();
        // Its error is the failure, already reported: undici may have let go of the body by then.
        out.on('error', () => undefined);
        if (this.#failure !== null)
            out.destroy(this.#failure);
        else
            this.sendTo(out, (err) => out.destroy(err));
        return out;
    }
    static #onData(chunk) {
        this[BODY].#read(chunk);
    }
    static #onEnd() {
        this[BODY].#end();
    }
    static #onError(err) {
        this[BODY].#fail(err, 'agent');
    }
    static #onSinkClose() {
        const body = this[BODY];
        // The closed sink lets go of the body, and through it of the request (accept/h2-server-request.ts says why).
        this[BODY] = undefined;
        body.#stopReading();
    }
    static #onDrain() {
        const body = this[BODY];
        if (body === undefined)
            return;
        body.#waiting = false;
        if (body.#failure === null && !body.#ended)
            body.#source.resume();
    }
    #read(chunk) {
        if (this.#failure !== null)
            return;
        let pass;
        try {
            pass = this.#filter === null ? chunk : this.#filter.push(chunk);
        }
        catch (err) {
            this.#fail(err, 'filter');
            return;
        }
        this.#pass(pass);
    }
    #end() {
        if (this.#failure !== null)
            return;
        let last = null;
        try {
            if (this.#filter !== null)
                last = this.#filter.end();
        }
        catch (err) {
            this.#fail(err, 'filter');
            return;
        }
        this.#pass(last);
        this.#ended = true;
        if (this.#sink !== null && !this.#sink.destroyed)
            this.#sink.end();
    }
    #pass(chunk) {
        if (chunk === null || chunk.length === 0)
            return;
        this.#counted(chunk.length);
        if (this.#held !== null) {
            this.#held.push(chunk);
            this.#heldBytes += chunk.length;
            if (this.#heldBytes > HOLD_LIMIT)
                this.#source.pause();
            return;
        }
        this.#write(chunk);
    }
    #write(chunk) {
        const sink = this.#sink;
        if (sink.destroyed)
            return;
        if (!sink.write(chunk) && !this.#waiting) {
            this.#waiting = true;
            this.#source.pause();
            sink.once('drain', _a.#onDrain);
        }
    }
    #fail(err, by) {
        if (this.#failure !== null)
            return;
        this.#failure = err;
        this.#held = this.#held === null ? null : [];
        this.#stopReading();
        this.#failed(err, by);
        this.#onSinkFailure?.(err);
    }
    /** Read no more of the agent's body (as pipe() does when it unpipes). */
    #stopReading() {
        this.#source.off('data', _a.#onData);
        this.#source.pause();
    }
}
_a = OutgoingBody;
//# sourceMappingURL=outgoing-body.js.map