import { readFile, rename, writeFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import type { Throttle } from '../guard/throttle.js'
import type { PolicyStore } from '../policy/store.js'
import type { BaselineStore, QuarantineStore, SharedValues, StoreStatus } from '../state/store.js'
import type { AlertSender } from './alerts.js'
import type { AuditRecord } from './audit.js'
import { Baseline, type Anomaly, type BaselineState } from './baseline.js'
import type { Metrics } from './metrics.js'
import { outcomeOf, type Outcome } from './outcome.js'

/** How often baselines are written to disk (and at shutdown). */
const SAVE_EVERY_MS = 30_000
/** How often this replica merges what it observed into a shared store's baselines. */
export const BASELINE_SYNC_MS = 2_000

/** The shared value that holds the fleet's throttles (a shared store only). */
const THROTTLES = 'throttles'

/** One throttle as the fleet shares it. */
interface SharedThrottle {
  readonly rps: number
  readonly burst: number
  /** Epoch ms. */
  readonly until: number
}

/** What the monitor needs. `now` is replaceable so tests can drive hours of traffic quickly. */
export interface MonitorDeps {
  readonly policy: PolicyStore
  /** Quarantines, and baselines merged through it when it is shared. */
  readonly state: QuarantineStore & BaselineStore & Pick<SharedValues, 'getBlob' | 'casBlob'> & Pick<StoreStatus, 'shared'>
  readonly throttle: Throttle
  readonly metrics: Metrics
  readonly alerts: AlertSender
  readonly log: Logger
  /** File the baselines persist to, or null to keep them in memory only. */
  readonly file: string | null
  readonly now?: () => number
  /** Told of each anomaly raised (and each secret detected), for the console's charts. */
  readonly onAnomaly?: (workload: string, kind: string) => void
}

/**
 * Continuous monitoring with automated response. Every finished request (its audit line) feeds
 * the workload's baseline; each anomaly becomes one structured security event in the log, a
 * metric, a webhook alert, and the response policy names for its kind: alert only, throttle the
 * workload, or quarantine it until an admin releases it.
 */
export class Monitor {
  readonly #baselines = new Map<string, Baseline>()
  readonly #now: () => number
  #timer: NodeJS.Timeout | null = null
  #dirty = false
  /** Throttles this replica holds because the fleet's shared list says so (a shared store only). */
  readonly #shared = new Set<string>()

  constructor(private readonly deps: MonitorDeps) {
    this.#now = deps.now ?? Date.now
  }

  /**
   * Load persisted baselines and start saving them periodically: to the file, or, with a shared
   * store, merged with every other replica's every couple of seconds (one baseline per workload
   * for the whole fleet, not one per pod).
   */
  async start(): Promise<void> {
    if (this.deps.state.shared) {
      try {
        for (const [workload, state] of Object.entries(await this.deps.state.loadBaselines())) this.#baselines.set(workload, new Baseline(workload, state))
      } catch (err) {
        this.deps.log.warn({ event: 'baselines_unreadable', err: (err as Error).message }, 'shared baselines unreadable; they are merged once the store answers')
      }
      this.#timer = setInterval(() => void this.sync(), BASELINE_SYNC_MS)
      this.#timer.unref()
    } else if (this.deps.file !== null) {
      try {
        const saved = JSON.parse(await readFile(this.deps.file, 'utf8')) as Record<string, BaselineState>
        for (const [workload, state] of Object.entries(saved)) this.#baselines.set(workload, new Baseline(workload, state))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.deps.log.warn({ event: 'baselines_unreadable', err: (err as Error).message }, 'baselines file unreadable; learning again')
      }
      this.#timer = setInterval(() => void this.save(), SAVE_EVERY_MS)
      this.#timer.unref()
    }
    this.deps.metrics.quarantined.set(this.deps.state.listQuarantined().length)
  }

  /** Feed one finished request, tunnel or upgrade. Never throws, never waits. */
  observe(a: AuditRecord, outcome: Outcome = outcomeOf(a)): void {
    this.deps.metrics.observe(a, outcome)
    // Needs no baseline: an agent sending a secret it should never have held is quarantined now.
    if (a.error === 'SIDEKEY_ERR_SECRET_DETECTED') {
      const workload = a.workload ?? 'anonymous'
      this.deps.metrics.anomalies.inc({ workload, kind: 'secret-detected' })
      this.deps.onAnomaly?.(workload, 'secret-detected')
      const event = { event: 'security_event', type: 'secret_detected', workload, host: a.host, port: a.port, path: a.path, request: a.id }
      this.deps.log.warn(event, `outbound secret detected from workload ${workload}`)
      this.deps.alerts.send(event, this.deps.policy.current.monitoring.webhook)
      void this.quarantine(workload, 'outbound secret detected', 'secret-detection')
      return
    }
    // A CONNECT that was intercepted is counted through the requests inside it.
    if (a.event === 'tunnel' && a.decision === 'intercept') return
    // Refusals by the guards themselves are not behaviour to learn from.
    if (a.reason === 'quarantined' || a.reason === 'throttled' || a.reason === 'invalid-run-token') return
    if (a.host === null) return
    const workload = a.workload ?? 'anonymous'
    const at = this.#now()
    let baseline = this.#baselines.get(workload)
    if (baseline === undefined) {
      baseline = new Baseline(workload, undefined, at)
      this.#baselines.set(workload, baseline)
    }
    const settings = this.deps.policy.current.monitoring
    const anomalies = baseline.observe(
      { at, destination: `${a.host}:${a.port}${a.route ? ` (${a.route})` : ''}`, denied: a.decision === 'deny', bytesUp: a.bytes_up + (a.head_bytes_up ?? 0), ...(a.mcp_tool === undefined ? {} : { tool: `${a.route} ${a.mcp_tool}` }), ...(a.mcp_tools === undefined ? {} : { tools: a.mcp_tools.map((tool) => `${a.route} ${tool}`) }) },
      settings.windowMs,
      settings.learningMs,
      settings.thresholds,
    )
    this.#dirty = true
    for (const anomaly of anomalies) void this.#respond(anomaly)
  }

  async #respond(anomaly: Anomaly): Promise<void> {
    const settings = this.deps.policy.current.monitoring
    const response = settings.responses[anomaly.kind]
    const event = { event: 'security_event', type: 'anomaly', ...anomaly, response }
    this.deps.log.warn(event, `anomaly: ${anomaly.kind} for workload ${anomaly.workload}`)
    this.deps.metrics.anomalies.inc({ workload: anomaly.workload, kind: anomaly.kind })
    this.deps.onAnomaly?.(anomaly.workload, anomaly.kind)
    // Anomalies are what an agent can raise by the thousand: low priority, bounded per workload and kind.
    this.deps.alerts.send(event, settings.webhook, 'low', `${anomaly.workload}\0${anomaly.kind}`)
    if (response === 'throttle') {
      await this.throttle(anomaly.workload)
    } else if (response === 'quarantine') {
      await this.quarantine(anomaly.workload, `anomaly: ${anomaly.kind}`, `anomaly:${anomaly.kind}`)
    }
  }

  /**
   * Quarantine a workload now: every request it makes is refused (403 quarantined) until an admin
   * releases it. Also the entry point for events that need no baseline.
   */
  async quarantine(workload: string, reason: string, by: string): Promise<void> {
    if (this.deps.state.quarantined(workload) !== undefined) return
    await this.deps.state.quarantine({ workload, reason, by, since: new Date(this.#now()).toISOString() })
    const event = { event: 'security_event', type: 'quarantine', workload, reason, by }
    this.deps.log.warn(event, `workload ${workload} quarantined`)
    this.deps.alerts.send(event, this.deps.policy.current.monitoring.webhook)
  }

  /**
   * Throttle a workload for the policy's `monitoring.throttle` duration, here and, with a shared
   * store, on every replica: the anomaly is raised once for the fleet, and an agent whose requests
   * reach several replicas was throttled on one only (found by a red-team run). Others take it up
   * at their next sync (BASELINE_SYNC_MS); while the store is down it holds here only.
   */
  async throttle(workload: string): Promise<void> {
    const settings = this.deps.policy.current.monitoring.throttle
    const entry: SharedThrottle = { rps: settings.rps, burst: settings.burst, until: this.#now() + settings.durationMs }
    this.deps.throttle.limit(workload, entry.rps, entry.burst, entry.until)
    this.deps.metrics.throttled.set(this.deps.throttle.list().length)
    if (!this.deps.state.shared) return
    if (await this.#updateThrottles((all) => (all[workload] = entry))) this.#shared.add(workload)
  }

  /** Change the fleet's throttle list (compare and set, a few tries); false when the store would not take it. */
  async #updateThrottles(change: (all: Record<string, SharedThrottle>) => void): Promise<boolean> {
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        const raw = await this.deps.state.getBlob(THROTTLES)
        const all = this.#liveThrottles(raw)
        change(all)
        if (await this.deps.state.casBlob(THROTTLES, raw, JSON.stringify(all))) return true
      }
    } catch (err) {
      this.deps.log.warn({ event: 'throttle_unshared', err: (err as Error).message }, 'the throttle list could not be shared; it holds on this replica')
    }
    return false
  }

  /** The unexpired entries of the fleet's throttle list as stored (`raw`); a list that does not parse is empty. */
  #liveThrottles(raw: string | null): Record<string, SharedThrottle> {
    const live = Object.create(null) as Record<string, SharedThrottle>
    let parsed: unknown = null
    try {
      parsed = raw === null ? null : JSON.parse(raw)
    } catch {
      parsed = null
    }
    if (typeof parsed !== 'object' || parsed === null) return live
    const now = this.#now()
    for (const [workload, e] of Object.entries(parsed as Record<string, Partial<SharedThrottle>>)) {
      if (typeof e?.rps === 'number' && typeof e.burst === 'number' && typeof e.until === 'number' && e.until > now) live[workload] = { rps: e.rps, burst: e.burst, until: e.until }
    }
    return live
  }

  /** Take up the fleet's throttles, and drop those released elsewhere. */
  async #syncThrottles(): Promise<void> {
    const all = this.#liveThrottles(await this.deps.state.getBlob(THROTTLES))
    const held = new Map(this.deps.throttle.list().map((x) => [x.workload, Date.parse(x.until)]))
    for (const [workload, e] of Object.entries(all)) {
      if (held.get(workload) !== e.until) this.deps.throttle.limit(workload, e.rps, e.burst, e.until)
      this.#shared.add(workload)
    }
    for (const workload of this.#shared) {
      if (all[workload] !== undefined) continue
      this.#shared.delete(workload)
      this.deps.throttle.release(workload)
    }
    this.deps.metrics.throttled.set(this.deps.throttle.list().length)
  }

  /** Lift a quarantine and any throttle (everywhere, with a shared store). */
  async release(workload: string, by: string): Promise<boolean> {
    const released = await this.deps.state.release(workload)
    let unthrottled = this.deps.throttle.release(workload)
    if (this.deps.state.shared) {
      let listed = false
      await this.#updateThrottles((all) => {
        listed = all[workload] !== undefined
        delete all[workload]
      })
      this.#shared.delete(workload)
      unthrottled ||= listed
    }
    this.deps.metrics.throttled.set(this.deps.throttle.list().length)
    if (released || unthrottled) this.deps.log.info({ event: 'security_event', type: 'release', workload, by }, `workload ${workload} released`)
    return released || unthrottled
  }

  /** Workloads with their state, for the admin API and the CLI. */
  workloads(): { workload: string; learning: boolean; requests: number; destinations: number; quarantined: unknown; throttled: unknown }[] {
    const settings = this.deps.policy.current.monitoring
    const at = this.#now()
    const names = new Set([...this.#baselines.keys(), ...this.deps.state.listQuarantined().map((q) => q.workload)])
    return [...names].sort().map((workload) => {
      const b = this.#baselines.get(workload)
      return {
        workload,
        learning: b?.learning(at, settings.learningMs) ?? true,
        requests: b?.state.requests ?? 0,
        destinations: b?.state.destinations.length ?? 0,
        quarantined: this.deps.state.quarantined(workload) ?? null,
        throttled: this.deps.throttle.list().find((x) => x.workload === workload) ?? null,
      }
    })
  }

  /**
   * Merge what this replica observed into the shared baselines and take the merged ones. While the
   * store is down, observations count here only (those of the failed merge are not retried).
   */
  async sync(): Promise<void> {
    const windowMs = this.deps.policy.current.monitoring.windowMs
    try {
      const stored = await this.deps.state.loadBaselines()
      for (const [workload, baseline] of this.#baselines) {
        const delta = baseline.takeDelta()
        if (delta !== null) baseline.adopt(await this.deps.state.mergeBaseline(workload, delta, windowMs), windowMs)
        else if (stored[workload] !== undefined) baseline.adopt(stored[workload], windowMs)
      }
      // Workloads only other replicas have seen so far.
      for (const [workload, state] of Object.entries(stored)) if (!this.#baselines.has(workload)) this.#baselines.set(workload, new Baseline(workload, state))
      await this.#syncThrottles()
    } catch {
      // The store logs its outage and counts the error; the next sync tries again.
    }
  }

  /** Write baselines to disk (atomically: a temporary file renamed over the old one). */
  async save(): Promise<void> {
    if (this.deps.file === null || !this.#dirty) return
    this.#dirty = false
    const data = Object.fromEntries([...this.#baselines].map(([w, b]) => [w, b.state]))
    const tmp = `${this.deps.file}.${process.pid}.tmp`
    try {
      await writeFile(tmp, JSON.stringify(data), { mode: 0o600 })
      await rename(tmp, this.deps.file)
    } catch (err) {
      this.deps.log.warn({ event: 'baselines_save_failed', err: (err as Error).message }, 'cannot save baselines')
    }
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.deps.alerts.stop()
    if (this.deps.state.shared) await this.sync()
    else await this.save()
  }
}
