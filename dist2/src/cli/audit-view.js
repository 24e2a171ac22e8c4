import { bracketed, formatAuthority } from '../policy/host.js';
const AUDIT_EVENTS = new Set(['request', 'tunnel', 'upgrade', 'connect']);
const ansi = (code) => (s) => `\u001b[${code}m${s}\u001b[0m`;
export const COLOURS = { red: ansi(31), yellow: ansi(33), green: ansi(32), cyan: ansi(36), dim: ansi(2) };
export const PLAIN = { red: (s) => s, yellow: (s) => s, green: (s) => s, cyan: (s) => s, dim: (s) => s };
/**
 * Turns sidekey's JSON log lines into one readable line per exchange. A tunnel's audit line is
 * written when the tunnel closes, after the requests it carried; those requests are the exchanges,
 * so the tunnel is folded under them as one indented line, and shown as an exchange of its own only
 * when it carried none (refused at CONNECT, a blind tunnel, a client that rejected the certificate).
 * Other log lines are shown when they warn or fail, and unless a filter is set.
 */
export class AuditView {
    filter;
    colour;
    /** Requests seen per open tunnel id (forgotten when the tunnel's own line arrives). */
    #carried = new Map();
    constructor(filter, colour) {
        this.filter = filter;
        this.colour = colour;
    }
    /** The text to print for one log line (without newline), or null to print nothing. */
    line(text) {
        let entry;
        try {
            entry = JSON.parse(text);
        }
        catch {
            return text.trim() === '' || this.#filtered() ? null : text;
        }
        if (typeof entry.event !== 'string' || !AUDIT_EVENTS.has(entry.event) || typeof entry.id !== 'string')
            return this.#other(entry);
        const record = entry;
        if (record.event === 'tunnel') {
            const carried = this.#carried.get(record.id) ?? 0;
            this.#carried.delete(record.id);
            if (carried > 0)
                return this.#matches(record) ? this.colour.dim(`    └ tunnel ${authority(record)} closed after ${carried} request(s), ${Math.round(record.total_ms)} ms${record.closed ? ` (${record.closed})` : ''}`) : null;
        }
        else if (record.tunnel !== null) {
            // Bounded: a log read from the middle may hold requests of tunnels whose line never comes.
            if (this.#carried.size > 10_000)
                this.#carried.clear();
            this.#carried.set(record.tunnel, (this.#carried.get(record.tunnel) ?? 0) + 1);
        }
        return this.#matches(record) ? this.#exchange(record) : null;
    }
    #filtered() {
        const f = this.filter;
        return f.workload !== undefined || f.route !== undefined || f.decision !== undefined || f.status !== undefined;
    }
    #matches(r) {
        const f = this.filter;
        if (f.workload !== undefined && r.workload !== f.workload)
            return false;
        if (f.route !== undefined && r.route !== f.route)
            return false;
        if (f.decision !== undefined && r.decision !== f.decision)
            return false;
        if (f.status !== undefined) {
            const status = r.status === null ? '' : String(r.status);
            const wanted = f.status.toLowerCase();
            if (/^[1-5]xx$/.test(wanted) ? status[0] !== wanted[0] || status.length !== 3 : status !== wanted)
                return false;
        }
        return true;
    }
    /** Warnings, errors and the start line; nothing else of the operational log. */
    #other(entry) {
        if (this.#filtered())
            return null;
        const level = entry.level;
        const msg = typeof entry.msg === 'string' ? entry.msg : JSON.stringify(entry);
        const time = clock(entry.time);
        if (level === 'warn')
            return this.colour.yellow(`${time}  warning: ${msg}${entry.event ? ` (${String(entry.event)})` : ''}`);
        if (level === 'error' || level === 'fatal')
            return this.colour.red(`${time}  ${String(level)}: ${msg}${entry.event ? ` (${String(entry.event)})` : ''}`);
        if (entry.event === 'started')
            return this.colour.dim(`${time}  sidekey started: proxy ${String(entry.proxy)}, admin ${String(entry.admin)}`);
        return null;
    }
    #exchange(r) {
        const target = r.event === 'tunnel' || r.event === 'connect' ? `CONNECT ${authority(r)}` : `${r.method ?? '?'} ${r.scheme ?? 'http'}://${authority(r, defaultPort(r))}${r.path ?? ''}`;
        const status = r.status === null ? '---' : String(r.status);
        const verdict = `${r.decision} (${r.reason})`;
        const details = [
            r.route === null ? null : `route=${r.route}`,
            r.credential === null ? null : `credential=${r.credential}`,
            r.condition === null ? null : `condition=${r.condition}`,
            r.approval === null ? null : `approval=${r.approval}`,
            r.report_only ? 'report-only' : null,
            r.error === null ? null : r.error,
        ].filter((d) => d !== null);
        const line = `${clock(r.time)}  ${(r.workload ?? 'anonymous').padEnd(12)} ${status} ${target}  ${verdict}${details.length > 0 ? `  ${details.join(' ')}` : ''}  ${Math.round(r.total_ms)} ms`;
        return this.#paint(r)(line);
    }
    /** Coloured by outcome, not by the policy's decision: an allowed request that failed is not green. */
    #paint(r) {
        if (r.decision === 'deny' || r.decision === 'error' || (r.status !== null && r.status >= 500))
            return this.colour.red;
        if (r.approval !== null && r.approval !== 'grant')
            return this.colour.cyan;
        if (r.status !== null && r.status >= 400)
            return this.colour.yellow;
        return this.colour.green;
    }
}
/** `host:port` of an audit line (IPv6 in brackets), without the port when `portless`; `?` for a request too broken to name one. */
function authority(r, portless = false) {
    if (r.host === null)
        return '?';
    return portless || r.port === null ? bracketed(r.host) : formatAuthority({ host: r.host, port: r.port });
}
function defaultPort(r) {
    return r.port === null || (r.port === 443 && (r.scheme === 'https' || r.scheme === 'wss')) || (r.port === 80 && (r.scheme === 'http' || r.scheme === 'ws'));
}
/** HH:MM:SS of a log line's ISO time (the date is the file's business). */
function clock(time) {
    return typeof time === 'string' && time.length >= 19 ? time.slice(11, 19) : '--:--:--';
}
//# sourceMappingURL=audit-view.js.map