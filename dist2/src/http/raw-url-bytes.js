/**
 * Bytes a request target may not carry raw. Node's HTTP/1.1 parser (llhttp) refuses a target with
 * a control byte, DEL or any byte over 0x7E (so UTF-8 text) with 400; nghttp2 refuses the controls
 * and DEL in an HTTP/2 `:path` but passes bytes over 0x7E, which Node hands on as latin1 text. Read
 * as text, the two bytes of "é" (C3 A9) are two characters, and the path was percent-encoded from
 * them: `/caf%C3%83%C2%A9` went up for `/café`. A `:path` with such a byte is refused as HTTP/1.1
 * refuses it, so one request means one thing whichever protocol carries it.
 */
/** A character of a latin1-decoded `:path` that HTTP/1.1's parser would not take raw in a target. */
const NOT_RAW_IN_TARGET = /[^\x21-\x7e]/;
/** True when `path` (as Node decodes an HTTP/2 field: one character per byte) holds such a byte. */
export function hasRawNonUrlByte(path) {
    return NOT_RAW_IN_TARGET.test(path);
}
/** What to send instead, for the refusal's message on either protocol (ASCII only: it also goes in a reason phrase and a header). */
export const PERCENT_ENCODE = 'percent-encode the UTF-8 bytes of each non-ASCII character (U+00E9 is %C3%A9)';
//# sourceMappingURL=raw-url-bytes.js.map