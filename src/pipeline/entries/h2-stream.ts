import type { IncomingMessage } from 'node:http'
import type { H2Response } from '../../accept/h2-response.js'
import { isGrpc, refuseStream } from '../../accept/refuse-h2.js'
import { tunnelAuditFields, type Tunnel } from '../../accept/tunnel.js'
import { SidekeyError } from '../../errors.js'
import type { ForwardResult } from '../../forward/forward.js'
import type { H2ServerRequest } from '../../accept/h2-server-request.js'
import { isHttp1Method } from '../../http/h2-request.js'
import { PERCENT_ENCODE } from '../../http/raw-url-bytes.js'
import type { ProxyContext } from '../context.js'
import { newRequestExchange, runStages, type RequestExchange, type Stage } from '../exchange.js'
import { REQUEST_STAGES } from '../stages/index.js'

/** RST_STREAM's code for an answer cut after it began (RFC 9113 section 7). */
const NGHTTP2_INTERNAL_ERROR = 0x2
/** RST_STREAM's code after a complete answer to a request whose body is no longer wanted (RFC 9113 section 8.1). */
const NGHTTP2_NO_ERROR = 0x0

/**
 * After a refusal, a request body still on its way is not wanted: once the answer is out, the
 * stream is reset with NO_ERROR, which RFC 9113 section 8.1 provides for ("the server MAY request
 * that the client abort transmission of a request without error"; the client keeps the answer).
 * Left open, a refused stream's unread DATA held the connection's flow-control window, and every
 * other stream on the connection stalled behind it (found while testing the body budget).
 */
function endUnreadBody(req: H2ServerRequest, res: H2Response): void {
  if (req.complete) return
  const stream = res.stream
  const close = (): void => {
    if (!stream.destroyed) stream.close(NGHTTP2_NO_ERROR)
  }
  if (stream.writableFinished) close()
  else stream.once('finish', close)
}

/**
 * Entry point for one HTTP/2 stream inside an intercepted tunnel or a redirected TLS connection:
 * one request through the same stages as on HTTP/1.1, one audit line per stream (`protocol: "h2"`,
 * and `grpc_status` for a gRPC call), written when the stream closes. A refusal ends this stream
 * only; a gRPC call is refused in gRPC's terms (accept/refuse-h2.ts), whatever the refusal.
 *
 * The server gives the stream as a request and a response with the members the stages use on
 * HTTP/1.1, both over Node's core stream API: the request with its head already read as HTTP/1.1
 * reads it (accept/h2-server-request.ts, http/h2-request.ts), the response written onto the stream
 * (accept/h2-response.ts).
 */
export function serveH2Stream(ctx: ProxyContext, req: H2ServerRequest, res: H2Response, tunnel: Tunnel): Promise<void> {
  const grpc = isGrpc(req.headers['content-type'])
  const result: ForwardResult = { status: 0, bytesUp: 0, bytesDown: 0, firstByteMs: 0 }
  const gone = new AbortController()
  const closed = new Promise<void>((resolve) =>
    res.once('close', () => {
      // A stream closed before its answer was ended was cut (reset, or its connection gone).
      if (!res.writableEnded) gone.abort()
      resolve()
    }),
  )
  const ex = newRequestExchange(req as unknown as IncomingMessage, tunnel, { kind: 'response', res, result }, gone.signal)
  ex.audit.protocol = 'h2'
  // A method no HTTP/1.1 parser would read may be anything the agent wrote, a secret included:
  // it is never put on the audit line (nor, through it, the console or an alert).
  if (req.methodRefused && (req.method === undefined || !isHttp1Method(req.method))) ex.audit.method = null
  const stages = req.methodRefused ? [UNFORWARDED_METHOD, ...REQUEST_STAGES] : req.pathRefused ? [UNFORWARDED_PATH, ...REQUEST_STAGES] : req.authorityConflict ? [TWO_AUTHORITIES, ...REQUEST_STAGES] : REQUEST_STAGES
  const refuse = (err: SidekeyError): void => {
    // Once the upstream's status went out, that is the status the agent saw, and the answer can only be cut.
    if (result.status !== 0 && res.headersSent) ex.audit.status = result.status
    if (res.stream.destroyed) return
    if (res.headersSent) return res.stream.close(NGHTTP2_INTERNAL_ERROR)
    try {
      // A stage that parsed a protocol with its own error shape (an MCP POST: a JSON-RPC error) answers for it.
      if (ex.refusalAnswer !== null && !grpc) {
        ex.audit.status = ex.refusalAnswer(res, err, ex.id, ex.audit.reason)
        return
      }
      const status = refuseStream(res, err, ex.id, ex.audit.reason, grpc)
      if (status !== null) ex.audit.grpc_status = status
      endUnreadBody(req, res)
    } catch (failed) {
      // A refusal that cannot be written ends this stream, never the process (every agent's proxy).
      ctx.log.error({ event: 'refusal_failed', id: ex.id, err: (failed as Error).message }, 'an HTTP/2 refusal could not be written; the stream is reset')
      if (!res.stream.destroyed) res.stream.close(NGHTTP2_INTERNAL_ERROR)
    }
  }
  return runStages(
    ctx,
    ex,
    stages,
    refuse,
    closed.then(() => {
      if (grpc && ex.audit.grpc_status === undefined) {
        const status = result.trailers?.['grpc-status'] ?? res.getHeader('grpc-status')
        if (status !== undefined) ex.audit.grpc_status = Number(status)
      }
    }),
  )
}

/**
 * A stream whose `:method` sidekey does not forward (http/h2-request.ts): one HTTP/1.1 could not
 * carry (lower case, an unknown token), or CONNECT. Refused before it is decided, as Node's parser
 * refuses such a request line on HTTP/1.1; the value is not repeated in the answer.
 */
const UNFORWARDED_METHOD: Stage<RequestExchange> = {
  name: 'accept',
  run(_ctx, ex) {
    auditAsUnparsed(ex)
    if (ex.req.method === 'CONNECT') throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'CONNECT inside an intercepted tunnel is refused: this stream already reaches its destination; send the request itself')
    throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', 'the :method of the HTTP/2 request is not one sidekey forwards: methods are case-sensitive, send a standard method in upper case (GET, POST, PUT, PATCH, DELETE, ...)')
  },
}

/**
 * A stream whose `:path` holds a byte HTTP/1.1's parser refuses raw in a request target (non-ASCII
 * text: http/raw-url-bytes.ts), refused as that parser refuses it, before it is decided. The path is
 * not put on the audit line: it was never read as a path.
 */
const UNFORWARDED_PATH: Stage<RequestExchange> = {
  name: 'accept',
  run(_ctx, ex) {
    auditAsUnparsed(ex)
    throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', `the :path of the HTTP/2 request holds a byte a URL may not carry raw (the UTF-8 of non-ASCII text), which HTTP/1.1 refuses too; ${PERCENT_ENCODE}`)
  },
}

/**
 * Like an HTTP/1.1 request Node's parser refuses (accept/client-error.ts), a stream refused before
 * it is read has an audit line naming the tunnel's destination and caller.
 */
function auditAsUnparsed(ex: RequestExchange): void {
  if (ex.tunnel !== null) Object.assign(ex.audit, tunnelAuditFields(ex.tunnel))
}

/** A stream whose `:authority` and `host` name different destinations: refused before it is decided (rule 2). */
const TWO_AUTHORITIES: Stage<RequestExchange> = {
  name: 'accept',
  run() {
    throw new SidekeyError('SIDEKEY_ERR_HOST_MISMATCH', 'the :authority and host fields of the HTTP/2 request name different destinations')
  },
}
