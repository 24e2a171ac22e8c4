import { createHash, randomBytes } from 'node:crypto';
export function frame(spec) {
    const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : spec.payload ?? Buffer.alloc(0);
    const key = spec.mask === false ? null : spec.mask ?? randomBytes(4);
    const form = spec.lengthForm ?? (payload.length < 126 ? 7 : payload.length < 65536 ? 16 : 64);
    const ext = form === 7 ? 0 : form === 16 ? 2 : 8;
    const head = Buffer.alloc(2 + ext + (key ? 4 : 0));
    head[0] = ((spec.fin ?? true) ? 0x80 : 0) | (spec.rsv ?? 0) | spec.opcode;
    head[1] = (key ? 0x80 : 0) | (form === 7 ? payload.length : form === 16 ? 126 : 127);
    if (form === 16)
        head.writeUInt16BE(payload.length, 2);
    if (form === 64)
        head.writeBigUInt64BE(BigInt(payload.length), 2);
    if (!key)
        return Buffer.concat([head, payload]);
    key.copy(head, head.length - 4);
    const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
    return Buffer.concat([head, body]);
}
/** Decode every complete frame in `bytes` (payloads unmasked); what follows the last one is `rest`. */
export function decodeFrames(bytes) {
    const frames = [];
    let at = 0;
    for (;;) {
        if (bytes.length - at < 2)
            break;
        const b0 = bytes[at];
        const b1 = bytes[at + 1];
        const short = b1 & 0x7f;
        const ext = short === 126 ? 2 : short === 127 ? 8 : 0;
        const masked = (b1 & 0x80) !== 0;
        const headLength = 2 + ext + (masked ? 4 : 0);
        if (bytes.length - at < headLength)
            break;
        const length = short === 126 ? bytes.readUInt16BE(at + 2) : short === 127 ? Number(bytes.readBigUInt64BE(at + 2)) : short;
        const key = masked ? bytes.subarray(at + headLength - 4, at + headLength) : null;
        const available = Math.min(length, bytes.length - at - headLength);
        const raw = bytes.subarray(at + headLength, at + headLength + available);
        const payload = key ? Buffer.from(raw.map((b, i) => b ^ key[i % 4])) : Buffer.from(raw);
        if (available < length)
            return { frames, rest: bytes.subarray(at), partialPayload: payload };
        frames.push({ fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, payload });
        at += headLength + length;
    }
    return { frames, rest: bytes.subarray(at), partialPayload: Buffer.alloc(0) };
}
/** The Sec-WebSocket-Accept value for a key (section 4.2.2). */
export function acceptFor(key) {
    return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}
/** The close code and reason of a close frame's payload. */
export function closeOf(payload) {
    return { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString() };
}
//# sourceMappingURL=ws-frames.js.map