/**
 * Lenient percent-decoding (RFC 3986 section 2.1) over bytes: every well-formed `%XX` becomes the
 * byte it names and anything else (a stray `%`, `%G1`, a truncated escape) stays as it was. Unlike
 * `decodeURIComponent`, one malformed escape does not stop the rest of the text from being
 * decoded, and nothing is assumed about UTF-8: the bytes are what the upstream's decoder gets.
 */
/** The value of an ASCII hex digit, or -1. */
export function hex(b) {
    if (b >= 0x30 && b <= 0x39)
        return b - 0x30;
    const l = b | 0x20;
    return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}
const PERCENT = 0x25;
/**
 * A decoder that can be fed a stream chunk by chunk: an escape split across chunks is decoded
 * whole. `pending` is how many bytes of an unfinished escape it holds (0, 1 for `%`, 2 for `%X`).
 */
export class PercentDecoder {
    #pending = 0;
    #hiByte = 0;
    get pending() {
        return this.#pending;
    }
    /** A decoder in the same place (an escape open in this one is open in the copy). */
    clone() {
        const copy = new PercentDecoder();
        copy.#pending = this.#pending;
        copy.#hiByte = this.#hiByte;
        return copy;
    }
    /** Decode `bytes[from, to)` into a new buffer (what is decoded so far; an open escape waits). */
    push(bytes, from = 0, to = bytes.length) {
        const out = Buffer.allocUnsafe(to - from + 2);
        let n = 0;
        let i = from;
        while (i < to) {
            if (this.#pending === 0) {
                // Runs without `%` are copied as they are (most of any body).
                let next = bytes.indexOf(PERCENT, i);
                if (next < 0 || next >= to)
                    next = to;
                if (next > i) {
                    out.set(bytes.subarray(i, next), n);
                    n += next - i;
                }
                if (next < to)
                    this.#pending = 1;
                i = next + 1;
                continue;
            }
            const b = bytes[i];
            i++;
            if (this.#pending === 1) {
                if (hex(b) >= 0) {
                    this.#hiByte = b;
                    this.#pending = 2;
                    continue;
                }
                out[n++] = PERCENT;
            }
            else {
                const lo = hex(b);
                if (lo >= 0) {
                    out[n++] = (hex(this.#hiByte) << 4) | lo;
                    this.#pending = 0;
                    continue;
                }
                out[n++] = PERCENT;
                out[n++] = this.#hiByte;
            }
            // Not an escape after all: `b` starts over (it may be a `%` itself).
            this.#pending = 0;
            i--;
        }
        return out.subarray(0, n);
    }
    /** What an unfinished escape at the end of the stream stands for: itself. */
    end() {
        const rest = this.#pending === 2 ? Buffer.from([PERCENT, this.#hiByte]) : this.#pending === 1 ? Buffer.from([PERCENT]) : Buffer.alloc(0);
        this.#pending = 0;
        return rest;
    }
}
/**
 * Decode a whole text and say, for each decoded byte, where it began in the input: `from[i]` is
 * the input offset of decoded byte `i`, and `from[decoded.length]` the input's length, so decoded
 * bytes `[s, e)` came from input bytes `[from[s], from[e])`. Null when `bytes` holds no `%`.
 */
export function percentDecodeMapped(bytes) {
    if (bytes.indexOf(PERCENT) < 0)
        return null;
    const decoded = Buffer.allocUnsafe(bytes.length);
    const from = new Int32Array(bytes.length + 1);
    let n = 0;
    for (let i = 0; i < bytes.length; i++) {
        from[n] = i;
        if (bytes[i] === PERCENT && i + 2 < bytes.length && hex(bytes[i + 1]) >= 0 && hex(bytes[i + 2]) >= 0) {
            decoded[n++] = (hex(bytes[i + 1]) << 4) | hex(bytes[i + 2]);
            i += 2;
        }
        else {
            decoded[n++] = bytes[i];
        }
    }
    from[n] = bytes.length;
    return { decoded: decoded.subarray(0, n), from: from.subarray(0, n + 1) };
}
//# sourceMappingURL=percent-decode.js.map