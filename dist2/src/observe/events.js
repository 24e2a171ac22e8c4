import { EventEmitter } from 'node:events';
import { outcomeOf } from './outcome.js';
/**
 * Live events for the web console (served as server-sent events by the admin listener): each
 * finished request as a DecisionSummary. Approvals come from the state store's own subscription.
 * Listeners are few (open consoles), and a slow one never holds up the request path: emitting is
 * synchronous and each console's stream buffers on its own.
 */
export class EventHub extends EventEmitter {
    constructor() {
        super();
        this.setMaxListeners(100);
    }
}
/** The console's view of an audit line: no header, query value or secret (the audit line has none). */
export function summarizeDecision(a, outcome = outcomeOf(a)) {
    return {
        id: a.id,
        event: a.event,
        tunnel: a.tunnel,
        time: new Date().toISOString(),
        workload: a.workload,
        method: a.method,
        host: a.host,
        port: a.port,
        path: a.path,
        route: a.route,
        decision: a.decision,
        reason: a.reason,
        status: a.status,
        error: a.error,
        condition: a.condition,
        outcome,
        approval: a.approval,
        total_ms: a.total_ms,
    };
}
//# sourceMappingURL=events.js.map