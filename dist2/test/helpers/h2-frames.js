import { connect as tlsConnect } from 'node:tls';
import { openTunnel } from './tunnels.js';
/**
 * A hand-made HTTP/2 client that writes frames as given (RFC 9113 section 4), for attacks a real
 * client library will not send: resets, CONTINUATION and control frames by the thousand, header
 * blocks that decode to far more than they weigh. It reads what comes back only to note GOAWAY
 * and the connection closing.
 */
/** Frame types (RFC 9113 section 6). */
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 };
export const FLAG = { END_STREAM: 0x1, END_HEADERS: 0x4, ACK: 0x1 };
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** One frame: 9-byte header (length, type, flags, stream id) and payload. */
export function frame(type, flags, streamId, payload = Buffer.alloc(0)) {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(streamId & 0x7fffffff, 5);
    return Buffer.concat([head, payload]);
}
/** An HPACK integer with an `prefix`-bit prefix (RFC 7541 section 5.1), `first` holding the pattern bits. */
function hpackInt(value, prefix, first = 0) {
    const max = (1 << prefix) - 1;
    if (value < max)
        return Buffer.from([first | value]);
    const out = [first | max];
    let rest = value - max;
    while (rest >= 128) {
        out.push((rest % 128) + 128);
        rest = Math.floor(rest / 128);
    }
    out.push(rest);
    return Buffer.from(out);
}
function hpackString(text) {
    const bytes = Buffer.from(text);
    return Buffer.concat([hpackInt(bytes.length, 7), bytes]);
}
/** A literal field without indexing, new name (RFC 7541 section 6.2.2). */
export function literal(name, value) {
    return Buffer.concat([Buffer.from([0x00]), hpackString(name), hpackString(value)]);
}
/** A literal field with incremental indexing, new name: it enters the dynamic table at index 62 (section 6.2.1). */
export function literalIndexed(name, value) {
    return Buffer.concat([Buffer.from([0x40]), hpackString(name), hpackString(value)]);
}
/** An indexed field (section 6.1): a reference to table entry `index`. */
export function indexed(index) {
    return hpackInt(index, 7, 0x80);
}
/** The header block of a GET for `path` on `authority`. */
export function requestBlock(authority, path, extra = []) {
    return Buffer.concat([literal(':method', 'GET'), literal(':scheme', 'https'), literal(':authority', authority), literal(':path', path), ...extra]);
}
/** CONNECT to `authority` through sidekey, TLS with ALPN h2, the preface and an empty SETTINGS. */
export async function rawH2(proxyPort, authority, options) {
    const tunnel = await openTunnel(proxyPort, authority, { auth: options.auth });
    if (!/ 200 /.test(tunnel.status))
        throw new Error(`CONNECT refused: ${tunnel.status}`);
    const socket = tlsConnect({ socket: tunnel.socket, servername: authority.replace(/:[0-9]+$/, ''), ca: options.ca, ALPNProtocols: ['h2'] });
    socket.on('error', () => undefined);
    await new Promise((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
    });
    if (socket.alpnProtocol !== 'h2')
        throw new Error('sidekey did not choose h2');
    let goaway = null;
    let closedFlag = false;
    const answered = new Set();
    const reset = new Map();
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 9) {
            const length = buffered.readUIntBE(0, 3);
            if (buffered.length < 9 + length)
                break;
            const type = buffered[3];
            const stream = buffered.readUInt32BE(5) & 0x7fffffff;
            const payload = buffered.subarray(9, 9 + length);
            if (type === FRAME.GOAWAY && goaway === null)
                goaway = payload.readUInt32BE(4);
            if (type === FRAME.HEADERS)
                answered.add(stream);
            if (type === FRAME.RST_STREAM)
                reset.set(stream, payload.readUInt32BE(0));
            buffered = buffered.subarray(9 + length);
        }
    });
    const closed = new Promise((resolve) => socket.once('close', () => {
        closedFlag = true;
        resolve();
    }));
    socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0)]));
    return {
        socket,
        send: (...frames) => (socket.destroyed ? false : socket.write(Buffer.concat(frames))),
        goaway: () => goaway,
        answered,
        reset,
        isClosed: () => closedFlag,
        closed,
    };
}
//# sourceMappingURL=h2-frames.js.map