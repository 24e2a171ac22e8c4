/**
 * True when the peer's END_STREAM has ended `stream`'s readable side. Node's HTTP/2 streams (server
 * and client alike) end their readable side without an error on any close, a reset by RST_STREAM
 * NO_ERROR or CANCEL or a lost connection included, so a body cut short would read as complete;
 * END_STREAM ends it as the frame arrives, before the close that follows. Read at the stream's close,
 * before Node ends it there, this tells the two apart. No public field holds it: this reads Node's
 * `_readableState.ended` (Node 24), which the tests of both legs would catch changing
 * (test/e2e/h2-agent-hostile.test.ts, h2-upstream-hostile.test.ts).
 */
export function endedByPeer(stream) {
    return stream._readableState?.ended === true;
}
//# sourceMappingURL=h2-stream-end.js.map