/**
 * A connection exchange settles when the client's socket closes; its audit line then carries the
 * bytes the connection carried. Listening starts at once, so a close during the stages counts.
 */
export function settledOnClose(socket) {
    socket.on('error', () => socket.destroy());
    const closed = new Promise((resolve) => socket.once('close', () => resolve()));
    return (audit) => closed.then(() => {
        audit.bytes_up = socket.bytesRead;
        audit.bytes_down = socket.bytesWritten;
    });
}
//# sourceMappingURL=settled.js.map