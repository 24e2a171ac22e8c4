import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
/** Proxy-Authorization for a run token, as `http://workload:TOKEN@proxy` URLs send it. */
export function basicAuth(workload, token) {
    return `Basic ${Buffer.from(`${workload}:${token}`).toString('base64')}`;
}
/**
 * Open `CONNECT host:port` on the proxy port. With `tls`, a TLS client (trusting `tls.ca`) starts
 * inside the tunnel; without, requests are cleartext (as undici sends http:// through a proxy).
 * Resolves after the CONNECT answer (and the handshake); a refused CONNECT resolves with its
 * status line and a closed stream.
 */
export async function openTunnel(proxyPort, authority, options = {}) {
    const socket = connect(proxyPort, '127.0.0.1');
    socket.on('error', () => undefined);
    let closedFlag = false;
    const closed = new Promise((resolve) => socket.once('close', () => {
        closedFlag = true;
        resolve();
    }));
    await new Promise((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
    });
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${options.auth ? `Proxy-Authorization: ${options.auth}\r\n` : ''}\r\n`);
    const answer = await readHead(socket);
    const status = answer.head.split('\r\n')[0] ?? '';
    let stream = socket;
    if (/^HTTP\/1\.1 200 /.test(status) && options.tls) {
        const host = authority.replace(/:[0-9]+$/, '');
        const secure = tlsConnect({ socket, servername: host, ca: options.tls.ca });
        secure.on('error', () => undefined);
        await new Promise((resolve, reject) => {
            secure.once('secureConnect', resolve);
            secure.once('error', reject);
            secure.once('close', () => reject(new Error('closed during the handshake')));
        });
        stream = secure;
    }
    const hostHeader = options.hostHeader ?? authority.replace(/:(443|80)$/, '');
    return {
        status,
        socket,
        stream,
        closed,
        isClosed: () => closedFlag,
        async get(path, headers = {}) {
            if (closedFlag || stream.destroyed)
                return null;
            const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
            stream.write(`GET ${path} HTTP/1.1\r\nHost: ${hostHeader}\r\n${extra}\r\n`);
            try {
                const { head, rest } = await readHead(stream);
                const length = Number(/\r\ncontent-length: *([0-9]+)/i.exec(head)?.[1] ?? 0);
                const body = await readBytes(stream, rest, length);
                return `${head}\r\n\r\n${body.toString('utf8')}`;
            }
            catch {
                return null;
            }
        },
    };
}
/** Read up to the end of a response head; rejects when the stream ends first. */
function readHead(stream) {
    return new Promise((resolve, reject) => {
        let buffered = Buffer.alloc(0);
        const onData = (chunk) => {
            buffered = Buffer.concat([buffered, chunk]);
            const end = buffered.indexOf('\r\n\r\n');
            if (end < 0)
                return;
            cleanup();
            resolve({ head: buffered.subarray(0, end).toString('latin1'), rest: buffered.subarray(end + 4) });
        };
        const onEnd = () => {
            cleanup();
            reject(new Error(`closed before a response head (${buffered.length} bytes)`));
        };
        const cleanup = () => {
            stream.off('data', onData);
            stream.off('end', onEnd);
            stream.off('close', onEnd);
        };
        stream.on('data', onData);
        stream.once('end', onEnd);
        stream.once('close', onEnd);
    });
}
function readBytes(stream, have, length) {
    if (have.length >= length)
        return Promise.resolve(have.subarray(0, length));
    return new Promise((resolve, reject) => {
        let buffered = have;
        const onData = (chunk) => {
            buffered = Buffer.concat([buffered, chunk]);
            if (buffered.length < length)
                return;
            cleanup();
            resolve(buffered.subarray(0, length));
        };
        const onEnd = () => {
            cleanup();
            reject(new Error('closed before the body ended'));
        };
        const cleanup = () => {
            stream.off('data', onData);
            stream.off('close', onEnd);
        };
        stream.on('data', onData);
        stream.once('close', onEnd);
    });
}
//# sourceMappingURL=tunnels.js.map