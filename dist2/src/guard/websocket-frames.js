import { SidekeyError } from '../errors.js';
import { detected } from './secret-scan.js';
/**
 * The guard between the two sockets of a WebSocket (RFC 6455 section 5). sidekey reads every
 * frame in both directions as it streams: what the agent sends is unmasked and checked for the
 * secrets sidekey manages (an agent sending one is exfiltrating it, as in a request), and what the
 * upstream sends has echoed secrets masked (as in a response). Masks keep their length, so every
 * frame keeps its header and length; bytes that might be the start of a secret are held back
 * until the next bytes show whether they are, across TCP reads, frames and fragments of a message.
 *
 * Frames that sidekey could not read the way the receiving side will are refused (close 1002):
 * reserved bits (compression, RFC 7692, is never negotiated on a guarded connection, so RSV1 means
 * hidden bytes), reserved opcodes, fragmented or oversized control frames, unmasked frames from
 * the agent and masked ones from the upstream (section 5.1), continuations that continue nothing.
 */
/** Close codes sidekey sends (RFC 6455 section 7.4.1). */
export const CLOSE_CODES = { protocolError: 1002, policyViolation: 1008, messageTooBig: 1009, internalError: 1011 };
/** A frame refused: the connection is closed with `closeCode`, and `code` goes on the audit line. */
export class FrameRefusal extends SidekeyError {
    closeCode;
    constructor(code, closeCode, message) {
        super(code, message);
        this.name = 'FrameRefusal';
        this.closeCode = closeCode;
    }
}
/** The close code for whatever a frame guard threw: a secret is a policy violation (1008). */
export function closeCodeFor(err) {
    if (err instanceof FrameRefusal)
        return err.closeCode;
    return err.code === 'SIDEKEY_ERR_SECRET_DETECTED' ? CLOSE_CODES.policyViolation : CLOSE_CODES.internalError;
}
/**
 * The agent's frames: every payload is checked for the secrets `scanner` holds, in any of the
 * forms it knows, across frame and fragment boundaries. Within a message the last (longest form
 * - 1) bytes are held back, so nothing of a secret is forwarded before it is recognised; at the
 * end of a message all of it goes on (an interactive protocol must not wait), and its tail is
 * still scanned together with the next message, so a secret split across messages is caught too,
 * though its first part has gone out.
 */
export function secretTripwire(scanner) {
    /** The last bytes seen (sent or held), scanned again with the next chunk. */
    let recent = Buffer.alloc(0);
    /** Bytes of the current message not yet released. */
    let held = Buffer.alloc(0);
    let needlesSeen = null;
    let keep = 0;
    // The scanner returns the same array until it learns a secret: measure the longest form once per change.
    const keepLength = () => {
        const needles = scanner.needles();
        if (needles !== needlesSeen) {
            needlesSeen = needles;
            keep = Math.max(0, ...needles.map((n) => n.length - 1));
        }
        return keep;
    };
    return {
        data(chunk) {
            const window = recent.length === 0 ? chunk : Buffer.concat([recent, chunk]);
            if (scanner.foundInBuffer(window))
                throw detected();
            const k = keepLength();
            recent = Buffer.from(window.subarray(Math.max(0, window.length - k)));
            const pending = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
            const cut = Math.max(0, pending.length - k);
            held = Buffer.from(pending.subarray(cut));
            return cut > 0 ? pending.subarray(0, cut) : null;
        },
        endMessage() {
            const rest = held;
            held = Buffer.alloc(0);
            return rest;
        },
        control(payload) {
            if (scanner.foundInBuffer(payload))
                throw detected();
            return payload;
        },
    };
}
/**
 * The upstream's frames: echoed secrets masked, each message scrubbed as one body (a secret split
 * across its fragments is masked too) by a fresh filter from `newFilter` (the response guard's
 * scrubber, so every form it masks in a response it masks here; null when nothing is to be
 * masked), each control frame on its own.
 */
export function echoScrubber(newFilter) {
    let message;
    return {
        data(chunk) {
            if (message === undefined)
                message = newFilter();
            return message === null ? chunk : message.push(chunk);
        },
        endMessage() {
            const rest = message?.end() ?? null;
            message = undefined;
            return rest;
        },
        control(payload) {
            const filter = newFilter();
            if (filter === null)
                return payload;
            const head = filter.push(payload);
            const rest = filter.end();
            return Buffer.concat([head ?? Buffer.alloc(0), rest ?? Buffer.alloc(0)]);
        },
    };
}
const OPCODES = new Set([0x0, 0x1, 0x2, 0x8, 0x9, 0xa]);
/**
 * Frames that may wait behind payload bytes held back for inspection. Empty fragments and pings
 * carry no bytes that could release what is held, so without a bound a peer could queue them
 * without end.
 */
const MAX_WAITING_PIECES = 1024;
/**
 * One direction of a WebSocket: parses frames from whatever byte chunks arrive, passes each
 * payload through a PayloadGuard, and gives back the bytes to forward, in the same frames, in the
 * same order. `push` throws a FrameRefusal (or the guard's error) to refuse the connection; after
 * that the rewriter must not be used again.
 */
