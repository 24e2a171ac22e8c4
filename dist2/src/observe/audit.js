import { writeSerialized } from './logger.js';
/** A fresh record with nothing known yet. */
export function newAuditRecord(event, id, tunnel = null) {
    return {
        event,
        id,
        tunnel,
        workload: null,
        identity: null,
        method: null,
        scheme: null,
        host: null,
        port: null,
        path: null,
        query_keys: null,
        route: null,
        decision: 'error',
        reason: 'incomplete',
        report_only: false,
        condition: null,
        approval: null,
        credential: null,
        credential_source: null,
        status: null,
        error: null,
        bytes_up: 0,
        bytes_down: 0,
        decision_ms: null,
        credential_ms: null,
        upstream_ms: null,
        total_ms: 0,
    };
}
/** Split a request target into the path and its query parameter names (values are never kept). */
export function auditPath(pathWithQuery) {
    const q = pathWithQuery.indexOf('?');
    if (q < 0)
        return { path: pathWithQuery, query_keys: null };
    const keys = [...new Set([...new URLSearchParams(pathWithQuery.slice(q + 1)).keys()])];
    return { path: pathWithQuery.slice(0, q), query_keys: keys };
}
/** maskAuditRecord's texts to search, reused from one record to the next. */
const RECORD_TEXTS = [];
/**
 * Mask managed secrets in every text field of a record, in place, before it is written or handed
 * on: an agent that puts a secret in a host, path, query key or header name must not have sidekey
 * copy it into the audit log, security events, alerts, metrics labels, baselines or the console
 * (all of which are built from this record). The common case (none) costs one search.
 */
export function maskAuditRecord(record, masker) {
    const fields = record;
    // Every exchange passes here: the texts are gathered into one reused array (the search is
    // synchronous) and read in place, not copied out with Object.values first.
    const texts = RECORD_TEXTS;
    for (const name in fields) {
        const value = fields[name];
        if (typeof value === 'string')
            texts.push(value);
        else if (Array.isArray(value))
            for (const v of value)
                if (typeof v === 'string')
                    texts.push(v);
    }
    const found = masker.foundInFields(texts);
    // Emptied at once, so it holds no record's text past this call.
    texts.length = 0;
    if (!found)
        return;
    for (const [name, value] of Object.entries(fields)) {
        if (typeof value === 'string')
            fields[name] = masker.mask(value);
        else if (Array.isArray(value))
            fields[name] = value.map((v) => (typeof v === 'string' ? masker.mask(v) : v));
    }
}
const round = (ms) => (ms === null ? null : Math.round(ms * 1000) / 1000);
/**
 * Write the line, at a level that follows the outcome: info when served, warn when refused, error
 * on faults.
 *
 * The line is the one pino would write (level label, ISO time, the logger's bindings, the fields,
 * `msg`), on the logger's own destination, but serialized with one `JSON.stringify` of the
 * fixed-shape record: pino's field-by-field serializer cost about 15 µs a line, the largest part
 * of sidekey's own work per request. The logger's level still decides whether it is written.
 */
export function writeAudit(log, record, startedAt) {
    record.total_ms = round(performance.now() - startedAt);
    record.decision_ms = round(record.decision_ms);
    record.credential_ms = round(record.credential_ms);
    record.upstream_ms = round(record.upstream_ms);
    const level = auditLevel(record);
    if (log.isLevelEnabled(level))
        writeSerialized(log, level, JSON.stringify(record), 'audit');
}
/**
 * The level of an audit line: `warn` when refused, `error` on faults, else `info`. An agent that
 * went away (SIDEKEY_ERR_AGENT_GONE) is neither refused nor a fault: its line is `info`, as a
 * cancelled call is no one's failure.
 */
function auditLevel(record) {
    if (record.error === 'SIDEKEY_ERR_AGENT_GONE')
        return 'info';
    if (record.decision === 'deny')
        return 'warn';
    return record.error !== null || (record.status ?? 0) >= 500 ? 'error' : 'info';
}
/**
 * The size of a request's line and headers as they go upstream, counted from the agent's own part
 * (the method, the target, each header name and value the agent sent), for the volume baseline.
 */
export function requestHeadBytes(method, path, rawHeaders) {
    // "METHOD SP target SP HTTP/1.1 CRLF", then "name: value CRLF" per header.
    let n = method.length + path.length + 12;
    for (let i = 0; i < rawHeaders.length; i += 2)
        n += rawHeaders[i].length + rawHeaders[i + 1].length + 4;
    return n;
}
//# sourceMappingURL=audit.js.map