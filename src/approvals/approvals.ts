import type { Logger } from 'pino'
import { agentGone, SidekeyError } from '../errors.js'
import type { AlertSender } from '../observe/alerts.js'
import type { ApprovalRule, ApprovalSettings } from '../policy/types.js'
import type { ApprovalRecord, ApprovalStore, StoreStatus } from '../state/store.js'
import { DENIAL_WINDOW_MS } from './denial-quarantine.js'
import { grantScope, newApprovalRecord, type HoldRequest } from './record.js'
import { requestHash } from './request-hash.js'

/**
 * Human approval for high-stakes requests. A request on a route whose `approval` applies is held
 * (its body already buffered) while a record of who, what and where waits in the state store;
 * approvers are told through the log and the approvals webhook, and answer through the admin API,
 * `sidekey approvals` or the web console. No answer before the timeout is a denial; an agent that
 * hangs up cancels its request. An approval can also grant the workload the route for a while.
 * On a route with `approval.mode: async` nothing is held: the agent is answered at once and sends
 * the identical request again, which goes through once a person approved it (`#ask`).
 *
 * Approvers see the whole request but its credentials (docs/security.md): a body larger than
 * `approvals.max_body_bytes` is refused rather than held, so nothing is shown cut. Held requests
 * keep their bodies in this process's memory, so how many may wait is capped per workload and in
 * total (item 13); past a cap the request is refused at once, with Retry-After set to when the
 * oldest relevant wait ends at the latest.
 */

/**
 * What an asynchronous approval allows: the stricter of the terms it was asked under (in its
 * record) and the route's in force. A reload after the decision never stretches it (found by a
 * red-team run: a one-time approval became ten minutes of use once the policy said so), and one
 * that tightens the route applies at once. Records from before the terms were stored take the
 * route's.
 */
function termsOf(record: ApprovalRecord, rule: ApprovalRule): { approvedForMs: number | null; timeoutMs: number } {
  const askedTimeoutMs = Date.parse(record.expires) - Date.parse(record.created)
  const timeoutMs = Number.isFinite(askedTimeoutMs) && askedTimeoutMs > 0 ? Math.min(askedTimeoutMs, rule.timeoutMs) : rule.timeoutMs
  const asked = record.approved_for_ms === undefined ? rule.approvedForMs : record.approved_for_ms
  const approvedForMs = asked === null || rule.approvedForMs === null ? null : Math.min(asked, rule.approvedForMs)
  return { approvedForMs, timeoutMs }
}

/** How often a held request re-reads its record from a shared store (pub/sub is the fast path). */
const SHARED_POLL_MS = 2_000

/** How a held request went on: asked and approved, or covered by an earlier grant. */
export type HoldOutcome = { readonly via: 'approved'; readonly record: ApprovalRecord } | { readonly via: 'grant'; readonly until: number }

export interface ApprovalsOptions {
  /** Where held requests wait; a shared store's records are also re-read, in case an announcement was missed. */
  readonly state: ApprovalStore & Pick<StoreStatus, 'shared'>
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
  /**
   * Requests waiting for a decision in this process: approval id -> its workload and when its wait
   * ends. Held requests (their bodies in memory) and asynchronous approvals asked from here (their
   * bodies in the store) count alike toward the caps.
   */
  readonly #held = new Map<string, { workload: string; expiresAt: number; async: boolean }>()
  /**
   * Held requests their agent hung up on, until they would have expired: they still count toward
   * their workload's cap. Otherwise an agent that holds and hangs up, over and over, puts a new
   * request before the approvers (and a notification out) each time without limit (found by a
   * red-team run: 250 in 4 s), pushing real decisions out of the history.
   */
  readonly #abandoned = new Map<string, { workload: string; expiresAt: number }>()
  /** Asynchronous approvals asked from here: the timer that expires each one undecided. */
  readonly #expiry = new Map<string, NodeJS.Timeout>()
  readonly #unsubscribe: () => void

