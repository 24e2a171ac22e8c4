import { SidekeyError } from '../../errors.js';
import { maskAuditRecord, writeAudit } from '../../observe/audit.js';
/**
 * The audit stage: one line per exchange, written once it has settled. Each field of the record
 * has one owner, the stage that knows it:
 *
 * | stage | fields |
 * | --- | --- |
 * | accept | method, scheme, host, port, path, query_keys |
 * | identify | workload, identity |
 * | decide | route, decision_ms, method_override, and the outcome through `recordDecision` |
 * | guard | condition, uncounted, approval |
 * | obtain | credential, credential_source, credential_ms |
 * | forward | status (from the upstream), bytes_up, bytes_down, upstream_ms, closed |
 * | guard the response | scrubbed |
 * | audit | total_ms, and the outcome of a refusal through `recordError` |
 *
 * The outcome (decision, reason, report_only, error, and the status of a refusal) is written only
 * through the functions below, so every entry point records it the same way.
 */
/**
 * Write the one audit line and hand the record to the monitor, with any managed secret the agent
 * put in it (a host, a path, a query key) masked first: every log, event, alert and label built
 * from the record is then free of it.
 */
export function finishAudit(ctx, audit, startedAt) {
    maskAuditRecord(audit, ctx.scanner);
    writeAudit(ctx.log, audit, startedAt);
    try {
        ctx.observe(audit);
    }
    catch (err) {
        ctx.log.error({ event: 'observe_failed', err: err.message }, 'monitoring failed for one record');
    }
}
/** The decision policy made: action, why, which route, and whether report-only mode let it through. */
export function recordDecision(audit, decision) {
    audit.decision = decision.action;
    audit.reason = decision.reason;
    audit.route = decision.route?.name ?? null;
    audit.report_only = decision.reportOnly;
}
/** A decision that hands the exchange over to be decided request by request (an intercepted tunnel). */
export function recordIntercepted(audit) {
    audit.decision = 'intercept';
}
/** A refusal report-only mode let through: the reason says what enforcement would have refused. */
export function recordWouldRefuse(audit, reason) {
    audit.report_only = true;
    audit.reason = `would-refuse:${reason}`;
}
/** A refusal decided outside policy's own answer (an invalid run token, an upgrade the route does not allow). */
export function recordRefused(audit, reason) {
    audit.decision = 'deny';
    audit.reason = reason;
}
/** Record a refusal on the audit line, keeping a decision already made. */
export function recordError(audit, err) {
    audit.error = err.code;
    audit.status = err.status;
    if (audit.reason === 'incomplete') {
        audit.decision = err.status >= 500 ? 'error' : 'deny';
        audit.reason = reasonOf(err.code);
    }
}
/** The first failure of an intercepted connection: its code, and why (replacing the decision's reason). */
export function recordFailure(audit, code, why) {
    audit.error = code;
    audit.reason = why;
}
/** An error code as an audit reason: `SIDEKEY_ERR_RATE_LIMITED` is `rate-limited`. */
export function reasonOf(code) {
    return code.replace('SIDEKEY_ERR_', '').toLowerCase().replaceAll('_', '-');
}
//# sourceMappingURL=audit.js.map