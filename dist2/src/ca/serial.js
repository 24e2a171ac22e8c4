/**
 * A certificate serial from 16 random bytes, as the hex forge encodes verbatim into a DER INTEGER.
 * It must be positive and minimally encoded (RFC 5280 section 4.1.2.2; X.690 section 8.3.2):
 * OpenSSL refuses a leading zero byte before one whose high bit is clear ("illegal padding"). A
 * `00` prefix on raw random bytes broke about one certificate in 500 (random bytes starting 00 0x..), so
 * the first byte is forced into 0x40..0x7f: never zero, never negative, 126 random bits.
 */
export function serialNumberHex(random) {
    if (random.length < 8)
        throw new TypeError('a serial needs at least 64 random bits');
    const bytes = Buffer.from(random);
    bytes[0] = (bytes[0] & 0x3f) | 0x40;
    return bytes.toString('hex');
}
//# sourceMappingURL=serial.js.map