import { methodOverride } from '../../accept/method-override.js';
import { SidekeyError } from '../../errors.js';
import { checkUpgradeRequest, upgradeRefusal } from '../../guard/upgrade-guard.js';
import { applyReportOnly, decideConnect, decideRequest as decideUnderPolicy } from '../../policy/decide.js';
import { describeAmbiguity } from '../../policy/path.js';
import { known } from '../exchange.js';
import { recordDecision, recordRefused, recordWouldRefuse } from './audit.js';
/**
 * The decide stage: policy's answer for the exchange, report-only mode applied, timed. A request is
 * decided on the path and method the upstream would run (an override header naming another
 * method is decided too); a connection on its authority. A denied one is refused here, with a
 * message that says what would allow it.
 */
export const decideRequest = {
    name: 'decide',
    run(ctx, ex) {
        const target = known(ex.target, 'a target');
        const caller = known(ex.caller, 'a caller');
        const override = methodOverride(ex.req.rawHeaders, target.path);
        ex.override = override;
        if (override !== null)
            ex.audit.method_override = override.method;
        const decidedAt = performance.now();
        let decision = requestDecision(ctx, ctx.policy.current, { workload: caller.workload, host: target.host, port: target.port, method: ex.req.method ?? 'GET', path: target.pathname, ambiguity: target.ambiguity, override });
        recordDecision(ex.audit, decision);
        ex.audit.decision_ms = performance.now() - decidedAt;
        if (decision.action === 'deny')
            throw refusalFor(decision, caller, target, override);
        if (ex.reply.kind === 'upgrade')
            decision = decideUpgrade(ctx, ex, decision);
        ex.decision = decision;
    },
};
export const decideConnection = {
    name: 'decide',
    run(ctx, ex) {
        const authority = known(ex.authority, 'an authority');
        const caller = known(ex.caller, 'a caller');
        const decidedAt = performance.now();
        const decision = connectDecision(ctx, ctx.policy.current, caller, authority);
        recordDecision(ex.audit, decision);
        ex.audit.decision_ms = performance.now() - decidedAt;
        // Where nothing readable can be said on the connection, a denied destination is intercepted
        // and each request inside is refused with an answer the agent can read.
        if (decision.action === 'deny' && !ex.refusalsInside)
            throw refusalFor(decision, caller, authority);
        ex.decision = decision;
    },
};
/** A CONNECT (or redirected TLS connection) decided under `policy`, report-only mode applied. */
export function connectDecision(ctx, policy, caller, authority) {
    const decision = decideConnect(policy, { workload: caller.workload, host: authority.host, port: authority.port });
    return ctx.config.reportOnly ? applyReportOnly(decision) : decision;
}
/** A request decided under `policy`, report-only mode applied. */
export function requestDecision(ctx, policy, facts) {
    const decision = decideUnderPolicy(policy, facts);
    return ctx.config.reportOnly ? applyReportOnly(decision) : decision;
}
/**
 * An upgrade is decided before anything is obtained or held for it: one sidekey cannot relay is
 * refused, and so is one its route does not allow (in report-only mode that is recorded, and the
 * upgrade goes on without the credential, like any request that would have been refused).
 */
function decideUpgrade(ctx, ex, decision) {
    checkUpgradeRequest(ex.req.method ?? 'GET', ex.req.headers);
    const refusal = decision.route === null || decision.reportOnly ? null : upgradeRefusal(decision.route);
    if (refusal === null)
        return decision;
    if (!ctx.config.reportOnly) {
        recordRefused(ex.audit, 'upgrade-refused');
        throw refusal;
    }
    recordWouldRefuse(ex.audit, 'upgrade-refused');
    return { ...decision, reportOnly: true };
}
/** The refusal for a denied exchange: what was refused and what would allow it. */
export function refusalFor(decision, caller, target, override = null) {
    const who = caller.workload === null ? 'an anonymous caller' : `workload "${caller.workload}"`;
    const where = `${target.host}:${target.port}`;
    const message = {
        'route-denies': `route "${decision.route?.name}" denies ${where}${override === null ? '' : ` (the method override in ${override.via} names ${override.method}; a request is decided on its own method and on the overridden one)`}`,
        'ambiguous-path': target.ambiguity ? describeAmbiguity(target.ambiguity, where) : 'the path has no single meaning',
        'method-override': `route "${decision.route?.name}" does not accept method overrides, and ${override?.via ?? 'the request'} names ${override?.method ?? 'another method'}: send ${override?.method ?? 'that method'} as the request method (or an admin sets method_override: true on the route)`,
        'no-route': `no route allows ${where} for ${who} (default deny); to allow it, add a route for host ${target.host} port ${target.port}${caller.workload === null ? '' : ` with workload "${caller.workload}"`} to sidekey's policy`,
        'workload-not-allowed': `a route matches ${where} but not ${who}; to allow it, add ${caller.workload === null ? 'a run token (start the agent with `sidekey run`)' : `"${caller.workload}" to that route's workloads`}`,
        'anonymous-not-allowed': `no route allows ${where} without a run token; authenticate with the token \`sidekey run\` provides`,
    }[decision.reason] ?? `refused: ${decision.reason}`;
    return new SidekeyError(decision.code ?? 'SIDEKEY_ERR_NO_ROUTE', message);
}
//# sourceMappingURL=decide.js.map