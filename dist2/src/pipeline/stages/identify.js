import { SidekeyError } from '../../errors.js';
import { identify } from '../../identity/identify.js';
import { callerRefusal } from '../../identity/standing.js';
import { recordRefused } from './audit.js';
/**
 * The identify stage: who is asking, and may they ask at all. A tunnel's requests belong to whoever
 * opened the tunnel, and are re-checked on each one (a token revoked, a workload quarantined or
 * throttled since); a caller is counted against its workload's share of open connections.
 */
export const identifyRequest = {
    name: 'identify',
    run(ctx, ex) {
        const caller = ex.tunnel?.caller ?? callerOfRequest(ctx, ex.req, ex.audit);
        ex.caller = caller;
        ex.audit.workload = caller.workload;
        ex.audit.identity = caller.via;
        guardCaller(ctx, caller);
        admitCaller(ctx, ex.client, caller);
    },
};
/**
 * A connection's caller. Where refusals can only be said inside the connection, standing and
 * connection limits are left to each request inside, unless the connection is relayed blind
 * (then the forward stage checks them before dialling).
 */
export const identifyConnection = {
    name: 'identify',
    run(ctx, ex) {
        const caller = recordingInvalid(ex.audit, ex.identifyCaller);
        ex.caller = caller;
        ex.audit.workload = caller.workload;
        ex.audit.identity = caller.via;
        if (!ex.refusalsInside) {
            guardCaller(ctx, caller);
            admitCaller(ctx, ex.socket, caller);
        }
    },
};
/** The caller a plain request names in Proxy-Authorization (or the default workload). */
function callerOfRequest(ctx, req, audit) {
    return recordingInvalid(audit, connectCaller(ctx, req));
}
/** The caller a request names in Proxy-Authorization (or the default workload): CONNECT, absolute-form. */
export function connectCaller(ctx, req) {
    return () => identify(req.headers['proxy-authorization'], ctx.runTokens, ctx.config.workload);
}
/** The sidecar's own workload: the caller of everything redirected to sidekey in transparent mode. */
export function sidecarCaller(ctx) {
    return identify(undefined, ctx.runTokens, ctx.config.workload);
}
function recordingInvalid(audit, identifyCaller) {
    try {
        return identifyCaller();
    }
    catch (err) {
        audit.identity = 'invalid';
        recordRefused(audit, 'invalid-run-token');
        throw err;
    }
}
/**
 * Guard the caller before any decision, on every request (inside a tunnel too, where the caller
 * was identified once, at CONNECT): a revoked run token and a quarantined workload are refused
 * outright (so is an anonymous caller that could be a quarantined agent: `callerRefusal`), a
 * throttled one when its bucket is empty.
 */
export function guardCaller(ctx, caller) {
    const refusal = callerRefusal(caller, ctx.runTokens, ctx.state);
    if (refusal !== null)
        throw refusal;
    const workload = caller.workload ?? 'anonymous';
    const wait = ctx.throttle.take(workload);
    if (wait > 0)
        throw new SidekeyError('SIDEKEY_ERR_THROTTLED', `workload "${workload}" is throttled; retry in ${wait} s`, { retryAfterS: wait });
}
/** Count the client connection against the caller's workload (its share of open connections). */
export function admitCaller(ctx, client, caller) {
    const refusal = ctx.connections.identify(client, caller);
    if (refusal !== null)
        throw refusal;
}
//# sourceMappingURL=identify.js.map