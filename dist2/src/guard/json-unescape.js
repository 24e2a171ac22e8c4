/**
 * The JSON string escapes that can spell an ASCII secret (RFC 8259 section 7): `\uXXXX` for a
 * code point below 0x80 (`"\u0073k-..."` is `"sk-..."` to every JSON parser) and `\/`. Decoded
 * as a stream, so an escape split across chunks is decoded whole; every other byte, and every
 * other escape, stays as it was. Outbound detection searches this view of a body besides the bytes
 * as sent (a secret with one letter escaped would otherwise get past the tripwire).
 */
import { hex } from './percent-decode.js';
const BACKSLASH = 0x5c;
/** Raw bytes one decoded byte can come from at most (`\u0073`). */
export const JSON_ESCAPE_WIDTH = 6;
/** A streaming decoder; `pending` is how many bytes of an unfinished escape it holds (0 to 5). */
export class JsonEscapeDecoder {
    /** The bytes of an escape begun and not yet complete (`\`, `\u`, `\u0`, ...). */
    #open = [];
    get pending() {
        return this.#open.length;
    }
    /** Decode the next chunk (what is decoded so far; an open escape waits for the next). */
    push(bytes) {
        const out = Buffer.allocUnsafe(bytes.length + JSON_ESCAPE_WIDTH);
        let n = 0;
        for (let i = 0; i < bytes.length; i++) {
            const b = bytes[i];
            const open = this.#open;
            if (open.length === 0) {
                if (b === BACKSLASH)
                    open.push(b);
                else
                    out[n++] = b;
                continue;
            }
            open.push(b);
            if (open.length === 2) {
                if (b === 0x2f) {
                    out[n++] = 0x2f;
                    open.length = 0;
                }
                else if (b !== 0x75) {
                    // Another escape (`\\`, `\"`, `\n`): kept as written, and a `\\` cannot start a new one.
                    for (const x of open)
                        out[n++] = x;
                    open.length = 0;
                }
                continue;
            }
            if (hex(b) < 0) {
                // Not an escape after all: what was held goes out as it was, and `b` starts over.
                open.pop();
                for (const x of open)
                    out[n++] = x;
                open.length = 0;
                i--;
                continue;
            }
            if (open.length === JSON_ESCAPE_WIDTH) {
                const code = (hex(open[2]) << 12) | (hex(open[3]) << 8) | (hex(open[4]) << 4) | hex(open[5]);
                if (code < 0x80)
                    out[n++] = code;
                else
                    for (const x of open)
                        out[n++] = x;
                open.length = 0;
            }
        }
        return out.subarray(0, n);
    }
    /** What an unfinished escape at the end of the stream stands for: itself. */
    end() {
        const rest = Buffer.from(this.#open);
        this.#open = [];
        return rest;
    }
}
/** `bytes` with its ASCII `\uXXXX` and `\/` escapes decoded, or null when it has no backslash. */
export function jsonUnescaped(bytes) {
    if (bytes.indexOf(BACKSLASH) < 0)
        return null;
    const decoder = new JsonEscapeDecoder();
    return Buffer.concat([decoder.push(bytes), decoder.end()]);
}
//# sourceMappingURL=json-unescape.js.map