import { randomUUID } from 'node:crypto'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import { SidekeyError } from '../errors.js'
import { applyDelta, type BaselineDelta, type BaselineState } from '../observe/baseline.js'
import type { RedisSettings } from './config.js'
import { SLIDING_WINDOW_LUA, type CountResult } from './counters.js'
import { settledRecord, type ApprovalRecord, type ApprovalSettlement, type DecisionSummary, type QuarantineRecord, type StateStore } from './store.js'

/**
 * The shared store: every replica of a workload's sidecar counts, asks, quarantines and learns
 * through one Redis. Counters are Lua scripts (atomic: no over-admission under concurrency),
 * approvals and quarantines are announced on pub/sub, so the replica holding a request wakes when
 * another one's admin API decides it and a quarantine takes effect everywhere at once.
 *
 * Failure behaviour: ioredis keeps no offline queue and every command has a timeout, so a request
 * never waits on a Redis that is gone; each call fails with SIDEKEY_ERR_STATE_UNAVAILABLE and the
 * caller decides (routes say whether limits fail open or closed; approvals fail closed). The
 * quarantine view is local and survives an outage; quarantines made during one apply here at once
 * and are written when Redis is back, and one Redis lost is written back. Credential caches never
 * go to Redis.
 *
 * Keys live under the configured prefix; keys a script touches together share a hash tag, so the
 * scripts also run on a Cluster.
 */

/** Admit one request under a fixed-window counter. KEYS[1] counter; ARGV limit, ttl ms. */
const FIXED_SCRIPT = `
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c >= tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[2]) end
  return {0, c, ttl}
end
c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {1, c, 0}
`

/** Settle an approval if it is still pending. KEYS[1] approval hash; ARGV status, settlement JSON. */
const SETTLE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return false end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'settlement', ARGV[2])
return redis.call('HGET', KEYS[1], 'record')
`

/** Compare and set one field of a hash. KEYS[1] hash; ARGV field, expected ('' = absent), next. */
const CAS_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`

/** Give a lease back if it is still the holder's. KEYS[1] lease; ARGV holder. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

/**
 * Quarantines live in one hash: a field per quarantined workload (its record), and beside it
 * `released:<workload>`, the `since` of the records released last (a workload name has no `:`).
 * The markers tell a replica's reload apart "released on another replica" from "lost by Redis"
 * (a restart without persistence, a failover to a replica that had not caught up): a local
 * quarantine Redis no longer has is dropped only when a marker names it, and otherwise written
 * back, so losing Redis's data never lifts a quarantine (found by a red-team run).
 */
const RELEASED = 'released:'
/** Release markers kept per workload: enough for any record a replica could still hold. */
const RELEASED_KEPT = 8

/**
 * Write a quarantine unless it was released. KEYS[1] the quarantine hash; ARGV workload, record,
 * its \`since\` as a JSON string. Returns 1 written, 0 already there, -1 released (do not restore).
 */
const QUARANTINE_SCRIPT = `
local m = redis.call('HGET', KEYS[1], '${RELEASED}' .. ARGV[1])
if m and string.find(m, ARGV[3], 1, true) then return -1 end
return redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
`

/**
 * Release a quarantine and remember which. KEYS[1] the quarantine hash; ARGV workload, the
 * \`since\` of the caller's own record ('' when it has none). Returns 1 when Redis held one.
 */
const RELEASE_QUARANTINE_SCRIPT = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local sinces = {}
local old = redis.call('HGET', KEYS[1], '${RELEASED}' .. ARGV[1])
if old then
  local ok, list = pcall(cjson.decode, old)
  if ok and type(list) == 'table' then for _, s in ipairs(list) do table.insert(sinces, s) end end
end
if raw then
  local ok, r = pcall(cjson.decode, raw)
  if ok and type(r) == 'table' and type(r.since) == 'string' then table.insert(sinces, r.since) end