export class FrameRewriter {
    #source;
    #guard;
    /** Header bytes of the next frame, until complete (at most 14). */
    #head = Buffer.alloc(0);
    #frame = null;
    /** A fragmented data message is open (its first frame had FIN clear). */
    #inMessage = false;
    #control = [];
    /** Wire order: headers and payload slots not yet sent. */
    #queue = [];
    /** Payload slots still owed guarded bytes, per channel (data messages, control frames). */
    #unassigned = { data: [], control: [] };
    #boundary = true;
    /** Bytes already drained during the current `push`. */
    #drained = [];
    constructor(source, guard) {
        this.#source = source;
        this.#guard = guard;
    }
    /**
     * True when the bytes given back so far end at the end of a frame, so a close frame can follow
     * them. False while a frame is half sent (its header out, part of its payload held).
     */
    get atFrameBoundary() {
        return this.#boundary;
    }
    /** Read `chunk` and return the bytes that may be forwarded now (possibly none). */
    push(chunk) {
        let at = 0;
        while (at < chunk.length) {
            const frame = this.#frame;
            if (frame === null) {
                at = this.#readHeader(chunk, at);
                continue;
            }
            const n = Math.min(frame.remaining, chunk.length - at);
            const wire = chunk.subarray(at, at + n);
            at += n;
            const control = (frame.opcode & 0x8) !== 0;
            const slot = { kind: 'payload', control, length: n, key: frame.key, keyOffset: frame.offset, frameEnd: n === frame.remaining, ready: [], assigned: 0, sent: 0 };
            this.#enqueue(slot);
            this.#unassigned[control ? 'control' : 'data'].push(slot);
            const payload = frame.key === null ? wire : xorMask(wire, frame.key, frame.offset);
            frame.offset += n;
            frame.remaining -= n;
            if (control)
                this.#control.push(payload);
            else
                this.#assign('data', this.#guard.data(payload));
            if (frame.remaining === 0)
                this.#endFrame(frame);
        }
        this.#drained.push(this.#drain());
        const out = this.#drained.length === 1 ? this.#drained[0] : Buffer.concat(this.#drained);
        this.#drained = [];
        return out;
    }
    /** Collect header bytes from `chunk` starting at `at`; open the frame once the header is whole. */
    #readHeader(chunk, at) {
        let next = at;
        for (;;) {
            const want = this.#head.length < 2 ? 2 : headerLength(this.#head[1]);
            if (this.#head.length === want)
                break;
            if (next >= chunk.length)
                return next;
            const take = Math.min(want - this.#head.length, chunk.length - next);
            this.#head = Buffer.concat([this.#head, chunk.subarray(next, next + take)]);
            next += take;
            // Refuse on the first two bytes, before waiting for a length that may never come.
            if (this.#head.length === 2)
                this.#checkStart(this.#head[0], this.#head[1]);
        }
        this.#openFrame(this.#head);
        this.#head = Buffer.alloc(0);
        return next;
    }
    /** RFC 6455 section 5.2: what the first two bytes of a frame may say. */
    #checkStart(b0, b1) {
        const from = this.#source === 'agent' ? 'the agent' : 'the upstream';
        const refuse = (why) => {
            throw new FrameRefusal('SIDEKEY_ERR_WEBSOCKET_FRAME', CLOSE_CODES.protocolError, `a WebSocket frame from ${from} was refused: ${why}`);
        };
        if ((b0 & 0x40) !== 0)
            refuse('RSV1 is set (a compressed frame), but no extension was negotiated and sidekey cannot inspect compressed frames');
        if ((b0 & 0x30) !== 0)
            refuse('RSV2 or RSV3 is set, but no extension was negotiated');
        const opcode = b0 & 0x0f;
        if (!OPCODES.has(opcode))
            refuse(`opcode 0x${opcode.toString(16)} is reserved`);
        const control = (opcode & 0x8) !== 0;
        if (control && (b0 & 0x80) === 0)
            refuse('a control frame cannot be fragmented (section 5.5)');
        if (control && (b1 & 0x7f) > 125)
            refuse('a control frame carries at most 125 bytes (section 5.5)');
        const masked = (b1 & 0x80) !== 0;
        if (this.#source === 'agent' && !masked)
            refuse('frames from a client must be masked (section 5.1)');
        if (this.#source === 'upstream' && masked)
            refuse('frames from a server must not be masked (section 5.1)');
        if (opcode === 0x0 && !this.#inMessage)
            refuse('a continuation frame with no fragmented message to continue (section 5.4)');
        if ((opcode === 0x1 || opcode === 0x2) && this.#inMessage)
            refuse('a new message began before the fragmented one ended (section 5.4)');
    }
    #openFrame(head) {
        const b0 = head[0];
        const b1 = head[1];
        const short = b1 & 0x7f;
        let length = short;
        if (short === 126)
            length = head.readUInt16BE(2);
        else if (short === 127) {
            const high = head.readUInt32BE(2);
            if ((high & 0x80000000) !== 0)
                throw new FrameRefusal('SIDEKEY_ERR_WEBSOCKET_FRAME', CLOSE_CODES.protocolError, 'a WebSocket frame was refused: the most significant bit of a 64-bit length must be 0 (section 5.2)');
            length = high * 2 ** 32 + head.readUInt32BE(6);
            if (length > Number.MAX_SAFE_INTEGER)
                throw new FrameRefusal('SIDEKEY_ERR_WEBSOCKET_FRAME', CLOSE_CODES.messageTooBig, 'a WebSocket frame was refused: its length is beyond 2^53 bytes');
        }
        const masked = (b1 & 0x80) !== 0;
        const frame = { opcode: b0 & 0x0f, fin: (b0 & 0x80) !== 0, key: masked ? Buffer.from(head.subarray(head.length - 4)) : null, remaining: length, offset: 0 };
        if ((frame.opcode === 0x1 || frame.opcode === 0x2) && !frame.fin)
            this.#inMessage = true;
        this.#enqueue({ kind: 'header', bytes: Buffer.from(head), frameEnd: length === 0 });
        this.#frame = frame;
        if (length === 0)
            this.#endFrame(frame);
    }
    #endFrame(frame) {
        this.#frame = null;
        if ((frame.opcode & 0x8) !== 0) {
            const payload = this.#control.length === 1 ? this.#control[0] : Buffer.concat(this.#control);
            this.#control = [];
            this.#assign('control', this.#guard.control(payload));
            return;
        }
        if (frame.fin) {
            this.#inMessage = false;
            this.#assign('data', this.#guard.endMessage());
        }
    }
    #enqueue(piece) {
        // Many small frames in one read: send what may go before counting what waits.
        if (this.#queue.length >= MAX_WAITING_PIECES)
            this.#drained.push(this.#drain());
        if (this.#queue.length >= MAX_WAITING_PIECES) {
            const from = this.#source === 'agent' ? 'the agent' : 'the upstream';
            throw new FrameRefusal('SIDEKEY_ERR_WEBSOCKET_FRAME', CLOSE_CODES.policyViolation, `a WebSocket frame from ${from} was refused: over ${MAX_WAITING_PIECES} frames wait behind bytes held back for inspection`);
        }
        this.#queue.push(piece);
    }
    /** Hand guarded bytes to the oldest slots of their channel that are still owed bytes. */
    #assign(channel, bytes) {
        if (bytes === null)
            return;
        const slots = this.#unassigned[channel];
        let at = 0;
        while (at < bytes.length) {
            const slot = slots[0];
            if (slot === undefined)
                throw new FrameRefusal('SIDEKEY_ERR_INTERNAL', CLOSE_CODES.internalError, 'a frame guard changed the length of a payload');
            const n = Math.min(slot.length - slot.assigned, bytes.length - at);
            slot.ready.push(bytes.subarray(at, at + n));
            slot.assigned += n;
            at += n;
            if (slot.assigned === slot.length)
                slots.shift();
        }
    }
    /** Everything at the front of the queue that may go: headers, and guarded payload bytes. */
    #drain() {
        const out = [];
        while (this.#queue.length > 0) {
            const piece = this.#queue[0];
            if (piece.kind === 'header') {
                out.push(piece.bytes);
                this.#boundary = piece.frameEnd;
                this.#queue.shift();
                continue;
            }
            for (const bytes of piece.ready) {
                out.push(piece.key === null ? bytes : xorMask(bytes, piece.key, piece.keyOffset + piece.sent));
                piece.sent += bytes.length;
                this.#boundary = false;
            }
            piece.ready = [];
            if (piece.sent < piece.length)
                break;
            this.#boundary = piece.frameEnd;
            this.#queue.shift();
        }
        return out.length === 1 ? out[0] : Buffer.concat(out);
    }
}
/** Header length from its second byte: 2, plus 2 or 8 for an extended length, plus 4 for a mask key. */
function headerLength(b1) {
    const short = b1 & 0x7f;
    return 2 + (short === 126 ? 2 : short === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);
}
/** XOR `bytes` with the 4-byte `key` starting at `offset` within the frame (masking and unmasking are the same, section 5.3). */
function xorMask(bytes, key, offset) {
    const out = Buffer.allocUnsafe(bytes.length);
    for (let i = 0; i < bytes.length; i++)
        out[i] = bytes[i] ^ key[(offset + i) & 3];
    return out;
}
/**
 * A close frame as a server sends it (unmasked): `code`, then a UTF-8 reason cut to fit the 125
 * bytes a control frame may carry (section 5.5.1).
 */
export function closeFrame(code, reason) {
    let text = Buffer.from(reason);
    if (text.length > 123)
        text = Buffer.from(text.subarray(0, 123).toString().replace(/\uFFFD+$/, ''));
    const frame = Buffer.alloc(4 + text.length);
    frame[0] = 0x88;
    frame[1] = 2 + text.length;
    frame.writeUInt16BE(code, 2);
    text.copy(frame, 4);
    return frame;
}
//# sourceMappingURL=websocket-frames.js.map