import { createHash, createHmac } from 'node:crypto';
import { SidekeyError } from '../errors.js';
/**
 * Re-signing of SigV4 chunk-signed uploads (`x-amz-content-sha256:
 * STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, and `...-PAYLOAD-TRAILER`), as the AWS SDK for Java v1 and
 * others send S3 uploads. Each chunk's signature chains from the one before it, starting at the
 * request's own (seed) signature: once sidekey has signed the headers with the real keys, every
 * chunk signature the agent computed with its placeholder keys is wrong, so each is computed again
 * as the chunk goes by. Framing (AWS S3 API reference, "Signature Calculations for the
 * Authorization Header: Transferring Payload in Multiple Chunks"):
 *
 *   hex-size;chunk-signature=<64 hex>\r\n <size bytes> \r\n ... 0;chunk-signature=<64 hex>\r\n
 *   then \r\n, or (trailer variant) trailing headers, `x-amz-trailer-signature:<64 hex>\r\n`, \r\n
 *
 * A replaced signature has the same length as the placeholder one, so Content-Length and
 * x-amz-decoded-content-length stay true. Malformed framing is refused, never passed on.
 */
/** The payload hashes that announce a chunk-signed body. */
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
/** SHA-256 of the empty string, part of every chunk's string to sign. */
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Longest chunk-size line accepted (`hex;chunk-signature=` + 64 hex is under 90 bytes). */
const MAX_LINE = 256;
/** Largest chunk held while its signature is computed (SDKs send 64 KiB to 8 MiB chunks). */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
/** Bound on the trailing headers (a checksum or two). */
const MAX_TRAILER_BYTES = 4096;
const CRLF = Buffer.from('\r\n');
/** The SigV4 signing key for `secret` on `date` (YYYYMMDD), `region`, `service`. */
export function signingKey(secret, date, region, service) {
    const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
    const kRegion = createHmac('sha256', kDate).update(region).digest();
    const kService = createHmac('sha256', kRegion).update(service).digest();
    return createHmac('sha256', kService).update('aws4_request').digest();
}
function malformed(why) {
    return new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', `the chunk-signed (aws-chunked) upload is malformed: ${why}`);
}
/**
 * The re-signing state machine: `push` bytes as they arrive and get the bytes to forward; `end`
 * when the body is complete. Throws SidekeyError on malformed framing. A chunk is held until it
 * is complete (its signature covers its bytes and goes before them).
 */