  constructor(options: ApprovalsOptions) {
    this.#o = options
    this.#unsubscribe = options.state.onApproval((r) => {
      if (r.status !== 'pending') this.#asyncSettled(r)
    })
  }

  /**
   * Hold a request until a person decides. Resolves when it may go on; throws a SidekeyError
   * (denied, timed out, cancelled) otherwise. On an `async` route it never waits: see `#ask`.
   */
  async hold(h: HoldRequest): Promise<HoldOutcome> {
    const { state, log, now } = this.#o
    const workload = h.workload ?? 'anonymous'
    let until: number | null
    try {
      until = await state.grantUntil(workload, grantScope(h.route))
    } catch (cause) {
      throw unavailable(log, 'grant', cause)
    }
    if (until !== null) return { via: 'grant', until }
    if (h.signal.aborted) throw cancelled()
    if (h.route.approval!.mode === 'async') return this.#ask(h, workload)

    const created = now()
    // Checked here and taken below with no await between, so concurrent holds cannot pass a cap together.
    this.#admit(workload, h.body, created)
    const record = newApprovalRecord(h, created, 'wait')
    this.#held.set(record.id, { workload, expiresAt: created + h.route.approval!.timeoutMs, async: false })
    this.#o.onHeld?.(this.#held.size)
    try {
      const { settled, cancel: cancelWait } = this.#waitFor(record, h.route.approval!.timeoutMs, h.signal)
      try {
        await state.putApproval(record)
      } catch (cause) {
        cancelWait()
        throw unavailable(log, record.id, cause)
      }
      this.#announce(record, 'a request waits for approval')
      const final = await settled
      if (final.status === 'approved') return { via: 'approved', record: final }
      if (final.status === 'denied') {
        if (h.workload !== null) this.#o.onDenied?.(h.workload)
        throw denied(final, false)
      }
      if (final.status === 'expired') throw new SidekeyError('SIDEKEY_ERR_APPROVAL_TIMEOUT', `approval ${record.id} was not decided within ${h.route.approval!.timeoutMs / 1000} s (no decision means deny)`)
      this.#abandoned.set(record.id, this.#held.get(record.id)!)
      throw cancelled()
    } finally {
      this.#held.delete(record.id)
      this.#o.onHeld?.(this.#held.size)
    }
  }

  /**
   * Asynchronous approval: the agent is never kept waiting (a client's read timeout, httpx's 5 s,
   * would cancel a held request before anyone could act). The first request is answered at once
   * with APPROVAL_PENDING and an approval bound to its hash; the identical request sent again
   * finds that approval and goes on once it is approved, is refused while it waits or once denied,
   * and asks anew when the approval expired, was used up, or is gone.
   */
  async #ask(h: HoldRequest, workload: string): Promise<HoldOutcome> {
    const { state, log, now } = this.#o
    const rule = h.route.approval!
    const hash = requestHash(h)
    let known: ApprovalRecord | undefined
    try {
      const id = await state.boundApproval(hash)
      known = id === null ? undefined : await state.getApproval(id)
      const answer = known === undefined ? null : await this.#answer(known, rule)
      if (answer !== null) return answer
    } catch (cause) {
      if (cause instanceof SidekeyError) throw cause
      throw unavailable(log, 'request', cause)
    }

    const created = now()
    this.#admit(workload, h.body, created)
    const record = newApprovalRecord(h, created, 'async')
    this.#held.set(record.id, { workload, expiresAt: created + rule.timeoutMs, async: true })
    this.#o.onHeld?.(this.#held.size)
    try {
      await state.putApproval(record)
    } catch (cause) {
      this.#held.delete(record.id)
      this.#o.onHeld?.(this.#held.size)
      throw unavailable(log, record.id, cause)
    }
    // Settled in the store after its timeout even though nobody waits, so approvers see it lapse.
    const timer = setTimeout(() => void this.#expire(record.id), rule.timeoutMs)
    timer.unref()
    this.#expiry.set(record.id, timer)
    try {
      // Bound for as long as any answer to a retry can depend on it: the wait, then the longest of
      // an approval's use, a one-time approval's window and a denial's memory.
      await state.bindRequest(hash, record.id, rule.timeoutMs + Math.max(rule.approvedForMs ?? 0, rule.timeoutMs, DENIAL_WINDOW_MS))
    } catch (cause) {
      // A record no retry can find is no question to put to anyone: end it now.
      void this.#expire(record.id)
      throw unavailable(log, record.id, cause)
    }
    this.#announce(record, 'a request is answered "pending" until a person approves it')
    throw pending(record, rule, known)
  }

  /**
   * What a retry of an asked request gets from its approval: a pass (approved, within its use),
   * a refusal (pending, or denied within the denial's memory), or null to ask anew.
   */
  async #answer(known: ApprovalRecord, rule: ApprovalRule): Promise<HoldOutcome | null> {
    const nowMs = this.#o.now()
    const decidedAt = known.decided_at === null ? 0 : Date.parse(known.decided_at)
    switch (known.status) {
      case 'pending':
        if (Date.parse(known.expires) > nowMs) throw pending(known, rule)
        // Its process is gone or its timer late: end it here, then ask anew.
        await this.#expire(known.id)
        return null
      case 'approved': {
        const { approvedForMs, timeoutMs } = termsOf(known, rule)
        if (approvedForMs !== null) return decidedAt + approvedForMs > nowMs ? { via: 'approved', record: known } : null
        if (decidedAt + timeoutMs <= nowMs) return null
        return (await this.#o.state.claimOnce(known.id, timeoutMs)) ? { via: 'approved', record: known } : null
      }
      case 'denied':
        if (decidedAt + DENIAL_WINDOW_MS > nowMs) throw denied(known, true)
        return null
      default:
        return null
    }
  }

  /** Settle `id` in the store as sidekey's own ending (no person decided it); a decision made first stands. */
  #settleAsSidekey(id: string, status: 'expired' | 'cancelled'): ReturnType<ApprovalStore['settleApproval']> {
    return this.#o.state.settleApproval(id, { status, decided_by: 'sidekey', decided_at: new Date(this.#o.now()).toISOString(), grant_until: null, note: null })
  }

  /** End an asynchronous approval nobody decided in time; a decision made first stands. */
  async #expire(id: string): Promise<void> {
    try {
      await this.#settleAsSidekey(id, 'expired')
    } catch (err) {
      this.#o.log.error({ event: 'approval_store_failed', approval: id, err: (err as Error).message }, 'could not expire an asynchronous approval')
    }
  }

  /** An asynchronous approval asked from here was settled (here or on another replica). */
  #asyncSettled(r: ApprovalRecord): void {
    const mine = this.#held.get(r.id)
    if (mine === undefined || !mine.async) return
    clearTimeout(this.#expiry.get(r.id))
    this.#expiry.delete(r.id)
    this.#held.delete(r.id)
    this.#o.onHeld?.(this.#held.size)
    if (r.status === 'denied' && r.workload !== null) this.#o.onDenied?.(r.workload)
  }

  /** Tell approvers: the log, and the approvals webhook when one is set. */
  #announce(record: ApprovalRecord, message: string): void {
    this.#o.log.warn({ event: 'approval_requested', approval: record.id, mode: record.mode ?? 'wait', workload: record.workload ?? 'anonymous', route: record.route, method: record.method, host: record.host, path: record.path, expires: record.expires }, message)
    this.#o.alerts.send({ type: 'approval_requested', approval: record }, this.#o.settings().webhook)
  }

  /** Stop expiring asynchronous approvals and listening to the store (sidekey is closing). */
  close(): void {
    this.#unsubscribe()
    for (const timer of this.#expiry.values()) clearTimeout(timer)
    this.#expiry.clear()
  }

  /**
   * Refuse to hold what approvers could not be shown whole, or what would pass a cap on held
   * requests (per workload first, so one agent filling its share is told it is its own doing).
   */
  #admit(workload: string, body: Buffer | null, nowMs: number): void {
    const { maxBodyBytes, maxHeldPerWorkload, maxHeld } = this.#o.settings()
    const bytes = body?.length ?? 0
    if (bytes > maxBodyBytes) {
      throw new SidekeyError('SIDEKEY_ERR_APPROVAL_BODY_TOO_LARGE', `this request needs approval, and its body (${bytes} bytes) is larger than the ${maxBodyBytes} bytes approvers are shown whole (approvals.max_body_bytes), so it is not held. Send a smaller body, or ask an admin to raise the limit`)
    }
    for (const [id, a] of this.#abandoned) if (a.expiresAt <= nowMs) this.#abandoned.delete(id)
    const mine = [...this.#held.values(), ...this.#abandoned.values()].filter((x) => x.workload === workload)
    if (mine.length >= maxHeldPerWorkload) {
      throw new SidekeyError('SIDEKEY_ERR_TOO_MANY_HELD', `workload "${workload}" already has ${mine.length} requests waiting for approval or hung up on before they were decided, the most it may (approvals.max_held_per_workload); wait until one is decided (or would have timed out) before sending another that needs approval`, { retryAfterS: secondsUntilFirst(mine, nowMs) })
    }
    if (this.#held.size >= maxHeld) {
      throw new SidekeyError('SIDEKEY_ERR_APPROVALS_FULL', `${this.#held.size} requests already wait for approval here, the most sidekey holds at once (approvals.max_held); try again later`, { retryAfterS: secondsUntilFirst([...this.#held.values()], nowMs) })
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
        this.#settleAsSidekey(record.id, status).then(
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
    if (grantUntil !== null) await state.putGrant(current.workload ?? 'anonymous', current.grant_scope ?? current.route, grantUntil)
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

/**
 * The answer to a request that waits for a person asynchronously, written for an LLM that reads
 * only this: what happened (nothing was sent), what to do (send the same request again, when),
 * and what would not help (changing it asks again).
 */
function pending(record: ApprovalRecord, rule: ApprovalRule, lapsed?: ApprovalRecord): SidekeyError {
  const use = rule.approvedForMs === null ? 'once' : `as often as it is sent for ${rule.approvedForMs / 1000} s`
  const before = lapsed?.status === 'expired' ? ` (approval ${lapsed.id} for it expired undecided)` : ''
  return new SidekeyError(
    'SIDEKEY_ERR_APPROVAL_PENDING',
    `a person must approve this request before sidekey sends it; nothing was sent${before}. Approval ${record.id} (route "${record.route}": ${record.why}) is pending until ${record.expires}. Send the identical request again in ${rule.retryAfterS} s: once approved it goes through (${use}); a changed method, URL or body asks again`,
    { retryAfterS: rule.retryAfterS, details: { approval_id: record.id, approval_expires: record.expires } },
  )
}

/** A person's denial; `again` when this is a retry of a request already denied. */
function denied(record: ApprovalRecord, again: boolean): SidekeyError {
  const by = `${record.decided_by ?? 'an approver'}${record.note ? `: ${record.note}` : ''}`
  const message = again ? `a person denied this request (approval ${record.id}, by ${by}); sending it again will not change that` : `approval ${record.id} was denied by ${by}`
  return new SidekeyError('SIDEKEY_ERR_APPROVAL_DENIED', message, { details: { approval_id: record.id } })
}

/** The agent hung up while its request was held: the approval is cancelled, nothing is sent. */
function cancelled(): SidekeyError {
  return agentGone('the agent closed the connection while its request waited for approval; nothing was sent')
}

/** Seconds until the first of `waits` ends (a slot frees by then at the latest); at least 1. */
function secondsUntilFirst(waits: readonly { expiresAt: number }[], nowMs: number): number {
  const first = Math.min(...waits.map((w) => w.expiresAt))
  return Math.max(1, Math.ceil((first - nowMs) / 1000))
}

/** `10m`, `2h`, `30s`, `1d` or plain seconds to milliseconds; null when it is none of those. */
export function parseDuration(text: string): number | null {
  const m = /^([0-9]{1,6})\s*(s|m|h|d)?$/.exec(text.trim())
  if (m === null) return null
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's']
  const ms = Number(m[1]) * unit * 1000
  return ms > 0 && ms <= 30 * 86_400_000 ? ms : null
}
