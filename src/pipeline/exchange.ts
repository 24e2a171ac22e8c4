import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Tunnel } from '../accept/tunnel.js'
import type { RequestTarget } from '../accept/target.js'
import type { MethodOverride } from '../accept/method-override.js'
import { asSidekeyError, maskedRefusal } from '../accept/refuse.js'
import type { AwsCredentials } from '../credentials/provider.js'
import { SidekeyError } from '../errors.js'
import type { ForwardResult } from '../forward/forward.js'
import type { CheckedAddress } from '../forward/ssrf.js'
import { NOTHING_TO_GUARD, type GuardResult } from '../guard/request-guard.js'
import type { ResponsePlan } from '../guard/response-guard.js'
import type { AgentResponse } from '../http/agent-response.js'
import type { Caller } from '../identity/identify.js'
import type { ChunkSigning } from '../inject/sigv4-chunked.js'
import type { OutgoingRequest } from '../inject/inject.js'
import { newAuditRecord, type AuditRecord } from '../observe/audit.js'
import type { Authority } from '../policy/host.js'
import type { Decision } from '../policy/decide.js'
import type { McpExchange } from '../mcp/facts.js'
import type { ProxyContext } from './context.js'
import { finishAudit, recordError } from './stages/audit.js'

/**
 * An exchange is one unit the request path decides and audits: an HTTP request (or upgrade), or a
 * connection (a CONNECT tunnel, a redirected TLS connection). Entry points build one and run the
 * stages over it; each stage reads what earlier stages learned from it and adds what it learns.
 */

/** How the answer reaches the agent: an HTTP response, or the socket of an upgrade request. */
export type Reply = { readonly kind: 'response'; readonly res: AgentResponse; readonly result: ForwardResult } | { readonly kind: 'upgrade'; readonly socket: Duplex; readonly head: Buffer }

/**
 * How a refusal is written once a stage knows the request speaks a protocol with its own error
 * shape (an MCP POST: a JSON-RPC error with the request's id); returns the status sent.
 */
export type RefusalAnswer = (res: AgentResponse, err: SidekeyError, requestId: string, reason: string | null) => number

/** One HTTP request (or upgrade request) on its way through the stages. */
export interface RequestExchange {
  readonly id: string
  readonly startedAt: number
  readonly audit: AuditRecord
  readonly req: IncomingMessage
  /** The tunnel (intercepted CONNECT, or transparent connection) it arrived in; null for absolute-form on the proxy port. */
  readonly tunnel: Tunnel | null
  /** The client's TCP connection: what connection limits count. */
  readonly client: Socket
  readonly reply: Reply
  /** Aborted when the agent hangs up: whatever the request waits for (an approval, a credential) is cancelled. */
  readonly signal: AbortSignal
  /** accept: where it is going. */
  target: RequestTarget | null
  /** identify: who is asking. */
  caller: Caller | null
  /** decide: the method an override names, when one does. */
  override: MethodOverride | null
  /** decide: the policy decision (report-only mode applied). */
  decision: Decision | null
  /** guard: what the route's conditions, limits and approval found, and the body when it was read. */
  guarded: GuardResult
  /** guard: the destination address the SSRF guard approved. */
  to: CheckedAddress | null
  /** obtain: the injected secret (kept only to invalidate it if the upstream rejects it). */
  secret: string | null
  /** obtain: AWS keys to sign with, for a SigV4 route. */
  aws: AwsCredentials | null
  /** inject: the request as it goes up. */
  outgoing: OutgoingRequest | null
  /** inject: the body to send instead of the stream (read by the guard, re-signed when chunk-signed). */
  body: Buffer | null
  /** inject: a chunk-signed AWS upload whose chunks are signed again on the way up. */
  resign: ChunkSigning | null
  /** guard mcp: an initialize that names no MCP session, so its answer opens one (filter mcp notes it). */
  opensMcpSession: boolean
  /** guard the response: scrubbing and pin checks on the answer. */
  response: ResponsePlan | null
  /** guard the response: how many echoed secrets were masked. */
  readonly scrubbed: { scrubbed: number }
  /** guard MCP: the parsed JSON-RPC body of a POST on an MCP route. */
  mcp: McpExchange | null
  /** Any stage: how refusals are written from now on; null for sidekey's own JSON refusal (accept/refuse.ts). */
  refusalAnswer: RefusalAnswer | null
}

