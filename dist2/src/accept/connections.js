import { SidekeyError } from '../errors.js';
import { ANONYMOUS } from '../identity/workload-name.js';
/**
 * Every client connection sidekey holds open, on every listener (proxy, transparent HTTP,
 * transparent TLS), with who it belongs to once that is known. Two things need the whole set:
 *
 * - limits: a cap on connections in total (a connection counts from the moment it is accepted,
 *   before anything identifies it, so idle sockets cannot pile up) and per workload (counted once
 *   a CONNECT or request names the caller);
 * - enforcement after the fact: a revoked token, a quarantine or a policy reload must reach
 *   tunnels and WebSockets that were decided earlier and would otherwise run on untouched.
 *
 * Connections are keyed by the TCP socket the listener accepted; a TLS socket sidekey terminates
 * inside a tunnel runs on that socket, so destroying it ends everything the connection carries.
 */
/**
 * How long a connection being closed may take to finish the HTTP response it is writing (the
 * refusal of a held request whose denial caused the quarantine, an answer already on its way).
 * Blind tunnels and WebSockets, which carry nothing sidekey decides, are closed at once.
 */
export const CLOSE_GRACE_MS = 1000;
/** The open connections and their limits. */
export class Connections {
    limits;
    #open = new Map();
    #perWorkload = new Map();
    #emptyWaiters = [];
    constructor(limits) {
        this.limits = limits;
    }
    /** Connections open now. */
    get size() {
        return this.#open.size;
    }
    /** Connections counted against `workload` (null: callers without a run token). */
    countOf(workload) {
        return this.#perWorkload.get(workload ?? ANONYMOUS) ?? 0;
    }
    /**
     * A listener accepted `socket`: track it until it closes, or return the refusal when sidekey
     * already holds its total. Unidentified connections count, so a client that opens sockets and
     * says nothing is bounded by this cap and by the head timeout.
     */
    admit(socket) {
        if (this.#open.size >= this.limits.maxConnections) {
            return new SidekeyError('SIDEKEY_ERR_CONNECTION_LIMIT', `sidekey already holds ${this.limits.maxConnections} open connections, its limit (--max-connections); retry when some have closed`);
        }
        const entry = { socket, caller: null, counted: null, holds: [], inFlight: 0, closing: false };
        this.#open.set(socket, entry);
        socket.once('close', () => {
            this.#open.delete(socket);
            this.#uncount(entry);
            if (this.#open.size === 0)
                for (const wake of this.#emptyWaiters.splice(0))
                    wake();
        });
        return null;
    }
    /**
     * The caller of a connection is known (at CONNECT, or at each request of a keep-alive
     * connection, where it may change): count the connection against that workload, or return the
     * refusal when the workload already holds its share. A socket that is not tracked (already
     * closed) is left alone.
     */
    identify(socket, caller) {
        const entry = this.#open.get(socket);
        if (entry === undefined)
            return null;
        const workload = caller.workload ?? ANONYMOUS;
        if (entry.counted !== workload) {
            const held = this.#perWorkload.get(workload) ?? 0;
            if (held >= this.limits.maxConnectionsPerWorkload) {
                const who = caller.workload === null ? 'callers without a run token' : `workload "${workload}"`;
                return new SidekeyError('SIDEKEY_ERR_WORKLOAD_CONNECTION_LIMIT', `${who} already hold ${held} open connections, the limit for one workload (--max-connections-per-workload); close idle connections (keep-alive pools, tunnels) before opening more`);
            }
            this.#uncount(entry);
            entry.counted = workload;
            this.#perWorkload.set(workload, held + 1);
        }
        entry.caller = caller;
        return null;
    }
    /** An HTTP response is being written on `socket` (a connection being closed waits for it, briefly). */
    serving(socket, res) {
        const entry = this.#open.get(socket);
        if (entry === undefined)
            return;
        entry.inFlight++;
        res.once('close', () => {
            entry.inFlight--;
            if (entry.closing && entry.inFlight === 0)
                socket.destroy();
        });
    }
    /** Register a tunnel or WebSocket on `socket`, to be asked again when policy changes. */
    hold(socket, hold) {
        this.#open.get(socket)?.holds.push(hold);
    }
    /** Close every connection whose caller matches (a revoked token, a quarantined workload). */
    closeCallers(matches, why) {
        return this.#close((entry) => entry.caller !== null && matches(entry.caller), why);
    }
    /** Close every connection carrying a tunnel or WebSocket that `policy` no longer allows. */
    closeDisallowed(policy) {
        return this.#close((entry) => entry.holds.some((h) => !h.allowedUnder(policy)), 'route-gone');
    }
    /**
     * Shutdown's drain: close every connection with nothing in flight now, every other one as soon
     * as its responses in flight end, and leave streams (blind tunnels, WebSockets) to end by
     * themselves; `closeAll` cuts whatever is left when the drain time is up.
     */
    closeWhenIdle() {
        // No grace timer: the drain's own deadline (closeAll) bounds the responses in flight.
        this.#close((entry) => !entry.holds.some((h) => h.streaming), 'shutdown', null);
    }
    /** Resolves once no connection is open. */
    whenEmpty() {
        if (this.#open.size === 0)
            return Promise.resolve();
        return new Promise((resolve) => this.#emptyWaiters.push(resolve));
    }
    /** Close everything (shutdown). */
    closeAll() {
        for (const entry of [...this.#open.values()])
            entry.socket.destroy();
    }
    /** Close the connections `matches` picks, saying `why` on their audit lines; one in flight gets `graceMs` (null: until it ends). */
    #close(matches, why, graceMs = CLOSE_GRACE_MS) {
        const workloads = new Set();
        let count = 0;
        for (const entry of [...this.#open.values()]) {
            if (!matches(entry))
                continue;
            // The audit lines are written when the sockets close, just below: say why first.
            for (const hold of entry.holds)
                hold.audit.closed ??= why;
            if (entry.counted !== null)
                workloads.add(entry.counted);
            count++;
            if (entry.inFlight === 0) {
                entry.socket.destroy();
                continue;
            }
            // Every new request on it is refused already (the caller is checked on each); the one in
            // flight gets a moment to end, then the connection goes either way.
            entry.closing = true;
            if (graceMs !== null)
                setTimeout(() => entry.socket.destroy(), graceMs).unref();
        }
        return { count, workloads: [...workloads] };
    }
    #uncount(entry) {
        if (entry.counted === null)
            return;
        const left = (this.#perWorkload.get(entry.counted) ?? 1) - 1;
        if (left > 0)
            this.#perWorkload.set(entry.counted, left);
        else
            this.#perWorkload.delete(entry.counted);
        entry.counted = null;
    }
}
//# sourceMappingURL=connections.js.map