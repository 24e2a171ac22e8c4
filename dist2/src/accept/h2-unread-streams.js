import { randomUUID } from 'node:crypto';
import { newAuditRecord } from '../observe/audit.js';
import { tunnelAuditFields } from './tunnel.js';
/**
 * HTTP/2 streams that never reached sidekey. nghttp2 resets some streams itself before Node hands
 * them over: a malformed head (an uppercase field name, a connection-specific field, a misplaced
 * or repeated pseudo-header: RFC 9113 section 8.1.1), or a stream over the concurrent-stream
 * limit. Node reports nothing of them in JavaScript, so they had no audit line, where an HTTP/1.1
 * request Node's parser refuses has one (accept/client-error.ts).
 *
 * They are found by their ids. A client opens streams with increasing odd ids, and the server
 * hands each over in order, so an id skipped between two streams handed over was one nghttp2 kept
 * back; at the session's end, nghttp2's last processed stream id names any after the last one.
 * A client may also skip ids on purpose (RFC 9113 section 5.1.1 allows it; no common client does),
 * and those count too: either way, nothing of them was decided or forwarded.
 *
 * Each run of consecutive such ids gets one audit line (`unread_streams` says how many), not one
 * per id: a client that skips a billion ids must not be able to make sidekey write a billion
 * lines. nghttp2's own limits (refused streams, invalid frames) end a session that keeps sending
 * malformed streams (accept/h2-server.ts).
 */
export class UnreadStreams {
    report;
    /** The highest client stream id handed over or reported (client ids are odd: the first is 1). */
    #last = -1;
    constructor(report) {
        this.report = report;
    }
    /** The server handed over stream `id`: any ids skipped since the last one never reached sidekey. */
    handedOver(id) {
        if (id > this.#last + 2)
            this.report(this.#last + 2, (id - this.#last) / 2 - 1);
        if (id > this.#last)
            this.#last = id;
    }
    /**
     * The session is ending; `lastProcessed` is nghttp2's last processed stream id (undefined once
     * the session is gone). Streams it read after the last one handed over never reached sidekey.
     * Safe to call more than once: what was reported is not reported again.
     */
    ending(lastProcessed) {
        if (lastProcessed === undefined || lastProcessed <= this.#last || lastProcessed % 2 === 0)
            return;
        this.report(this.#last + 2, (lastProcessed - this.#last) / 2);
        this.#last = lastProcessed;
    }
}
/**
 * The audit line for `count` consecutive streams from `firstId` that nghttp2 reset before sidekey
 * read them: refused as a malformed request, in the tunnel's name (destination and caller), with
 * no method, path or status (none was read, none sent: the agent got RST_STREAM).
 */
export function unreadStreamsAudit(tunnel, firstId, count) {
    const audit = newAuditRecord('request', randomUUID(), tunnel.id);
    audit.decision = 'deny';
    audit.reason = 'stream-reset-unread';
    audit.error = 'SIDEKEY_ERR_BAD_REQUEST';
    Object.assign(audit, tunnelAuditFields(tunnel));
    audit.protocol = 'h2';
    audit.h2_stream = firstId;
    audit.unread_streams = count;
    return audit;
}
//# sourceMappingURL=h2-unread-streams.js.map