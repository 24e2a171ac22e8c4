import { ConditionRefusal } from '../errors.js';
import { foldHeaders, requestHasBody } from '../http/message.js';
import { withoutHopByHop } from '../inject/hop-by-hop.js';
import { withoutNames } from '../inject/inject.js';
import { ambiguity } from './ambiguity.js';
import { parseJsonBody, readBody } from './body.js';
import { checkConditions, countRequest } from './conditions.js';
import { detected } from './secret-scan.js';
/** The result for a route with neither conditions nor approval. */
export const NOTHING_TO_GUARD = Object.freeze({ body: null, approval: null, wouldRefuse: null, uncounted: [] });
export async function guardRequest(deps, route, g, req) {
    const c = route.conditions;
    const a = route.approval;
    // SigV4 signs the payload's hash: unless the agent's SDK sent it (S3) or the route signs
    // UNSIGNED-PAYLOAD, the body is read to hash it.
    const hashesBody = route.injection?.kind === 'sigv4' && !route.injection.unsignedPayload && req.headers['x-amz-content-sha256'] === undefined;
    const given = g.alreadyRead ?? null;
    if (c === null && a === null && !hashesBody)
        return given === null ? NOTHING_TO_GUARD : { ...NOTHING_TO_GUARD, body: given };
    const declared = req.headers['content-length'] === undefined ? null : Number(req.headers['content-length']);
    const streamed = declared === null && req.headers['transfer-encoding'] !== undefined;
    // The body is read when CEL reads it, a held request carries it, it is signed, or its size is only known by reading.
    const mustRead = a !== null || hashesBody || (c?.cel.some((p) => p.usesBody) ?? false) || (c?.maxBodyBytes != null && streamed);
    const body = given ?? (mustRead && requestHasBody(req.headers) ? await readBody(req, route.inspectBodyBytes) : null);
    // A secret in a held body would reach the console, the admin API, the webhook and the state
    // store: scan before anything else sees it (docs/security.md).
    if (body !== null && deps.scanner.size > 0 && deps.scanner.foundInBuffer(body))
        throw detected();
    try {
        const { approval, uncounted } = await check(deps, route, g, body, declared, req.headers['content-type']);
        return { body, approval, wouldRefuse: null, uncounted };
    }
    catch (err) {
        // Report-only: log what would have refused and let the request on (the body was read, keep it).
        if (g.reportOnly && err instanceof ConditionRefusal)
            return { body, approval: null, wouldRefuse: err, uncounted: [] };
        throw err;
    }
}
async function check(deps, route, g, body, declared, contentType) {
    const c = route.conditions;
    const a = route.approval;
    const json = parseJsonBody(body);
    const headers = celHeaders(g.rawHeaders, route.strip);
    const ambiguous = ambiguity(route, { path: g.path, contentType, headers, body, json });
    if (ambiguous !== null)
        throw ambiguous;
    const input = celInput({ ...g, rawHeaders: headers }, body, json);
    const nowMs = deps.now();
    let uncounted = [];
    if (c !== null) {
        checkConditions(c, { workload: g.workload, nowMs, bodyBytes: body?.length ?? declared, cel: input });
        uncounted = await countRequest(route, g.workload, nowMs, deps.state, g.calls ?? 1);
    }
    let approval = null;
    if (a !== null) {
        // A condition that cannot be evaluated asks a person rather than skipping the approval.
        const outcome = a.when?.evaluate(input) ?? { ok: true, value: true };
        if (!outcome.ok || outcome.value) {
            const rule = a.when === null ? `route "${route.name}" needs approval for every request` : outcome.ok ? `approval.when ${a.when.source}` : `approval.when ${a.when.source} (could not be evaluated: ${outcome.why})`;
            const why = g.about === undefined ? rule : `${g.about}: ${rule}`;
            if (g.reportOnly)
                throw new ConditionRefusal('SIDEKEY_ERR_APPROVAL_DENIED', 'approval', `would wait for approval: ${why}`);
            const q = g.path.indexOf('?');
            approval = await deps.approvals.hold({ workload: g.workload, route, method: g.method, host: g.host, port: g.port, path: g.pathname, query: q < 0 ? '' : g.path.slice(q + 1), rawHeaders: g.rawHeaders, body, why, signal: g.signal });
        }
    }
    return { approval, uncounted };
}
/** Headers CEL never sees: the run token (celHeaders removes it too, as hop-by-hop). */
const NOT_FOR_CEL = new Set(['proxy-authorization']);
/**
 * The agent's headers as CEL reads them: as they go upstream, without hop-by-hop headers, those
 * the agent's `Connection` names, and those the route strips. A condition read on what the agent
 * sent was true of a header the upstream never saw (found by a red-team run: `X-Account: sandbox`
 * with `Connection: x-account` passed `request.headers["x-account"] == "sandbox"`, and the
 * upstream acted on its default account).
 */
export function celHeaders(rawHeaders, strip) {
    return withoutNames(withoutHopByHop(rawHeaders), strip);
}
/**
 * The variables CEL expressions see. Proxy-Authorization (the run token) is never among them.
 * `json` is the body already parsed, when the caller has it.
 */
export function celInput(g, body, json = parseJsonBody(body)) {
    // Null-prototype maps: a header or query parameter named __proto__ is just a name.
    const headers = foldHeaders(g.rawHeaders, NOT_FOR_CEL);
    const query = Object.create(null);
    const q = g.path.indexOf('?');
    if (q >= 0) {
        for (const [k, v] of new URLSearchParams(g.path.slice(q + 1)))
            if (!(k in query))
                query[k] = v;
    }
    return {
        request: { method: g.method, host: g.host, port: g.port, path: g.pathname, query, headers },
        workload: g.workload ?? '',
        body: json,
        ...(g.mcp === undefined ? {} : { mcp: g.mcp }),
    };
}
//# sourceMappingURL=request-guard.js.map