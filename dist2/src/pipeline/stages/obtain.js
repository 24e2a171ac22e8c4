import { known } from '../exchange.js';
/**
 * The obtain stage: the route's credential for this caller, just in time (from the token cache,
 * the provider, or a static secret). Never for a request only report-only mode let through. The
 * secret is taught to the scanner, so an agent that somehow learns it cannot send it anywhere.
 */
export const obtainCredential = {
    name: 'obtain',
    async run(ctx, ex) {
        const decision = known(ex.decision, 'a decision');
        const credential = decision.route?.credential;
        if (credential == null || decision.reportOnly)
            return;
        const caller = known(ex.caller, 'a caller');
        ex.audit.credential = credential.name;
        const obtainedAt = performance.now();
        try {
            const obtained = await credential.obtain(caller.workload);
            ex.secret = obtained.secret;
            ex.aws = obtained.aws ?? null;
            // Slotted by credential and caller: a token replaced again and again stays two secrets.
            ctx.scanner.add(obtained.secret, `${credential.name}\0${caller.workload ?? ''}`);
            ex.audit.credential_source = obtained.source;
        }
        catch (err) {
            // The reason (provider unreachable, what it answered) for whoever reads the log; messages name no secret.
            ctx.log.warn({ event: 'credential_unavailable', request: ex.id, credential: credential.name, err: err.message }, 'credential could not be obtained; request refused');
            throw err;
        }
        finally {
            ex.audit.credential_ms = performance.now() - obtainedAt;
        }
    },
};
//# sourceMappingURL=obtain.js.map