import { SidekeyError } from '../errors.js';
/** The envelope framing of a media type: gRPC, gRPC-Web (binary or `-text`), Connect streaming. */
export function envelopeFraming(contentType) {
    const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
    if (type.startsWith('application/grpc-web-text'))
        return 'base64';
    if (type.startsWith('application/grpc') || type.startsWith('application/connect+'))
        return 'binary';
    return null;
}
/** The response fields that name a message compression. */
const MESSAGE_CODING_FIELDS = ['grpc-encoding', 'connect-content-encoding'];
/** The request fields in which a client lists the message compressions it accepts. */
export const MESSAGE_ACCEPT_FIELDS = ['grpc-accept-encoding', 'connect-accept-encoding'];
/**
 * Refuse a response head that names a message compression other than identity: its messages would
 * reach the agent compressed, where the scrubber cannot read them.
 */
export function refuseMessageCoding(headers) {
    for (const name of MESSAGE_CODING_FIELDS) {
        const value = headers[name];
        if (value === undefined)
            continue;
        const codings = (Array.isArray(value) ? value.join(',') : value).split(',').map((c) => c.trim().toLowerCase());
        const named = codings.find((c) => c !== '' && c !== 'identity');
        if (named === undefined)
            continue;
        throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `the upstream answered with ${name} ${JSON.stringify(named.slice(0, 32))}: compressed messages sidekey cannot scrub for echoed secrets, though it asked for identity. Send the call uncompressed (no ${name} other than identity): some servers answer in the compression the request used`);
    }
}
/** The compressed bit of an envelope's flags byte (the same bit in all three protocols). */
const COMPRESSED = 0x01;
const ENVELOPE_HEAD = 5;
const EQUALS = 0x3d;
/**
 * A filter that passes the body on unchanged and throws `SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE` at the
 * first envelope whose compressed bit is set. It reads only envelope heads: a payload is skipped by
 * its length, never held.
 */
export function envelopeGuard(framing) {
    const envelopes = envelopeReader();
    if (framing === 'binary') {
        return {
            push(chunk) {
                envelopes.read(chunk);
                return chunk;
            },
            end: () => null,
        };
    }
    // gRPC-Web text: base64, each message (and the trailers frame) encoded on its own, so padding may
    // come mid-body. Quads are decoded as they complete; the bytes passed on are the text as sent.
    let quad = '';
    return {
        push(chunk) {
            let text = quad + chunk.toString('latin1').replace(/[^A-Za-z0-9+/=_-]/g, '');
            const whole = text.length - (text.length % 4);
            quad = text.slice(whole);
            text = text.slice(0, whole);
            // A quad ending in padding ends one encoded run; each run is decoded on its own.
            let start = 0;
            for (let i = 3; i < text.length; i += 4) {
                if (text.charCodeAt(i) !== EQUALS)
                    continue;
                envelopes.read(Buffer.from(text.slice(start, i + 1), 'base64'));
                start = i + 1;
            }
            if (start < text.length)
                envelopes.read(Buffer.from(text.slice(start), 'base64'));
            return chunk;
        },
        end: () => null,
    };
}
/** Walks envelope heads across chunks: `read` throws at a compressed one. */
function envelopeReader() {
    /** Payload bytes of the current envelope still to skip. */
    let skip = 0;
    /** The head being read (bytes of it seen so far in `headSeen`). */
    const head = Buffer.alloc(ENVELOPE_HEAD);
    let headSeen = 0;
    return {
        read(bytes) {
            let at = 0;
            while (at < bytes.length) {
                if (skip > 0) {
                    const n = Math.min(skip, bytes.length - at);
                    skip -= n;
                    at += n;
                    continue;
                }
                head[headSeen++] = bytes[at++];
                if (headSeen < ENVELOPE_HEAD)
                    continue;
                headSeen = 0;
                if ((head[0] & COMPRESSED) !== 0) {
                    throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', 'the upstream sent a compressed message though sidekey asked for none: sidekey cannot scrub it for echoed secrets, so the response was cut');
                }
                skip = head.readUInt32BE(1);
            }
        },
    };
}
//# sourceMappingURL=message-envelopes.js.map