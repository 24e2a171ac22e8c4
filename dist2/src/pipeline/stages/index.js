import { acceptConnection, acceptRequest } from './accept.js';
import { decideConnection, decideRequest } from './decide.js';
import { forwardConnection } from './forward-tunnel.js';
import { forwardHttp } from './forward-http.js';
import { relayUpgrade } from './forward-upgrade.js';
import { guardRequest } from './guard.js';
import { guardMcp } from './guard-mcp.js';
import { filterMcpAnswers } from './filter-mcp.js';
import { guardConnectionHead, guardRequestHead } from './guard-head.js';
import { guardResponseStage } from './guard-response.js';
import { identifyConnection, identifyRequest } from './identify.js';
import { injectCredentialStage } from './inject.js';
import { obtainCredential } from './obtain.js';
/** Forward a request up: over a pooled connection, or as an upgrade relayed after its 101. */
const forwardRequest = {
    name: 'forward',
    run: (ctx, ex) => (ex.reply.kind === 'response' ? forwardHttp(ctx, ex) : relayUpgrade(ctx, ex)),
};
/**
 * The request path for one HTTP request, in order. Every entry point that carries requests (the
 * proxy port, an intercepted tunnel, a transparent connection, an upgrade) runs exactly these; the
 * audit stage runs after them (`runStages`), whatever happened. The response guard is planned
 * before forwarding because it runs on the answer as it streams back, and before injecting because
 * what it needs of the request (no Range, Accept-Encoding it can decode) changes the headers a
 * SigV4 route signs.
 */
export const REQUEST_STAGES = [acceptRequest, identifyRequest, guardRequestHead, decideRequest, guardMcp, guardRequest, obtainCredential, guardResponseStage, injectCredentialStage, filterMcpAnswers, forwardRequest];
/**
 * The path for one connection decided on its authority (CONNECT, redirected TLS): nothing is
 * obtained or injected for a connection; a tunnel route relays it blind, anything else hands it
 * over so each request inside runs `REQUEST_STAGES`.
 */
export const CONNECTION_STAGES = [acceptConnection, identifyConnection, guardConnectionHead, decideConnection, forwardConnection];
//# sourceMappingURL=index.js.map