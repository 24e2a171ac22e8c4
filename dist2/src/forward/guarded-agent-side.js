import { Duplex } from 'node:stream';
import { closeCodeFor, closeFrame } from '../guard/websocket-frames.js';
import { asSidekeyError } from '../accept/refuse.js';
/** How long a peer told to close may keep its socket open before it is dropped. */
const CLOSE_GRACE_MS = 2000;
/**
 * The agent's socket as the relay sees it: http-proxy pipes the upstream's socket into this side
 * and this side into the upstream's, so both directions pass a FrameRewriter on the way. The
 * upstream's bytes are written here and reach the agent once their guard lets them; the agent's
 * bytes are read here once their guard lets them.
 *
 * Until `open`, nothing is read from the agent (a frame sent before the 101 waits for it, with the
 * bytes that came with the request head). On a refusal the upstream is dropped at once, so nothing
 * held back is ever forwarded, and the agent gets a close frame with the code and the reason,
 * when what it was sent so far ends at a frame boundary (otherwise its connection is cut).
 */
export class GuardedAgentSide extends Duplex {
    #agent;
    #head;
    #onRefused;
    #state = 'waiting';
    #upstream = null;
    #fromAgent = null;
    #fromUpstream = null;
    constructor(agent, head, onRefused) {
        super({ allowHalfOpen: true });
        this.#agent = agent;
        this.#head = head;
        this.#onRefused = onRefused;
        agent.once('close', () => {
            this.#upstream?.destroy();
            this.destroy();
        });
    }
    /**
     * The upstream switched protocols: the next write is the 101 head (passed on as it is), every
     * later one holds frames. Reading from the agent starts with what came after its request head.
     */
    open(upstream, fromAgent, fromUpstream) {
        this.#upstream = upstream;
        this.#fromAgent = fromAgent;
        this.#fromUpstream = fromUpstream;
        this.#state = 'head';
        upstream.once('close', () => {
            if (this.#state === 'closing')
                return;
            // A clean end reaches the agent through `_final`; a reset cuts the agent's connection too.
            if (!this.writableEnded)
                this.#agent.destroy();
            else
                setTimeout(() => this.#agent.destroy(), CLOSE_GRACE_MS).unref();
        });
        if (this.#agent.destroyed)
            upstream.destroy();
    }
    /** The 101 was refused: whatever http-proxy still writes or reads here goes nowhere. */
    discard() {
        this.#state = 'discarding';
    }
    // http-proxy tunes the sockets it relays (common.setupSocket); pass that on to the agent's.
    setTimeout(ms) {
        ;
        this.#agent.setTimeout?.(ms);
        return this;
    }
    setNoDelay(noDelay) {
        ;
        this.#agent.setNoDelay?.(noDelay);
        return this;
    }
    setKeepAlive(enable, delayMs) {
        ;
        this.#agent.setKeepAlive?.(enable, delayMs);
        return this;
    }
    _write(chunk, _enc, done) {
        if (this.#state === 'head') {
            this.#state = 'open';
            this.#agent.write(chunk);
            this.#startReading();
            done();
            return;
        }
        if (this.#state !== 'open') {
            done();
            return;
        }
        let out;
        try {
            out = this.#fromUpstream.push(chunk);
        }
        catch (err) {
            this.#refuse(err);
            done();
            return;
        }
        if (out.length === 0 || this.#agent.write(out))
            done();
        else
            this.#agent.once('drain', () => done());
    }
    _final(done) {
        if (this.#state === 'open')
            this.#agent.end();
        done();
    }
    _read() {
        if (this.#state === 'open')
            this.#agent.resume();
    }
    _destroy(err, done) {
        this.#agent.off('data', this.#onAgentData);
        if (this.#state !== 'closing')
            this.#agent.destroy();
        done(err);
    }
    #startReading() {
        const head = this.#head;
        this.#head = Buffer.alloc(0);
        if (head.length > 0)
            this.#onAgentData(head);
        this.#agent.on('data', this.#onAgentData);
        this.#agent.once('end', () => {
            if (this.#state === 'open')
                this.push(null);
        });
    }
    #onAgentData = (chunk) => {
        if (this.#state !== 'open')
            return;
        let out;
        try {
            out = this.#fromAgent.push(chunk);
        }
        catch (err) {
            this.#refuse(err);
            return;
        }
        if (out.length > 0 && !this.push(out))
            this.#agent.pause();
    };
    /** Close both sides for a refused frame: the upstream at once, the agent with a close frame. */
    #refuse(thrown) {
        if (this.#state === 'closing')
            return;
        this.#state = 'closing';
        const err = asSidekeyError(thrown);
        this.#agent.off('data', this.#onAgentData);
        this.#upstream?.destroy();
        this.#onRefused(err);
        if (this.#fromUpstream?.atFrameBoundary && this.#agent.writable) {
            this.#agent.end(closeFrame(closeCodeFor(err), `${err.code}: ${err.message}`));
            setTimeout(() => this.#agent.destroy(), CLOSE_GRACE_MS).unref();
        }
        else {
            this.#agent.destroy();
        }
        this.destroy();
    }
}
//# sourceMappingURL=guarded-agent-side.js.map