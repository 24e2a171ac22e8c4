import { refuse } from '../../accept/refuse.js';
import { newRequestExchange, runStages } from '../exchange.js';
import { REQUEST_STAGES } from '../stages/index.js';
/**
 * Entry point for a plain HTTP request: absolute-form on the proxy port, or any request inside an
 * intercepted tunnel or a transparent connection (`tunnel`). A refusal is an HTTP answer; once the
 * upstream's status went out, a failure can only cut the response.
 */
export function serveRequest(ctx, req, res, tunnel) {
    const result = { status: 0, bytesUp: 0, bytesDown: 0, firstByteMs: 0 };
    // The agent hanging up cancels whatever its request waits for (an approval, a credential).
    const gone = new AbortController();
    res.once('close', () => {
        if (!res.writableFinished)
            gone.abort();
    });
    const ex = newRequestExchange(req, tunnel, { kind: 'response', res, result }, gone.signal);
    return runStages(ctx, ex, REQUEST_STAGES, (err) => {
        // Once the upstream's status went out, that is the status the agent saw (a sized answer's
        // head waits for its first bytes: until then the agent gets the refusal).
        if (result.status !== 0 && res.headersSent)
            ex.audit.status = result.status;
        if (!res.headersSent && ex.refusalAnswer !== null)
            ex.audit.status = ex.refusalAnswer(res, err, ex.id, ex.audit.reason);
        else if (!res.headersSent)
            refuse(res, err, ex.id, ex.audit.reason);
        else if (!res.destroyed)
            res.destroy();
    }, null);
}
//# sourceMappingURL=request.js.map