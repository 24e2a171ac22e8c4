import { Writable } from 'node:stream';
/** Where each stream keeps its response, for the one 'wantTrailers' listener all streams share. */
const RESPONSE = Symbol('sidekey.h2Response');
/**
 * The answer to one agent HTTP/2 stream, written straight onto the stream with Node's core API:
 * the members of Node's HTTP/1.1 response that the stages use (http/agent-response.ts), and no
 * more. It replaces Node's compatibility response, which per stream is a legacy Stream with its
 * state object and five listeners on the stream; this one is a plain object with one listener
 * (shared by every stream), whose 'close' and 'drain' are the stream's own events.
 *
 * What it keeps of the compatibility response, on purpose:
 * - the head goes out with the first `write` or `end` (or `writeHead`, `flushHeaders`);
 * - a head sent before the end waits for trailers (`waitForTrailers`), so the upstream's trailers
 *   (gRPC's `grpc-status`) can follow the body; an `end` with nothing written sends the head alone
 *   with END_STREAM, which is gRPC's Trailers-Only form;
 * - `destroy(err)` resets the stream with INTERNAL_ERROR (Node's core does that for an error),
 *   never NO_ERROR, which clients read as a complete answer.
 */
export class H2Response {
    /** The agent's stream. */
    stream;
    statusCode = 200;
    #fields = Object.create(null);
    #trailers = null;
    #ending = false;
    constructor(stream) {
        this.stream = stream;
        stream[RESPONSE] = this;
    }
    get headersSent() {
        return this.stream.headersSent;
    }
    get writableEnded() {
        return this.#ending;
    }
    get writableFinished() {
        return this.stream.writableFinished;
    }
    get destroyed() {
        return this.stream.destroyed;
    }
    setHeader(name, value) {
        if (this.stream.headersSent)
            throw Object.assign(new Error('Response has already been initiated.'), { code: 'ERR_HTTP2_HEADERS_SENT' });
        this.#fields[name.toLowerCase()] = value;
        return this;
    }
    getHeader(name) {
        return this.#fields[name.toLowerCase()];
    }
    /** Send the head: `status` and the fields set so far, with `headers` over them. HTTP/2 has no reason phrase. */
    writeHead(status, reasonOrHeaders, headers) {
        const stream = this.stream;
        if (stream.destroyed || stream.closed)
            return this;
        const fields = typeof reasonOrHeaders === 'object' ? reasonOrHeaders : headers;
        if (fields !== undefined)
            for (const name in fields) {
                const value = fields[name];
                if (value !== undefined)
                    this.#fields[name.toLowerCase()] = value;
            }
        this.statusCode = status;
        this.#fields[':status'] = status;
        // Ending with nothing written: the head alone ends the stream. Otherwise the end waits for
        // trailers, sent (or none) on 'wantTrailers'.
        if (this.#ending) {
            // No 'wantTrailers' will come to take the response off the stream (`sendTrailers`).
            ;
            stream[RESPONSE] = undefined;
            stream.respond(this.#fields, { endStream: true });
        }
        else {
            // 'wantTrailers' comes once per stream: `on`, without the wrapper `once` makes per call.
            stream.on('wantTrailers', sendTrailers);
            stream.respond(this.#fields, { waitForTrailers: true });
        }
        return this;
    }
    flushHeaders() {
        if (!this.stream.headersSent)
            this.writeHead(this.statusCode);
    }
    write(chunk) {
        const stream = this.stream;
        if (stream.destroyed)
            return false;
        if (this.#ending) {
            stream.destroy(Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END' }));
            return false;
        }
        if (!stream.headersSent)
            this.writeHead(this.statusCode);
        return stream.write(chunk);
    }
    end(chunkOrCallback, callback) {
        const stream = this.stream;
        const chunk = typeof chunkOrCallback === 'function' ? undefined : chunkOrCallback;
        const done = typeof chunkOrCallback === 'function' ? chunkOrCallback : callback;
        if (this.#ending || stream.destroyed || stream.closed) {
            if (done !== undefined)
                process.nextTick(done);
            return this;
        }
        if (chunk !== undefined)
            this.write(chunk);
        this.#ending = true;
        if (done !== undefined) {
            // Node's head for 204, 304 and HEAD ends the stream by itself: its finish may have passed.
            if (stream.writableFinished)
                process.nextTick(done);
            else
                stream.once('finish', done);
        }
        if (!stream.headersSent)
            this.writeHead(this.statusCode);
        if (!stream.writableEnded)
            stream.end();
        return this;
    }
    addTrailers(headers) {
        const trailers = (this.#trailers ??= Object.create(null));
        if (Array.isArray(headers))
            for (const [name, value] of headers)
                trailers[name.toLowerCase()] = value;
        else
            for (const [name, value] of Object.entries(headers))
                if (value !== undefined)
                    trailers[name.toLowerCase()] = value;
    }
    destroy(err) {
        this.stream.destroy(err);
        return this;
    }
    on(event, listener) {
        this.stream.on(event, listener);
        return this;
    }
    once(event, listener) {
        this.stream.once(event, listener);
        return this;
    }
    off(event, listener) {
        this.stream.off(event, listener);
        return this;
    }
    /** The trailers to send, or none; read once the body has gone (`sendTrailers`). */
    get pendingTrailers() {
        return this.#trailers;
    }
    /**
     * A Writable over this response, for a `pipeline` of response stages to end in: each chunk is
     * written here with backpressure, its end ends the response, and its failure resets the stream.
     */
    writable() {
        const sink = new Writable({
            write: (chunk, _encoding, done) => {
                if (this.write(chunk))
                    done();
                else
                    this.stream.once('drain', () => done());
            },
            final: (done) => {
                this.end(() => done());
            },
            destroy: (err, done) => {
                if (err !== null)
                    this.destroy(err);
                done(err);
            },
        });
        // A stream reset under the pipeline fails it, rather than leaving it waiting for a drain.
        this.stream.once('close', () => {
            if (!sink.writableFinished)
                sink.destroy(new Error('the HTTP/2 stream closed before the answer was complete'));
        });
        return sink;
    }
}
/** The body has gone: send the response's trailers, or an empty end (`this` is the stream). */
function sendTrailers() {
    const response = this[RESPONSE];
    // Let go of the response: Node's stream object outlives its close (accept/h2-server-request.ts).
    this[RESPONSE] = undefined;
    this.sendTrailers(response?.pendingTrailers ?? {});
}
//# sourceMappingURL=h2-response.js.map