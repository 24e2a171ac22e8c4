import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { SidekeyError } from '../errors.js'
import { withoutHopByHop } from '../inject/hop-by-hop.js'
import { withoutNames } from '../inject/inject.js'
import type { AlertSender } from '../observe/alerts.js'
import type { ApprovalSettings, Route } from '../policy/types.js'
import type { ApprovalRecord, ApprovalStore, StoreStatus } from '../state/store.js'

/**
 * Human approval for high-stakes requests. A request on a route whose `approval` applies is held
 * (its body already buffered) while a record of who, what and where waits in the state store;
 * approvers are told through the log and the approvals webhook, and answer through the admin API,
 * `sidekey approvals` or the web console. No answer before the timeout is a denial; an agent that
 * hangs up cancels its request. An approval can also grant the workload the route for a while.
 *
 * Approvers see the whole request but its credentials (docs/security.md): a body larger than
 * `approvals.max_body_bytes` is refused rather than held, so nothing is shown cut. Held requests
 * keep their bodies in this process's memory, so how many may wait is capped per workload and in
 * total (item 13); past a cap the request is refused at once, with Retry-After set to when the
 * oldest relevant wait ends at the latest.
 */

/** How often a held request re-reads its record from a shared store (pub/sub is the fast path). */
const SHARED_POLL_MS = 2_000

/**
 * Headers never shown to approvers, besides hop-by-hop ones and the route's injected and stripped
 * headers: the agent's own credentials (a placeholder or a key it holds) are not the approver's
 * business, and the record is stored and sent on.
 */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie']

/** What is known about the request being held. */
export interface HoldRequest {
  readonly workload: string | null
  readonly route: Route
  readonly method: string
  readonly host: string
  readonly port: number
  /** The path, without the query. */
  readonly path: string
  /** The raw query string, without `?`. */
  readonly query: string
  readonly rawHeaders: readonly string[]
  readonly body: Buffer | null
  readonly why: string
  /** Aborted when the agent disconnects. */
  readonly signal: AbortSignal
}

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
  /** Requests held right now in this process: approval id -> its workload and when its wait ends. */
  readonly #held = new Map<string, { workload: string; expiresAt: number }>()

  constructor(options: ApprovalsOptions) {
    this.#o = options
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
    // Checked here and taken below with no await between, so concurrent holds cannot pass a cap together.
    this.#admit(workload, h.body, created)
    const body = shownBody(h.body)
    const record: ApprovalRecord = Object.freeze({
      id: randomUUID(),
      workload: h.workload,
      route: h.route.name,
      method: h.method,
      host: h.host,
      port: h.port,
      path: h.path,
      query: Object.freeze([...new URLSearchParams(h.query)].map((pair) => Object.freeze(pair))),
      headers: shownHeaders(h.rawHeaders, h.route),
      body: body.text,
      body_encoding: body.encoding,
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
    this.#held.set(record.id, { workload, expiresAt: created + h.route.approval!.timeoutMs })
    this.#o.onHeld?.(this.#held.size)
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
      this.#held.delete(record.id)
      this.#o.onHeld?.(this.#held.size)
    }
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
    const mine = [...this.#held.values()].filter((x) => x.workload === workload)
    if (mine.length >= maxHeldPerWorkload) {
      throw new SidekeyError('SIDEKEY_ERR_TOO_MANY_HELD', `workload "${workload}" already has ${mine.length} requests waiting for approval, the most it may (approvals.max_held_per_workload); wait until one is decided before sending another that needs approval`, { retryAfterS: secondsUntilFirst(mine, nowMs) })
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

/** Seconds until the first of `waits` ends (a slot frees by then at the latest); at least 1. */
function secondsUntilFirst(waits: readonly { expiresAt: number }[], nowMs: number): number {
  const first = Math.min(...waits.map((w) => w.expiresAt))
  return Math.max(1, Math.ceil((first - nowMs) / 1000))
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The whole body for approvers: as text when it is UTF-8, else base64 (never a lossy decoding). */
function shownBody(body: Buffer | null): { text: string | null; encoding: 'utf8' | 'base64' | null } {
  if (body === null || body.length === 0) return { text: null, encoding: null }
  try {
    return { text: utf8.decode(body), encoding: 'utf8' }
  } catch {
    return { text: body.toString('base64'), encoding: 'base64' }
  }
}

/** The headers that go upstream, as pairs, without hop-by-hop headers and credentials. */
function shownHeaders(rawHeaders: readonly string[], route: Route): readonly (readonly [string, string])[] {
  const kept = withoutNames(withoutHopByHop(rawHeaders), [...CREDENTIAL_HEADERS, ...route.strip])
  const pairs: (readonly [string, string])[] = []
  for (let i = 0; i < kept.length; i += 2) pairs.push(Object.freeze([kept[i]!.toLowerCase(), kept[i + 1]!] as const))
  return Object.freeze(pairs)
}

/** `10m`, `2h`, `30s`, `1d` or plain seconds to milliseconds; null when it is none of those. */
export function parseDuration(text: string): number | null {
  const m = /^([0-9]{1,6})\s*(s|m|h|d)?$/.exec(text.trim())
  if (m === null) return null
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's']
  const ms = Number(m[1]) * unit * 1000
  return ms > 0 && ms <= 30 * 86_400_000 ? ms : null
}