end
if ARGV[2] ~= '' then table.insert(sinces, ARGV[2]) end
while #sinces > ${RELEASED_KEPT} do table.remove(sinces, 1) end
redis.call('HDEL', KEYS[1], ARGV[1])
if #sinces > 0 then redis.call('HSET', KEYS[1], '${RELEASED}' .. ARGV[1], cjson.encode(sinces)) end
if raw then return 1 end
return 0
`

/** Settled approvals kept listed (each record also expires a day after its own deadline). */
const MAX_LISTED_APPROVALS = 500
const MAX_DECISIONS = 200
/** Decisions are written in batches, not one round trip per request. */
const DECISION_FLUSH_MS = 250

type Client = Redis | Cluster

interface Scripts {
  skFixed(key: string, limit: number, ttlMs: number): Promise<[number, number, number]>
  skSliding(key: string, limit: number, windowMs: number, nowMs: number): Promise<[number, number, number]>
  skSettle(key: string, status: string, settlement: string): Promise<string | null>
  skCas(key: string, field: string, expected: string, next: string): Promise<number>
  skRelease(key: string, holder: string): Promise<number>
  skQuarantine(key: string, workload: string, record: string, since: string): Promise<number>
  skReleaseQuarantine(key: string, workload: string, since: string): Promise<number>
}

/** Build the ioredis client the settings describe (standalone, Sentinel or Cluster). */
export function createRedisClient(s: RedisSettings): Client {
  const common: RedisOptions = {
    // Fail at once while disconnected rather than queueing: the caller has a policy for that.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: s.commandTimeoutMs,
    connectTimeout: s.connectTimeoutMs,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    lazyConnect: true,
    ...(s.username !== null ? { username: s.username } : {}),
    ...(s.password !== null ? { password: s.password } : {}),
    ...(s.tls !== null ? { tls: s.tls } : {}),
  }
  if (s.mode === 'cluster') {
    return new Cluster(s.nodes.map((n) => ({ ...n })), {
      enableOfflineQueue: false,
      lazyConnect: true,
      clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
      redisOptions: common,
    })
  }
  if (s.mode === 'sentinel') {
    return new Redis({
      ...common,
      sentinels: s.nodes.map((n) => ({ ...n })),
      name: s.sentinelMaster!,
      ...(s.sentinelPassword !== null ? { sentinelPassword: s.sentinelPassword } : {}),
      ...(s.tls !== null ? { enableTLSForSentinelMode: true, sentinelTLS: s.tls } : {}),
      sentinelRetryStrategy: (times) => Math.min(100 * times, 2000),
    })
  }
  return new Redis(s.url!, common)
}

/** The sinces a release marker lists (an unreadable marker lists none: nothing is dropped for it). */
function releasedSinces(raw: string): readonly string[] {
  try {
    const list = JSON.parse(raw) as unknown
    return Array.isArray(list) ? list.filter((s): s is string => typeof s === 'string') : []
  } catch {
    return []
  }
}

export class RedisStore implements StateStore {
  readonly shared = true
  readonly #client: Client
  readonly #sub: Client
  readonly #scripts: Scripts
  readonly #p: string
  readonly #log: Logger
  readonly #id = randomUUID()
  readonly #quarantine = new Map<string, QuarantineRecord>()
  /** Quarantines made while Redis was unreachable, written when it is back. */
  readonly #unsynced = new Map<string, QuarantineRecord>()
  /**
   * Whether this replica has read the shared quarantine list since it started. Until it has, it
   * cannot tell a quarantined workload from any other (a replica started during an outage), so
   * with \`unknown_quarantine: refuse\` (the default) it serves nobody (\`identity/standing.ts\`).
   */
  #listRead: boolean
  readonly #approvalListeners = new Set<(record: ApprovalRecord) => void>()
  readonly #quarantineListeners = new Set<() => void>()
  #decisions: DecisionSummary[] = []
  #flushTimer: NodeJS.Timeout | null = null
  #refreshTimer: NodeJS.Timeout | null = null
  /** What the log last said about the connection: an outage is one line, not one per reconnect attempt. */
  #said: 'up' | 'down' | null = null
  #closed = false

  private constructor(settings: RedisSettings, log: Logger, private readonly onError: (op: string) => void) {
    this.#log = log
    this.#p = settings.keyPrefix
    this.#listRead = settings.unknownQuarantine === 'serve'
    this.#client = createRedisClient(settings)
    this.#sub = this.#client.duplicate()
    for (const [name, lua, keys] of [['skFixed', FIXED_SCRIPT, 1], ['skSliding', SLIDING_WINDOW_LUA, 1], ['skSettle', SETTLE_SCRIPT, 1], ['skCas', CAS_SCRIPT, 1], ['skRelease', RELEASE_SCRIPT, 1], ['skQuarantine', QUARANTINE_SCRIPT, 1], ['skReleaseQuarantine', RELEASE_QUARANTINE_SCRIPT, 1]] as const) {
      this.#client.defineCommand(name, { lua, numberOfKeys: keys })
    }
    this.#scripts = this.#client as unknown as Scripts
    this.#client.on('ready', () => {
      this.#say('up')
      // Take Redis's view; the re-read writes back what waited, and anything Redis lost (a failure
      // is tried again by the refresh timer).
      void this.#reloadQuarantine().catch(() => undefined)
    })
    this.#client.on('error', (err: Error) => this.#say('down', err.message))
    this.#client.on('close', () => this.#say('down', 'connection closed'))
    this.#sub.on('error', () => undefined)
    this.#sub.on('message', (channel: string, message: string) => this.#onMessage(channel, message))
    this.#sub.on('ready', () => void this.#subscribe())
  }

  #say(state: 'up' | 'down', why?: string): void {
    // Closed on purpose: the connection's own 'close' event is no outage, and the log it would
    // go to may already be closed too (an embedded sidekey ends its log file right after).
    if (this.#closed || this.#said === state) return
    this.#said = state
    if (state === 'up') this.#log.info({ event: 'state_connected', store: 'redis' }, 'shared state store connected')
    else this.#log.error({ event: 'state_unavailable', store: 'redis', err: why }, 'shared state store unreachable; reconnecting')
  }

  /**
   * Connect (waiting at most the connect timeout). An unreachable Redis does not stop sidekey: it
   * starts, says so, and keeps reconnecting; what needs the store refuses or fails open meanwhile.
   */
  static async open(settings: RedisSettings, log: Logger, onError: (op: string) => void = () => undefined): Promise<RedisStore> {
    const store = new RedisStore(settings, log, onError)
    const connect = (c: Client): Promise<void> =>
      Promise.race([
        c.connect().then(() => undefined),
        new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${settings.connectTimeoutMs} ms`)), settings.connectTimeoutMs).unref()),
      ])
    try {
      await Promise.all([connect(store.#client), connect(store.#sub)])
      await store.#reloadQuarantine()
    } catch (err) {
      // Starting anyway: what needs the store refuses or fails open until it answers.
      store.#say('down', (err as Error).message)
    }
    store.#refreshTimer = setInterval(() => void store.#reloadQuarantine().catch(() => undefined), settings.quarantineRefreshMs)
    store.#refreshTimer.unref()
    return store
  }

  get available(): boolean {
    // The client's own state: an error event alone (a Cluster reports transient ones) does not make it unavailable.
    return this.#client.status === 'ready'
  }

  /** Run one store operation; any failure becomes SIDEKEY_ERR_STATE_UNAVAILABLE. */
  async #do<T>(op: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (cause) {
      this.onError(op)
      throw new SidekeyError('SIDEKEY_ERR_STATE_UNAVAILABLE', `the shared state store is unavailable (${op}: ${(cause as Error).message})`, { cause })
    }
  }

  // --- counters -------------------------------------------------------------------------------

  countFixed(key: string, limit: number, ttlMs: number): Promise<CountResult> {
    return this.#do('count', async () => {
      const [allowed, count, retry] = await this.#scripts.skFixed(`${this.#p}{c:${key}}`, limit, Math.max(1, Math.ceil(ttlMs)))
      return { allowed: allowed === 1, count, retryAfterMs: retry }
    })
  }

  countSliding(key: string, limit: number, windowMs: number, nowMs: number): Promise<CountResult> {
    return this.#do('count', async () => {
      const [allowed, count, retry] = await this.#scripts.skSliding(`${this.#p}{s:${key}}`, limit, windowMs, nowMs)
      return { allowed: allowed === 1, count, retryAfterMs: retry }
    })
  }

  // --- approvals and grants -------------------------------------------------------------------

  #approvalKey(id: string): string {
    return `${this.#p}{approvals}:${id}`
  }

  putApproval(record: ApprovalRecord): Promise<void> {
    return this.#do('approval', async () => {
      const key = this.#approvalKey(record.id)
      // Kept a day past its deadline, so who decided what stays visible.
      const ttlMs = Math.max(60_000, Date.parse(record.expires) - Date.now() + 86_400_000)
      await this.#client
        .multi()
        .hset(key, 'record', JSON.stringify(record), 'status', 'pending')
        .pexpire(key, ttlMs)
        .zadd(`${this.#p}{approvals}`, Date.parse(record.created), record.id)
        .exec()
        .then(failedInTransaction)
      this.#emitApproval(record)
      await this.#client.publish(`${this.#p}approvals`, JSON.stringify({ from: this.#id, record }))
    })
  }

  settleApproval(id: string, settlement: ApprovalSettlement): Promise<ApprovalRecord | null> {
    return this.#do('approval', async () => {
      const raw = await this.#scripts.skSettle(this.#approvalKey(id), settlement.status, JSON.stringify(settlement))
      if (raw === null) return null
      const settled = settledRecord(JSON.parse(raw) as ApprovalRecord, settlement)
      // Store it without its body too, unless it expired meanwhile (compare and set on the record as read).
      await this.#scripts.skCas(this.#approvalKey(id), 'record', raw, JSON.stringify(settled))
      this.#emitApproval(settled)
      await this.#client.publish(`${this.#p}approvals`, JSON.stringify({ from: this.#id, record: settled }))
      return settled
    })
  }

  getApproval(id: string): Promise<ApprovalRecord | undefined> {
    return this.#do('approval', async () => parseApproval(await this.#client.hgetall(this.#approvalKey(id))))
  }

  listApprovals(): Promise<ApprovalRecord[]> {
    return this.#do('approval', async () => {
      const index = `${this.#p}{approvals}`
      const ids = await this.#client.zrevrange(index, 0, MAX_LISTED_APPROVALS - 1)
      const pipeline = this.#client.pipeline()
      for (const id of ids) pipeline.hgetall(this.#approvalKey(id))
      const rows = (await pipeline.exec()) ?? []
      const records: ApprovalRecord[] = []
      const gone: string[] = []
      rows.forEach(([err, row], i) => {
        const r = err === null ? parseApproval(row as Record<string, string>) : undefined
        if (r === undefined) gone.push(ids[i]!)
        else records.push(r)
      })
      // Records expire on their own; drop their ids from the index (and keep the index bounded).
      if (gone.length > 0) await this.#client.zrem(index, ...gone)
      await this.#client.zremrangebyrank(index, 0, -MAX_LISTED_APPROVALS - 1)
      return [...records.filter((a) => a.status === 'pending'), ...records.filter((a) => a.status !== 'pending')]
    })
  }

  onApproval(listener: (record: ApprovalRecord) => void): () => void {
    this.#approvalListeners.add(listener)
    return () => this.#approvalListeners.delete(listener)
  }

  #emitApproval(record: ApprovalRecord): void {
    for (const listener of this.#approvalListeners) {
      try {
        listener(record)
      } catch {
        // A listener's fault is its own.
      }
    }
  }

  putGrant(workload: string, route: string, untilMs: number): Promise<void> {
    return this.#do('grant', async () => {
      await this.#client.set(`${this.#p}grant:${workload}\0${route}`, String(untilMs), 'PX', Math.max(1, untilMs - Date.now()))
    })
  }

  grantUntil(workload: string, route: string): Promise<number | null> {
    return this.#do('grant', async () => {
      const raw = await this.#client.get(`${this.#p}grant:${workload}\0${route}`)
      const until = raw === null ? null : Number(raw)
      return until !== null && until > Date.now() ? until : null
    })
  }

  bindRequest(hash: string, id: string, ttlMs: number): Promise<void> {
    return this.#do('approval', async () => {
      await this.#client.set(`${this.#p}{approvals}:request:${hash}`, id, 'PX', Math.max(1, ttlMs))
    })
  }

  boundApproval(hash: string): Promise<string | null> {
    return this.#do('approval', () => this.#client.get(`${this.#p}{approvals}:request:${hash}`))
  }

  claimOnce(id: string, ttlMs: number): Promise<boolean> {
    // SET NX: of two replicas claiming at once, exactly one gets OK.
    return this.#do('approval', async () => (await this.#client.set(`${this.#p}{approvals}:claimed:${id}`, '1', 'PX', Math.max(1, ttlMs), 'NX')) === 'OK')
  }

  // --- recent decisions -----------------------------------------------------------------------

  recordDecision(summary: DecisionSummary): void {
    this.#decisions.push(summary)
    if (this.#decisions.length > MAX_DECISIONS) this.#decisions.shift()
    this.#flushTimer ??= setTimeout(() => void this.#flushDecisions(), DECISION_FLUSH_MS)
  }

  async #flushDecisions(): Promise<void> {
    this.#flushTimer = null
    const batch = this.#decisions
    this.#decisions = []
    if (batch.length === 0 || !this.available) return
    const key = `${this.#p}decisions`
    try {
      await this.#client.multi().lpush(key, ...batch.map((d) => JSON.stringify(d))).ltrim(key, 0, MAX_DECISIONS - 1).exec().then(failedInTransaction)
    } catch {
      // The console's history is best effort; requests are audited in the log regardless.
      this.onError('decisions')
    }
  }

  recentDecisions(): Promise<DecisionSummary[]> {
    return this.#do('decisions', async () => {
      await this.#flushDecisions()
      return (await this.#client.lrange(`${this.#p}decisions`, 0, MAX_DECISIONS - 1)).map((d) => JSON.parse(d) as DecisionSummary)
    })
  }

  // --- quarantine -----------------------------------------------------------------------------

  async quarantine(record: QuarantineRecord): Promise<void> {
    if (this.#quarantine.has(record.workload)) {
      // Written all the same: the one held here may be one released on another replica whose
      // announcement this one missed (its marker would drop it at the next re-read, and this new
      // quarantine with it; found by a review). Redis keeps the one it has.
      await this.#writeQuarantine(record).catch(() => undefined)
      return
    }
    // Applied here first: a quarantine must not wait for, or be lost with, the network.
    this.#quarantine.set(record.workload, record)
    this.#notifyQuarantine()
    try {
      await this.#writeQuarantine(record)
    } catch (err) {
      this.#unsynced.set(record.workload, record)
      this.onError('quarantine')
      this.#log.error({ event: 'state_unavailable', store: 'redis', op: 'quarantine', workload: record.workload, err: (err as Error).message }, 'quarantine applied on this replica only until the shared store is back')
    }
  }

  /** Write a quarantine to Redis unless it was released there; false when it was (drop it). */
  async #writeQuarantine(record: QuarantineRecord): Promise<boolean> {
    const written = await this.#scripts.skQuarantine(`${this.#p}quarantine`, record.workload, JSON.stringify(record), JSON.stringify(record.since))
    if (written === 1) await this.#client.publish(`${this.#p}quarantine`, JSON.stringify({ from: this.#id, op: 'quarantine', record }))
    return written !== -1
  }

  release(workload: string): Promise<boolean> {
    return this.#do('quarantine', async () => {
      // Lifted here only once Redis has it: a release that fails leaves the quarantine in force.
      const mine = this.#quarantine.get(workload)
      const removed = await this.#scripts.skReleaseQuarantine(`${this.#p}quarantine`, workload, mine?.since ?? '')
      this.#quarantine.delete(workload)
      this.#unsynced.delete(workload)
      await this.#client.publish(`${this.#p}quarantine`, JSON.stringify({ from: this.#id, op: 'release', workload }))
      this.#notifyQuarantine()
      return mine !== undefined || removed === 1
    })
  }

  quarantined(workload: string): QuarantineRecord | undefined {
    return this.#quarantine.get(workload)
  }

  listQuarantined(): QuarantineRecord[] {
    return [...this.#quarantine.values()]
  }

  get quarantineListKnown(): boolean {
    return this.#listRead
  }

  onQuarantineChange(listener: () => void): () => void {
    this.#quarantineListeners.add(listener)
    return () => this.#quarantineListeners.delete(listener)
  }

  #notifyQuarantine(): void {
    for (const l of this.#quarantineListeners) l()
  }

  /**
   * Take Redis's list, and keep what it lacks unless a release marker names it: a quarantine not
   * yet written (made during an outage, or a write still on its way) or one Redis lost is kept
   * and written back; one released on another replica (its announcement missed) is dropped.
   */
  async #reloadQuarantine(): Promise<void> {
    if (!this.available) return
    const all = await this.#client.hgetall(`${this.#p}quarantine`)
    const next = new Map<string, QuarantineRecord>()
    const released = new Map<string, readonly string[]>()
    for (const [field, raw] of Object.entries(all)) {
      if (field.startsWith(RELEASED)) {
        released.set(field.slice(RELEASED.length), releasedSinces(raw))
        continue
      }
      try {
        next.set(field, JSON.parse(raw) as QuarantineRecord)
      } catch {
        next.set(field, { workload: field, reason: 'unreadable record in the shared store', by: 'unknown', since: new Date(0).toISOString() })
      }
    }
    const missing: QuarantineRecord[] = []
    for (const [workload, record] of this.#quarantine) {
      if (next.has(workload) || released.get(workload)?.includes(record.since) === true) continue
      next.set(workload, record)
      missing.push(record)
    }
    const changed = next.size !== this.#quarantine.size || [...next.keys()].some((w) => !this.#quarantine.has(w))
    this.#quarantine.clear()
    for (const [w, r] of next) this.#quarantine.set(w, r)
    this.#listRead = true
    if (changed) this.#notifyQuarantine()
    for (const record of missing) {
      if (!this.#unsynced.has(record.workload)) this.#log.warn({ event: 'quarantine_restored', store: 'redis', workload: record.workload, since: record.since }, 'a quarantine this replica holds was missing from the shared store (its data lost?): written back')
      if (!(await this.#writeQuarantine(record)) && this.#quarantine.get(record.workload) === record) {
        // Released between the read and the write.
        this.#quarantine.delete(record.workload)
        this.#notifyQuarantine()
      }
      this.#unsynced.delete(record.workload)
    }
  }

  async #subscribe(): Promise<void> {
    try {
      await this.#sub.subscribe(`${this.#p}approvals`, `${this.#p}quarantine`)
    } catch (err) {
      this.#log.error({ event: 'state_unavailable', store: 'redis', op: 'subscribe', err: (err as Error).message }, 'cannot subscribe to shared state updates')
    }
  }

  #onMessage(channel: string, message: string): void {
    let m: { from?: string; record?: unknown; op?: string; workload?: string }
    try {
      m = JSON.parse(message) as typeof m
    } catch {
      return
    }
    // Our own announcements were applied locally when made.
    if (m.from === this.#id) return
    if (channel === `${this.#p}approvals` && m.record !== undefined) this.#emitApproval(Object.freeze(m.record as ApprovalRecord))
    if (channel === `${this.#p}quarantine`) {
      if (m.op === 'quarantine' && m.record !== undefined) {
        const r = m.record as QuarantineRecord
        if (!this.#quarantine.has(r.workload)) this.#quarantine.set(r.workload, r)
      } else if (m.op === 'release' && typeof m.workload === 'string') {
        this.#quarantine.delete(m.workload)
        this.#unsynced.delete(m.workload)
      }
      this.#notifyQuarantine()
    }
  }

  // --- baselines ------------------------------------------------------------------------------

  loadBaselines(): Promise<Record<string, BaselineState>> {
    return this.#do('baselines', async () => {
      const all = await this.#client.hgetall(`${this.#p}baselines`)
      const out: Record<string, BaselineState> = {}
      for (const [w, raw] of Object.entries(all)) {
        try {
          out[w] = JSON.parse(raw) as BaselineState
        } catch {
          // An unreadable baseline is learned again.
        }
      }
      return out
    })
  }

  /** Optimistic merge: read, merge in JS (the same code as everywhere), write if unchanged, retry. */
  mergeBaseline(workload: string, delta: BaselineDelta, windowMs: number): Promise<BaselineState> {
    return this.#do('baselines', async () => {
      const key = `${this.#p}baselines`
      for (let attempt = 0; attempt < 8; attempt++) {
        const raw = await this.#client.hget(key, workload)
        const merged = applyDelta(raw === null ? undefined : (JSON.parse(raw) as BaselineState), delta, windowMs)
        if ((await this.#scripts.skCas(key, workload, raw ?? '', JSON.stringify(merged))) === 1) return merged
      }
      throw new Error('baseline kept changing under concurrent merges')
    })
  }

  // --- small shared values --------------------------------------------------------------------

  getBlob(name: string): Promise<string | null> {
    return this.#do('blob', () => this.#client.hget(`${this.#p}blobs`, name))
  }

  casBlob(name: string, expected: string | null, next: string): Promise<boolean> {
    return this.#do('blob', async () => (await this.#scripts.skCas(`${this.#p}blobs`, name, expected ?? '', next)) === 1)
  }

  // --- expiring values and leases -------------------------------------------------------------

  putExpiring(name: string, value: string, ttlMs: number): Promise<void> {
    return this.#do('expiring', async () => {
      await this.#client.set(`${this.#p}x:${name}`, value, 'PX', Math.max(1, Math.ceil(ttlMs)))
    })
  }

  getExpiring(name: string): Promise<string | null> {
    return this.#do('expiring', () => this.#client.get(`${this.#p}x:${name}`))
  }

  takeExpiring(name: string): Promise<string | null> {
    // GETDEL (Redis 6.2): read and remove in one step, so a value is taken once across replicas.
    return this.#do('expiring', () => this.#client.getdel(`${this.#p}x:${name}`))
  }

  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.#do('lease', async () => (await this.#client.set(`${this.#p}lease:${name}`, holder, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK')
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return this.#do('lease', async () => {
      await this.#scripts.skRelease(`${this.#p}lease:${name}`, holder)
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#refreshTimer !== null) clearInterval(this.#refreshTimer)
    if (this.#flushTimer !== null) {
      clearTimeout(this.#flushTimer)
      await this.#flushDecisions()
    }
    this.#client.disconnect()
    this.#sub.disconnect()
  }
}

function parseApproval(row: Record<string, string>): ApprovalRecord | undefined {
  if (row.record === undefined) return undefined
  try {
    const record = JSON.parse(row.record) as ApprovalRecord
    if (row.settlement === undefined) return Object.freeze(record)
    return settledRecord(record, JSON.parse(row.settlement) as ApprovalSettlement)
  } catch {
    return undefined
  }
}

/** MULTI/EXEC reports per-command errors in its result; surface the first. */
function failedInTransaction(results: [Error | null, unknown][] | null): void {
  if (results === null) throw new Error('transaction aborted')
  for (const [err] of results) if (err !== null) throw err
}
