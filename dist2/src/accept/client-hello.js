/**
 * Reading the server name a TLS client asks for, from its ClientHello (RFC 8446 section 4.1.2,
 * server_name extension of RFC 6066 section 3), before any TLS is done: a transparently redirected
 * connection has no CONNECT line, so the SNI is the only name there is to decide on. The
 * ClientHello may span several TLS records (large post-quantum key shares do), and extension order
 * is randomised by some clients, so the whole handshake message is collected first.
 */
/** Largest ClientHello accepted (a real one is a few KiB; this bounds what a client can make us buffer). */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;
/**
 * Parse the start of a connection. `incomplete`: more bytes are needed; `not-tls`: this is not a
 * TLS ClientHello (or it is malformed or too large); `done`: the SNI host name, or null when the
 * client sent none.
 */
export function parseClientHello(data) {
    // Collect the handshake bytes out of consecutive handshake records.
    const parts = [];
    let have = 0;
    let offset = 0;
    let needed = -1;
    while (offset + 5 <= data.length) {
        if (data[offset] !== 0x16 || data[offset + 1] !== 0x03)
            return { state: 'not-tls' };
        const length = data.readUInt16BE(offset + 3);
        if (length === 0 || length > 16_384 + 256)
            return { state: 'not-tls' };
        const body = data.subarray(offset + 5, Math.min(data.length, offset + 5 + length));
        parts.push(body);
        have += body.length;
        if (needed < 0 && have >= 4) {
            const head = Buffer.concat(parts);
            if (head[0] !== 0x01)
                return { state: 'not-tls' };
            needed = 4 + head.readUIntBE(1, 3);
            if (needed > MAX_CLIENT_HELLO_BYTES)
                return { state: 'not-tls' };
        }
        if (needed >= 0 && have >= needed)
            return serverNameOf(Buffer.concat(parts).subarray(4, needed));
        if (body.length < length)
            break;
        offset += 5 + length;
    }
    if (data.length > 0 && data[0] !== 0x16)
        return { state: 'not-tls' };
    if (data.length >= MAX_CLIENT_HELLO_BYTES)
        return { state: 'not-tls' };
    return { state: 'incomplete' };
}
/** Walk a complete ClientHello body to its server_name extension. */
function serverNameOf(hello) {
    try {
        let p = 2 + 32; // legacy_version, random
        p += 1 + hello.readUInt8(p); // legacy_session_id
        p += 2 + hello.readUInt16BE(p); // cipher_suites
        p += 1 + hello.readUInt8(p); // legacy_compression_methods
        if (p === hello.length)
            return { state: 'done', serverName: null }; // no extensions at all
        const end = p + 2 + hello.readUInt16BE(p);
        if (end > hello.length)
            return { state: 'not-tls' };
        p += 2;
        while (p + 4 <= end) {
            const type = hello.readUInt16BE(p);
            const length = hello.readUInt16BE(p + 2);
            const ext = hello.subarray(p + 4, p + 4 + length);
            if (ext.length !== length)
                return { state: 'not-tls' };
            if (type === 0)
                return { state: 'done', serverName: hostNameOf(ext) };
            p += 4 + length;
        }
        return { state: 'done', serverName: null };
    }
    catch {
        // A read past the end: a malformed hello.
        return { state: 'not-tls' };
    }
}
/** server_name_list: the host_name entry (type 0), if it is a plausible DNS name. */
function hostNameOf(ext) {
    let p = 2;
    const end = Math.min(ext.length, 2 + ext.readUInt16BE(0));
    while (p + 3 <= end) {
        const type = ext.readUInt8(p);
        const length = ext.readUInt16BE(p + 1);
        const name = ext.subarray(p + 3, p + 3 + length).toString('latin1');
        if (type === 0)
            return /^[A-Za-z0-9._-]{1,253}$/.test(name) ? name.toLowerCase() : null;
        p += 3 + length;
    }
    return null;
}
//# sourceMappingURL=client-hello.js.map