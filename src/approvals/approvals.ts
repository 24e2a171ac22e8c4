import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { SidekeyError } from '../errors.js'
import type { AlertSender } from '../observe/alerts.js'
import type { ApprovalSettings, Route } from '../policy/types.js'
import type { ApprovalRecord, StateStore } from '../state/store.js'

/**
 * Human approval for high-stakes requests. A request on a route whose `approval` applies is held
 * (its body already buffered) while a record of who, what and where waits in the state store;
 * approvers are told through the log and the approvals webhook, and answer through the admin API,
 * `sidekey approvals` or the web console. No answer before the timeout is a denial; an agent that
 * hangs up cancels its request. An approval can also grant the workload the route for a while.
 */

/** How often a held request re-reads its record from a shared store (pub/sub is the fast path). */
const SHARED_POLL_MS = 2_000

/** Characters of the body shown to approvers. */
const SUMMARY_CHARS = 1024

/** What is known about the request being held. */
export interface HoldRequest {
  readonly workload: string | null
  readonly route: Route
  readonly method: string
  readonly host: string
  readonly port: number
  readonly path: string
  readonly queryKeys: readonly string[]
  readonly body: Buffer | null
  readonly why: string
  /** Aborted when the agent disconnects. */
  readonly signal: AbortSignal
}

/** How a held request went on: asked and approved, or covered by an earlier grant. */
export type HoldOutcome = { readonly via: 'approved'; readonly record: ApprovalRecord } | { readonly via: 'grant'; readonly until: number }

export interface ApprovalsOptions {
  readonly state: StateStore
  readonly log: Logger
  readonly alerts: AlertSender
  readonly settings: () => ApprovalSettings
  readonly now: () => number
  /** Called with a workload each time one of its requests is denied by a person (repeated denials quarantine). */
  readonly onDenied?: (workload: string) => void
  /** Called with the number of requests held in this process whenever it changes (a metric). */
  readonly onHeld?: (held: number) => void
}

export class Approvals {
  readonly #o: ApprovalsOptions
  #pending = 0

  constructor(options: ApprovalsOptions) {
    this.#o = options
  }

  /** Requests held right now in this process. */
  get held(): number {
    return this.#pending
  }

  /**
   * Hold a request until a person decides. Resolves when it may go on; throws a SidekeyError
   * (denied, timed out, cancelled) otherwise.
   */
  async hold(h: HoldRequest): Promise<HoldOutcome> {
    const { state, log, now } = this.#o
    const workload = h.workload ?? 'anonymous'
    let until: number | null
    try {
      until = await state.grantUntil(workload, h.route.name)
    } catch (cause) {
      throw unavailable(log, 'grant', cause)
    }
    if (until !== null) return { via: 'grant', until }
    if (h.signal.aborted) throw cancelled()

    const created = now()
    const record: ApprovalRecord = Object.freeze({
      id: randomUUID(),
      workload: h.workload,
      route: h.route.name,
      method: h.method,
      host: h.host,
      port: h.port,
      path: h.path,
      query_keys: Object.freeze([...h.queryKeys]),
      body_summary: summarize(h.body),
      body_bytes: h.body?.length ?? 0,
      why: h.why,
      created: new Date(created).toISOString(),
      expires: new Date(created + h.route.approval!.timeoutMs).toISOString(),
      status: 'pending',
      decided_by: null,
      decided_at: null,
      grant_until: null,
      note: null,
    })
    this.#pending++
    this.#o.onHeld?.(this.#pending)
    try {
      const { settled, cancel: cancelWait } = this.#waitFor(record, h.route.approval!.timeoutMs, h.signal)
      try {
        await state.putApproval(record)
      } catch (cause) {
        cancelWait()
        throw unavailable(log, record.id, cause)
      }
      log.warn({ event: 'approval_requested', approval: record.id, workload, route: record.route, method: record.method, host: record.host, path: record.path, expires: record.expires }, 'a request waits for approval')
      this.#o.alerts.send({ type: 'approval_requested', approval: record }, this.#o.settings().webhook)
      const final = await settled
      if (final.status === 'approved') return { via: 'approved', record: final }
      if (final.status === 'denied') {
        if (h.workload !== null) this.#o.onDenied?.(h.workload)
        throw new SidekeyError('SIDEKEY_ERR_APPROVAL_DENIED', `approval ${record.id} was denied by ${final.decided_by ?? 'an approver'}${final.note ? `: ${final.note}` : ''}`)
      }
      if (final.status === 'expired') throw new SidekeyError('SIDEKEY_ERR_APPROVAL_TIMEOUT', `approval ${record.id} was not decided within ${h.route.approval!.timeoutMs / 1000} s (no decision means deny)`)
      throw cancelled()
    } finally {
      this.#pending--
      this.#o.onHeld?.(this.#pending)
    }
  }

