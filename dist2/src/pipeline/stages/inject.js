import { SidekeyError } from '../../errors.js';
import { requestHeadersFor } from '../../guard/response-guard.js';
import { requestHasBody } from '../../http/message.js';
import { withoutHopByHop } from '../../inject/hop-by-hop.js';
import { injectCredential, withoutNames } from '../../inject/inject.js';
import { signForwarded } from '../../inject/sigv4.js';
import { resignBuffer } from '../../inject/sigv4-chunked.js';
import { known } from '../exchange.js';
/** Not offered upstream: sidekey reads WebSocket frames uncompressed (guard/websocket-frames.ts). */
const WEBSOCKET_EXTENSIONS = ['sec-websocket-extensions'];
/**
 * The inject stage: the request as it goes up. Hop-by-hop headers are removed first, so a
 * `Connection: <name>` cannot remove what is injected next; then the credential is injected (or,
 * on a credentialed route without one, what the agent sent in its place is stripped). A SigV4
 * route signs the whole request; a chunk-signed upload the guard already read is re-signed here,
 * whole, and a streamed one on its way up (the forward stage's filter).
 */
export const injectCredentialStage = {
    name: 'inject',
    async run(_ctx, ex) {
        const target = known(ex.target, 'a target');
        const decision = known(ex.decision, 'a decision');
        const route = decision.route;
        const secret = ex.secret;
        // What the response guard needs of the request (no Range on a scrubbed route, Accept-Encoding
        // it decodes), and no WebSocket extension offered (frames are read uncompressed), before
        // anything is signed: a SigV4 route signed the agent's Accept-Encoding and Range, which were
        // then changed, and AWS answered SignatureDoesNotMatch (found by a red-team run).
        const agentHeaders = withoutHopByHop(ex.req.rawHeaders);
        const headers = requestHeadersFor(ex.response, ex.reply.kind === 'response' ? agentHeaders : withoutNames(agentHeaders, WEBSOCKET_EXTENSIONS));
        const outgoing = { path: target.path, headers };
        ex.outgoing = outgoing;
        if (route !== null && secret !== null)
            injectCredential(outgoing, route, secret);
        else if (route !== null && !decision.reportOnly)
            outgoing.headers = withoutNames(outgoing.headers, route.strip);
        const body = ex.guarded.body;
        ex.body = body;
        if (route?.injection?.kind !== 'sigv4' || secret === null)
            return;
        const credential = route.credential?.name ?? 'unnamed';
        if (ex.aws === null)
            throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${credential}" holds no AWS keys to sign with`);
        const request = { method: ex.req.method ?? 'GET', scheme: target.scheme, host: target.host, port: target.port, agentAuthorization: ex.req.headers.authorization, hasBody: requestHasBody(ex.req.headers) };
        const resign = await signForwarded(outgoing, request, route.injection, ex.aws, body, credential);
        if (resign !== null && body !== null)
            ex.body = resignBuffer(resign, body);
        else
            ex.resign = resign;
    },
};
//# sourceMappingURL=inject.js.map