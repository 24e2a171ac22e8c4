import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { requireTools } from './tools.js';
/** Run curl with `args`; resolves with status, headers text and body (curl exit code too). */
export function curl(args) {
    requireTools('curl');
    return new Promise((resolve) => {
        execFile('curl', ['-sS', '-D', '-', '--max-time', '20', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
            const code = err === null ? 0 : typeof err.code === 'number' ? (err.code) : 1;
            // With -D - the header blocks come first; a CONNECT adds its own block before the final one.
            const blocks = stdout.split('\r\n\r\n');
            let i = 0;
            while (i < blocks.length - 1 && /^HTTP\/[0-9.]+ (1[0-9][0-9]|200 Connection)/i.test(blocks[i]))
                i++;
            const headers = blocks[i] ?? '';
            const status = Number(/^HTTP\/[0-9.]+ ([0-9]{3})/.exec(headers)?.[1] ?? 0);
            resolve({ code, status, headers, body: blocks.slice(i + 1).join('\r\n\r\n'), stderr });
        });
    });
}
/**
 * Send raw bytes to host:port and collect the answer: until one complete response has arrived (its
 * head, and its body when Content-Length gives one; a 101 ends at its head), the peer closes, or
 * `timeoutMs` passes. Not waiting for a close keeps a loaded machine's timers out of the result.
 */
export function rawExchange(port, data, timeoutMs = 10_000) {
    return new Promise((resolve) => {
        const socket = connect(port, '127.0.0.1');
        const chunks = [];
        const done = () => {
            clearTimeout(timer);
            socket.destroy();
            resolve(Buffer.concat(chunks).toString('latin1'));
        };
        const timer = setTimeout(done, timeoutMs);
        socket.on('data', (c) => {
            chunks.push(c);
            if (completeResponse(Buffer.concat(chunks).toString('latin1')))
                done();
        });
        socket.on('close', done);
        socket.on('error', done);
        socket.write(data);
    });
}
function completeResponse(text) {
    const end = text.indexOf('\r\n\r\n');
    if (end < 0)
        return false;
    const head = text.slice(0, end);
    if (/^HTTP\/1\.[01] 101 /.test(head))
        return true;
    const length = /\r\ncontent-length: *([0-9]+)/i.exec(head)?.[1];
    return length !== undefined && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length);
}
//# sourceMappingURL=clients.js.map