export class ChunkResigner {
    #s;
    #previous;
    #state = 'size';
    #line = Buffer.alloc(0);
    #size = 0;
    #parts = [];
    #have = 0;
    #trailer = Buffer.alloc(0);
    constructor(signing) {
        this.#s = signing;
        this.#previous = signing.seedSignature;
    }
    push(input) {
        const out = [];
        let at = 0;
        while (at < input.length) {
            switch (this.#state) {
                case 'size': {
                    const eol = input.indexOf(0x0a, at);
                    const piece = input.subarray(at, eol < 0 ? input.length : eol + 1);
                    this.#line = this.#line.length === 0 ? piece : Buffer.concat([this.#line, piece]);
                    if (this.#line.length > MAX_LINE)
                        throw malformed('a chunk-size line is too long');
                    at += piece.length;
                    if (eol >= 0)
                        this.#chunkHeader(out);
                    break;
                }
                case 'data': {
                    const take = Math.min(this.#size - this.#have, input.length - at);
                    this.#parts.push(input.subarray(at, at + take));
                    this.#have += take;
                    at += take;
                    if (this.#have === this.#size)
                        this.#state = 'data-crlf';
                    break;
                }
                case 'data-crlf':
                case 'final-crlf': {
                    const piece = input.subarray(at, Math.min(input.length, at + 2 - this.#line.length));
                    this.#line = Buffer.concat([this.#line, piece]);
                    at += piece.length;
                    if (this.#line.length < 2)
                        break;
                    if (!this.#line.equals(CRLF))
                        throw malformed('a chunk does not end with CRLF');
                    this.#line = Buffer.alloc(0);
                    if (this.#state === 'data-crlf') {
                        this.#emitChunk(out);
                        this.#state = 'size';
                    }
                    else {
                        out.push(CRLF);
                        this.#state = 'done';
                    }
                    break;
                }
                case 'trailer': {
                    const piece = input.subarray(at);
                    this.#trailer = this.#trailer.length === 0 ? piece : Buffer.concat([this.#trailer, piece]);
                    at = input.length;
                    if (this.#trailer.length > MAX_TRAILER_BYTES)
                        throw malformed('the trailing headers are too large');
                    const end = this.#trailer.indexOf('\r\n\r\n');
                    if (end >= 0) {
                        if (end + 4 !== this.#trailer.length)
                            throw malformed('bytes after the trailing headers');
                        out.push(this.#signedTrailer(this.#trailer.subarray(0, end + 2)));
                        this.#state = 'done';
                    }
                    break;
                }
                case 'done':
                    throw malformed('bytes after the final chunk');
            }
        }
        return out;
    }
    /** The body ended: it must have ended exactly after the final chunk. */
    end() {
        if (this.#state !== 'done')
            throw malformed('the body ended before the final chunk');
    }
    #chunkHeader(out) {
        const line = this.#line.toString('latin1');
        this.#line = Buffer.alloc(0);
        const m = /^([0-9a-fA-F]{1,8});chunk-signature=[0-9a-f]{64}\r\n$/.exec(line);
        if (m === null)
            throw malformed('a chunk header is not `hex-size;chunk-signature=<64 hex>`');
        this.#size = parseInt(m[1], 16);
        if (this.#size > MAX_CHUNK_BYTES)
            throw new SidekeyError('SIDEKEY_ERR_BODY_TOO_LARGE', `a chunk of the chunk-signed upload is larger than ${MAX_CHUNK_BYTES} bytes`);
        this.#have = 0;
        this.#parts = [];
        if (this.#size > 0) {
            this.#state = 'data';
            return;
        }
        // The final, empty chunk.
        out.push(this.#header(0, EMPTY_SHA256));
        this.#state = this.#s.trailer ? 'trailer' : 'final-crlf';
    }
    #emitChunk(out) {
        const hash = createHash('sha256');
        for (const p of this.#parts)
            hash.update(p);
        out.push(this.#header(this.#size, hash.digest('hex')), ...this.#parts, CRLF);
    }
    #header(size, dataHash) {
        const signature = this.#sign(`AWS4-HMAC-SHA256-PAYLOAD\n${this.#s.amzDate}\n${this.#s.scope}\n${this.#previous}\n${EMPTY_SHA256}\n${dataHash}`);
        this.#previous = signature;
        return Buffer.from(`${size.toString(16)};chunk-signature=${signature}\r\n`, 'latin1');
    }
    /** Trailing headers with `x-amz-trailer-signature` computed again over the others. */
    #signedTrailer(block) {
        let text = block.toString('latin1');
        // Some writers put an empty line between the final chunk and the trailing headers; keep it.
        const lead = text.startsWith('\r\n') ? '\r\n' : '';
        text = text.slice(lead.length);
        const lines = text.split('\r\n').slice(0, -1);
        const kept = [];
        let signed = false;
        for (const line of lines) {
            const colon = line.indexOf(':');
            if (colon <= 0)
                throw malformed('a trailing header has no name');
            if (line.slice(0, colon).trim().toLowerCase() === 'x-amz-trailer-signature') {
                if (!/^[0-9a-f]{64}$/.test(line.slice(colon + 1).trim()))
                    throw malformed('x-amz-trailer-signature is not 64 hex digits');
                signed = true;
            }
            else
                kept.push(line);
        }
        if (!signed)
            throw malformed('the trailing headers carry no x-amz-trailer-signature');
        const canonical = kept.map((l) => `${l.slice(0, l.indexOf(':')).trim().toLowerCase()}:${l.slice(l.indexOf(':') + 1).trim()}\n`).join('');
        const digest = createHash('sha256').update(canonical).digest('hex');
        const signature = this.#sign(`AWS4-HMAC-SHA256-TRAILER\n${this.#s.amzDate}\n${this.#s.scope}\n${this.#previous}\n${digest}`);
        return Buffer.from(`${lead}${kept.map((l) => `${l}\r\n`).join('')}x-amz-trailer-signature:${signature}\r\n\r\n`, 'latin1');
    }
    #sign(stringToSign) {
        return createHmac('sha256', this.#s.signingKey).update(stringToSign).digest('hex');
    }
}
/** A body filter that re-signs a chunk-signed body on its way upstream. */
export function chunkResignFilter(signing) {
    const resigner = new ChunkResigner(signing);
    return {
        push(chunk) {
            const parts = resigner.push(chunk);
            return parts.length === 0 ? null : parts.length === 1 ? parts[0] : Buffer.concat(parts);
        },
        end() {
            resigner.end();
            return null;
        },
    };
}
/** Re-sign a body the guard already read whole. */
export function resignBuffer(signing, body) {
    const resigner = new ChunkResigner(signing);
    const out = resigner.push(body);
    resigner.end();
    return Buffer.concat(out);
}
//# sourceMappingURL=sigv4-chunked.js.map