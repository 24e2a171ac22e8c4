import { randomUUID } from 'node:crypto';
import { asSidekeyError } from '../accept/refuse.js';
import { SidekeyError } from '../errors.js';
import { NOTHING_TO_GUARD } from '../guard/request-guard.js';
import { newAuditRecord } from '../observe/audit.js';
import { finishAudit, recordError } from './stages/audit.js';
/** A request exchange with nothing known yet but what arrived. */
export function newRequestExchange(req, tunnel, reply, signal) {
    const id = randomUUID();
    const audit = newAuditRecord(reply.kind === 'upgrade' ? 'upgrade' : 'request', id, tunnel?.id ?? null);
    audit.method = req.method ?? null;
    return {
        id,
        startedAt: performance.now(),
        audit,
        req,
        tunnel,
        client: tunnel?.client ?? req.socket,
        reply,
        signal,
        target: null,
        caller: null,
        override: null,
        decision: null,
        guarded: NOTHING_TO_GUARD,
        to: null,
        secret: null,
        aws: null,
        outgoing: null,
        body: null,
        resign: null,
        response: null,
        scrubbed: { scrubbed: 0 },
        mcp: null,
        refusalAnswer: null,
    };
}
/** A connection exchange: its audit record is that of a tunnel. */
export function newConnectionExchange(fields, method) {
    const id = randomUUID();
    const audit = newAuditRecord('tunnel', id);
    audit.method = method;
    return { ...fields, id, startedAt: performance.now(), audit, caller: null, decision: null };
}
/** What an earlier stage must have set; its absence is sidekey's own bug, refused as internal. */
export function known(value, what) {
    if (value === null)
        throw new SidekeyError('SIDEKEY_ERR_INTERNAL', `the request path reached a stage without ${what}`);
    return value;
}
/**
 * Run `stages` in order over `ex`. A refusal at any stage is recorded on the audit line (with
 * everything known by then) and answered by `refuse`; the line is written once the exchange has
 * settled (`settled`: when the client's socket closes, for tunnels and upgrades), so it holds the
 * final status, bytes and error.
 */
export async function runStages(ctx, ex, stages, refuse, settled) {
    try {
        for (const stage of stages) {
            // Most stages are synchronous: awaiting only what returns a promise keeps a request from
            // paying a microtask turn per stage.
            const pending = stage.run(ctx, ex);
            if (pending !== undefined)
                await pending;
        }
    }
    catch (err) {
        const e = asSidekeyError(err);
        recordError(ex.audit, e);
        if (e.code === 'SIDEKEY_ERR_INTERNAL')
            ctx.log.error({ event: 'internal_error', id: ex.id, err: err.stack }, 'internal error');
        refuse(e);
    }
    finally {
        if (settled !== null)
            await settled;
        finishAudit(ctx, ex.audit, ex.startedAt);
    }
}
//# sourceMappingURL=exchange.js.map