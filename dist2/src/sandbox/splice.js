/**
 * Copy bytes both ways between two local sockets until both directions have ended. Each end is
 * passed on as an end (half-close), never as a destroy, so nothing still buffered is dropped; an
 * error on either side destroys both. Both sockets must be created with `allowHalfOpen: true`.
 * (The tunnel relay in accept/tunnel.ts counts bytes for the audit line and tears down on the first
 * close; this carries a whole proxy connection, which must arrive intact.)
 */
export function splice(a, b) {
    a.pipe(b);
    b.pipe(a);
    const destroy = () => {
        a.destroy();
        b.destroy();
    };
    a.once('error', destroy);
    b.once('error', destroy);
    // A side closed without an end (destroyed): end the other, after what it already has buffered.
    a.once('close', () => b.end());
    b.once('close', () => a.end());
}
//# sourceMappingURL=splice.js.map