/** One connection (CONNECT or redirected TLS) decided on its authority. */
export interface ConnectionExchange {
  readonly id: string
  readonly startedAt: number
  readonly audit: AuditRecord
  readonly socket: Socket
  /** Bytes the client sent already: after the CONNECT head, or the redirected ClientHello. */
  readonly head: Buffer
  /** What the agent sent that names the destination (the CONNECT target and its headers, or the SNI). */
  readonly sent: { readonly target: string; readonly rawHeaders: readonly string[] }
  /** The destination, or null when what was sent names none. */
  readonly authority: Authority | null
  /** The refusal's message when `authority` is null: what the client should have sent. */
  readonly unnamed: string
  /** Who opens it: read from the request (CONNECT) or the sidecar's own workload (transparent). */
  readonly identifyCaller: () => Caller
  /**
   * True when refusals about this connection can only be said inside it (redirected TLS: nothing
   * readable goes out before the handshake): a denied destination, a refused caller or a full
   * connection limit is then intercepted anyway, and each request inside gets the refusal.
   */
  readonly refusalsInside: boolean
  /** Tell the client the tunnel is open (CONNECT's 200), or null when nothing is said. */
  readonly established: (() => void) | null
  /** Hand the connection to the inner HTTP server, where each request inside is decided on its own. */
  readonly handOver: HandOver
  caller: Caller | null
  decision: Decision | null
}

/** How an entry point hands an intercepted connection over (accept/ does it, with its inner server). */
export type HandOver = (socket: Socket, head: Buffer, tunnel: Tunnel, onFailure: (code: string, why: string, detail: string, level: 'debug' | 'error') => void) => void

/** A stage of the request path, run in order over an exchange. */
export interface Stage<E> {
  readonly name: string
  run(ctx: ProxyContext, ex: E): void | Promise<void>
}

/** A request exchange with nothing known yet but what arrived. */
export function newRequestExchange(req: IncomingMessage, tunnel: Tunnel | null, reply: Reply, signal: AbortSignal): RequestExchange {
  const id = randomUUID()
  const audit = newAuditRecord(reply.kind === 'upgrade' ? 'upgrade' : 'request', id, tunnel?.id ?? null)
  audit.method = req.method ?? null
  return {
    id,
    startedAt: performance.now(),
    audit,
    req,
    tunnel,
    client: tunnel?.client ?? (req.socket as Socket),
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
    opensMcpSession: false,
    response: null,
    scrubbed: { scrubbed: 0 },
    mcp: null,
    refusalAnswer: null,
  }
}

/** A connection exchange: its audit record is that of a tunnel. */
export function newConnectionExchange(fields: Omit<ConnectionExchange, 'id' | 'startedAt' | 'audit' | 'caller' | 'decision'>, method: string): ConnectionExchange {
  const id = randomUUID()
  const audit = newAuditRecord('tunnel', id)
  audit.method = method
  return { ...fields, id, startedAt: performance.now(), audit, caller: null, decision: null }
}

/** What an earlier stage must have set; its absence is sidekey's own bug, refused as internal. */
export function known<T>(value: T | null, what: string): T {
  if (value === null) throw new SidekeyError('SIDEKEY_ERR_INTERNAL', `the request path reached a stage without ${what}`)
  return value
}

/**
 * Run `stages` in order over `ex`. A refusal at any stage is recorded on the audit line (with
 * everything known by then) and answered by `refuse`; the line is written once the exchange has
 * settled (`settled`: when the client's socket closes, for tunnels and upgrades), so it holds the
 * final status, bytes and error.
 */
export async function runStages<E extends { readonly id: string; readonly audit: AuditRecord; readonly startedAt: number }>(
  ctx: ProxyContext,
  ex: E,
  stages: readonly Stage<E>[],
  refuse: (err: SidekeyError) => void,
  settled: Promise<void> | null,
): Promise<void> {
  try {
    for (const stage of stages) {
      // Most stages are synchronous: awaiting only what returns a promise keeps a request from
      // paying a microtask turn per stage.
      const pending = stage.run(ctx, ex)
      if (pending !== undefined) await pending
    }
  } catch (err) {
    const e = asSidekeyError(err)
    recordError(ex.audit, e)
    if (e.code === 'SIDEKEY_ERR_INTERNAL') ctx.log.error({ event: 'internal_error', id: ex.id, err: (err as Error).stack }, 'internal error')
    refuse(maskedRefusal(e, (text) => ctx.scanner.mask(text)))
  } finally {
    if (settled !== null) await settled
    finishAudit(ctx, ex.audit, ex.startedAt)
  }
}
