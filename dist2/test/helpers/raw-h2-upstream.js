import { createServer as createTlsServer } from 'node:tls';
import { FLAG, FRAME, frame, literal } from './h2-frames.js';
/**
 * An h2-only TLS server for `host` that speaks just enough HTTP/2 by hand: its SETTINGS, ACKs of
 * the client's SETTINGS and PINGs, and `onRequest` for each request HEADERS it gets.
 */
export async function rawH2Upstream(trust, host, onRequest) {
    const server = createTlsServer({ ...(await trust.cert(host)), ALPNProtocols: ['h2'] });
    const sockets = new Set();
    server.on('secureConnection', (socket) => {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        const conn = { socket, send: (...frames) => void (socket.destroyed || socket.write(Buffer.concat(frames))) };
        socket.write(frame(FRAME.SETTINGS, 0, 0));
        let buffered = Buffer.alloc(0);
        let preface = false;
        socket.on('data', (chunk) => {
            buffered = Buffer.concat([buffered, chunk]);
            if (!preface) {
                if (buffered.length < 24)
                    return;
                buffered = buffered.subarray(24);
                preface = true;
            }
            while (buffered.length >= 9) {
                const length = buffered.readUIntBE(0, 3);
                if (buffered.length < 9 + length)
                    break;
                const type = buffered[3];
                const flags = buffered[4];
                const id = buffered.readUInt32BE(5) & 0x7fffffff;
                const payload = buffered.subarray(9, 9 + length);
                buffered = buffered.subarray(9 + length);
                if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0)
                    conn.send(frame(FRAME.SETTINGS, FLAG.ACK, 0));
                if (type === FRAME.PING && (flags & FLAG.ACK) === 0)
                    conn.send(frame(FRAME.PING, FLAG.ACK, 0, payload));
                if (type === FRAME.HEADERS)
                    onRequest(conn, id);
            }
        });
    });
    await new Promise((listening) => server.listen(0, '127.0.0.1', listening));
    return {
        port: server.address().port,
        close: async () => {
            for (const s of sockets)
                s.destroy();
            await new Promise((closed) => server.close(closed));
        },
    };
}
/** A HEADERS frame of literal fields, ending the stream when `end`. */
export const headersFrame = (id, fields, end = false) => frame(FRAME.HEADERS, FLAG.END_HEADERS | (end ? FLAG.END_STREAM : 0), id, Buffer.concat(fields.map(([name, value]) => literal(name, value))));
/** A DATA frame, ending the stream when `end`. */
export const dataFrame = (id, body, end = false) => frame(FRAME.DATA, end ? FLAG.END_STREAM : 0, id, Buffer.from(body));
/** A RST_STREAM frame with `code`. */
export const rstStreamFrame = (id, code) => {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(code);
    return frame(FRAME.RST_STREAM, 0, id, payload);
};
//# sourceMappingURL=raw-h2-upstream.js.map