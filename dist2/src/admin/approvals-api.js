import { parseDuration } from '../approvals/approvals.js';
import { SidekeyError } from '../errors.js';
import { readJson, send } from './json.js';
/** An approval's id, as `Approvals` makes them. */
const APPROVAL_ID = '[0-9a-f-]{36}';
export const APPROVALS_ROUTES = [
    { method: 'GET', path: '/v1/approvals', access: 'admin', handle: async (ctx, { res }) => send(res, 200, { approvals: await ctx.approvals.list() }) },
    { method: 'GET', path: '/v1/decisions', access: 'admin', handle: async (ctx, { res }) => send(res, 200, { decisions: await ctx.state.recentDecisions() }) },
    { method: 'GET', path: '/v1/activity', access: 'admin', handle: (ctx, { res }) => send(res, 200, ctx.activity.snapshot()) },
    { method: 'GET', path: '/v1/events', access: 'admin', handle: (ctx, { req, res }) => streamEvents(ctx, req, res) },
    { method: 'GET', path: `/v1/approvals/:id(${APPROVAL_ID})`, access: 'admin', handle: showApproval },
    { method: 'POST', path: `/v1/approvals/:id(${APPROVAL_ID})/:verdict(approve|deny)`, access: 'admin', handle: decideApproval },
];
async function showApproval(ctx, { res, params }) {
    const record = await ctx.state.getApproval(params.id);
    if (record === undefined)
        throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `no approval ${params.id}`);
    send(res, 200, record);
}
async function decideApproval(ctx, { req, res, params }) {
    const verdict = params.verdict;
    const body = (await readJson(req));
    let grantMs;
    if (body.for !== undefined && body.for !== null && body.for !== '') {
        const parsed = typeof body.for === 'string' || typeof body.for === 'number' ? parseDuration(String(body.for)) : null;
        if (parsed === null)
            throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', '"for" must be a duration such as 30s, 10m, 2h or 1d (at most 30d)');
        if (verdict === 'deny')
            throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', '"for" grants a period and goes with approve, not deny');
        grantMs = parsed;
    }
    const by = typeof body.by === 'string' && APPROVER_NAME.test(body.by) ? body.by : 'admin';
    const note = typeof body.note === 'string' && body.note !== '' ? body.note : undefined;
    send(res, 200, await ctx.approvals.decide(params.id, verdict, by, { grantMs, note }));
}
/** A name an approver may sign decisions with (`decided_by`); the console checks the same pattern. */
export const APPROVER_NAME = /^[\w .@:-]{1,64}$/;
/**
 * Server-sent events: `approval` for every approval stored or settled, `decision` for every
 * finished request, and a comment every 15 s so idle proxies keep the stream open. `?workload=W`
 * and `?reason=R` keep only the decisions with that workload and reason, tested before anything is
 * serialized: a follower that wants one rare kind of decision (`sidekey run`'s hints) costs the
 * request path a comparison, not a JSON line per request.
 */
function streamEvents(ctx, req, res) {
    const query = new URL(req.url ?? '/', 'http://admin').searchParams;
    const workload = query.get('workload');
    const reason = query.get('reason');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.flushHeaders();
    const write = (event, data) => {
        // A console that stops reading is dropped rather than buffered without bound.
        if (res.writableLength > 1024 * 1024) {
            res.destroy();
            return;
        }
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const onDecision = (d) => {
        if ((workload === null || d.workload === workload) && (reason === null || d.reason === reason))
            write('decision', d);
    };
    ctx.events.on('decision', onDecision);
    const unsubscribe = ctx.state.onApproval((a) => write('approval', a));
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    write('ready', { at: new Date().toISOString() });
    const stop = () => {
        clearInterval(ping);
        ctx.events.off('decision', onDecision);
        unsubscribe();
    };
    req.once('close', stop);
    res.once('close', stop);
}
//# sourceMappingURL=approvals-api.js.map