  /** Subscribe before storing, so a decision made at once is not missed. */
  #waitFor(record: ApprovalRecord, timeoutMs: number, signal: AbortSignal): { settled: Promise<ApprovalRecord>; cancel: () => void } {
    const { state, log } = this.#o
    let cancel = (): void => undefined
    const settled = new Promise<ApprovalRecord>((resolve) => {
      let done = false
      const finish = (final: ApprovalRecord): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        if (poll !== null) clearInterval(poll)
        unsubscribe()
        signal.removeEventListener('abort', onAbort)
        resolve(final)
      }
      // The record was never stored: stop waiting, quietly.
      cancel = () => finish({ ...record, status: 'cancelled' })
      const unsubscribe = state.onApproval((r) => {
        if (r.id === record.id && r.status !== 'pending') finish(r)
      })
      // Ending it ourselves: settle in the store; if someone decided first, theirs stands.
      const end = (status: 'expired' | 'cancelled'): void => {
        state.settleApproval(record.id, { status, decided_by: 'sidekey', decided_at: new Date(this.#o.now()).toISOString(), grant_until: null, note: null }).then(
          async (settled) => finish(settled ?? (await state.getApproval(record.id)) ?? { ...record, status }),
          (err: unknown) => {
            log.error({ event: 'approval_store_failed', approval: record.id, err: (err as Error).message }, 'could not settle an approval; treated as denied')
            finish({ ...record, status })
          },
        )
      }
      const timer = setTimeout(() => end('expired'), timeoutMs)
      // A shared store announces decisions on pub/sub; a message lost during a reconnect must not
      // leave the request waiting until its timeout, so the record is also re-read now and then.
      const poll = !state.shared
        ? null
        : setInterval(() => {
            state.getApproval(record.id).then(
              (r) => {
                if (r !== undefined && r.status !== 'pending') finish(r)
              },
              () => undefined,
            )
          }, SHARED_POLL_MS)
      const onAbort = (): void => end('cancelled')
      signal.addEventListener('abort', onAbort, { once: true })
    })
    return { settled, cancel }
  }

  /**
   * Decide a pending approval (admin API, CLI, console). `grantMs` also lets the workload use the
   * route without asking for that long. Throws NOT_FOUND for an unknown id and CONFLICT when it is
   * no longer pending.
   */
  async decide(id: string, verdict: 'approve' | 'deny', by: string, options: { grantMs?: number; note?: string } = {}): Promise<ApprovalRecord> {
    const { state, log, now } = this.#o
    const current = await state.getApproval(id)
    if (current === undefined) throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `no approval ${id}`)
    const at = now()
    const grantUntil = verdict === 'approve' && options.grantMs !== undefined ? at + options.grantMs : null
    const settled = await state.settleApproval(id, {
      status: verdict === 'approve' ? 'approved' : 'denied',
      decided_by: by,
      decided_at: new Date(at).toISOString(),
      grant_until: grantUntil === null ? null : new Date(grantUntil).toISOString(),
      note: options.note?.slice(0, 200) ?? null,
    })
    if (settled === null) throw new SidekeyError('SIDEKEY_ERR_APPROVAL_SETTLED', `approval ${id} is already ${(await state.getApproval(id))?.status ?? 'gone'}`)
    if (grantUntil !== null) await state.putGrant(current.workload ?? 'anonymous', current.route, grantUntil)
    log.warn({ event: 'approval_decided', approval: id, verdict, by, workload: current.workload, route: current.route, grant_until: settled.grant_until }, `approval ${verdict === 'approve' ? 'approved' : 'denied'}`)
    return settled
  }

  list(): Promise<ApprovalRecord[]> {
    return this.#o.state.listApprovals()
  }
}

/** Fail closed: a request nobody can be asked about is not sent. */
function unavailable(log: Logger, approval: string, cause: unknown): SidekeyError {
  log.error({ event: 'approval_store_failed', approval, err: (cause as Error).message }, 'approvals cannot be stored or read; the request is refused')
  return new SidekeyError('SIDEKEY_ERR_APPROVAL_UNAVAILABLE', 'this request needs approval and approvals cannot be stored right now', { cause })
}

function cancelled(): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_UPSTREAM_RESET', 'the agent closed the connection while its request waited for approval')
}

/** The start of the body as text for approvers; binary bodies are described, not shown. */
function summarize(body: Buffer | null): string | null {
  if (body === null || body.length === 0) return null
  const head = body.subarray(0, SUMMARY_CHARS * 4).toString('utf8')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(head.slice(0, 256))) return `(${body.length} bytes of binary data)`
  return head.length > SUMMARY_CHARS ? `${head.slice(0, SUMMARY_CHARS)}…` : head
}

/** `10m`, `2h`, `30s`, `1d` or plain seconds to milliseconds; null when it is none of those. */
export function parseDuration(text: string): number | null {
  const m = /^([0-9]{1,6})\s*(s|m|h|d)?$/.exec(text.trim())
  if (m === null) return null
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's']
  const ms = Number(m[1]) * unit * 1000
  return ms > 0 && ms <= 30 * 86_400_000 ? ms : null
}
