import type { IncomingMessage, ServerResponse } from 'node:http'
import { parseDuration, type Approvals } from '../approvals/approvals.js'
import { SidekeyError } from '../errors.js'
import type { EventHub } from '../observe/events.js'
import type { ApprovalStore, DecisionHistory } from '../state/store.js'

/**
 * The admin API for approvals and the console's live feed. Every call here needs the admin token
 * (checked by the caller): approval records carry body summaries, and deciding one is the whole
 * point of keeping it from the agent.
 */

/** The paths this module answers, for the admin server's token gate. */
export const APPROVALS_PATHS = /^\/v1\/(approvals(\/[0-9a-f-]{36}(\/(approve|deny))?)?|decisions|events)$/

export interface ApprovalsApiContext {
  readonly approvals: Approvals
  readonly state: ApprovalStore & DecisionHistory
  readonly events: EventHub
}

type Send = (res: ServerResponse, status: number, body: unknown) => void

export async function approvalsApi(ctx: ApprovalsApiContext, method: string, path: string, req: IncomingMessage, res: ServerResponse, send: Send, readJson: (req: IncomingMessage) => Promise<unknown>): Promise<boolean> {
  if (method === 'GET' && path === '/v1/approvals') {
    send(res, 200, { approvals: await ctx.approvals.list() })
    return true
  }
  if (method === 'GET' && path === '/v1/decisions') {
    send(res, 200, { decisions: await ctx.state.recentDecisions() })
    return true
  }
  if (method === 'GET' && path === '/v1/events') {
    streamEvents(ctx, req, res)
    return true
  }
  const one = /^\/v1\/approvals\/([0-9a-f-]{36})$/.exec(path)
  if (method === 'GET' && one) {
    const record = await ctx.state.getApproval(one[1]!)
    if (record === undefined) throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `no approval ${one[1]}`)
    send(res, 200, record)
    return true
  }
  const action = /^\/v1\/approvals\/([0-9a-f-]{36})\/(approve|deny)$/.exec(path)
  if (method === 'POST' && action) {
    const body = (await readJson(req)) as { for?: unknown; note?: unknown; by?: unknown }
    let grantMs: number | undefined
    if (body.for !== undefined && body.for !== null && body.for !== '') {
      const parsed = typeof body.for === 'string' || typeof body.for === 'number' ? parseDuration(String(body.for)) : null
      if (parsed === null) throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', '"for" must be a duration such as 30s, 10m, 2h or 1d (at most 30d)')
      if (action[2] === 'deny') throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', '"for" grants a period and goes with approve, not deny')
      grantMs = parsed
    }
    const by = typeof body.by === 'string' && /^[\w .@:-]{1,64}$/.test(body.by) ? body.by : 'admin'
    const note = typeof body.note === 'string' && body.note !== '' ? body.note : undefined
    const record = await ctx.approvals.decide(action[1]!, action[2] as 'approve' | 'deny', by, { grantMs, note })
    send(res, 200, record)
    return true
  }
  return false
}

/**
 * Server-sent events: `approval` for every approval stored or settled, `decision` for every
 * finished request, and a comment every 15 s so idle proxies keep the stream open.
 */
function streamEvents(ctx: ApprovalsApiContext, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
  res.flushHeaders()
  const write = (event: string, data: unknown): void => {
    // A console that stops reading is dropped rather than buffered without bound.
    if (res.writableLength > 1024 * 1024) {
      res.destroy()
      return
    }
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }
  const onDecision = (d: unknown): void => write('decision', d)
  ctx.events.on('decision', onDecision)
  const unsubscribe = ctx.state.onApproval((a) => write('approval', a))
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
  write('ready', { at: new Date().toISOString() })
  const stop = (): void => {
    clearInterval(ping)
    ctx.events.off('decision', onDecision)
    unsubscribe()
  }
  req.once('close', stop)
  res.once('close', stop)
}
