import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { SidekeyError } from '../errors.js';
import { applyDelta } from '../observe/baseline.js';
import { SLIDING_WINDOW_LUA } from './counters.js';
import { settledRecord } from './store.js';
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
 * and are written when Redis is back. Credential caches never go to Redis.
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
`;
/** Settle an approval if it is still pending. KEYS[1] approval hash; ARGV status, settlement JSON. */
const SETTLE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'status') ~= 'pending' then return false end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'settlement', ARGV[2])
return redis.call('HGET', KEYS[1], 'record')
`;
/** Compare and set one field of a hash. KEYS[1] hash; ARGV field, expected ('' = absent), next. */
const CAS_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;
/** Give a lease back if it is still the holder's. KEYS[1] lease; ARGV holder. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
/** Settled approvals kept listed (each record also expires a day after its own deadline). */
const MAX_LISTED_APPROVALS = 500;
const MAX_DECISIONS = 200;
/** Decisions are written in batches, not one round trip per request. */
const DECISION_FLUSH_MS = 250;
/** Build the ioredis client the settings describe (standalone, Sentinel or Cluster). */
export function createRedisClient(s) {
    const common = {
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
    };
    if (s.mode === 'cluster') {
        return new Cluster(s.nodes.map((n) => ({ ...n })), {
            enableOfflineQueue: false,
            lazyConnect: true,
            clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
            redisOptions: common,
        });
    }
    if (s.mode === 'sentinel') {
        return new Redis({
            ...common,
            sentinels: s.nodes.map((n) => ({ ...n })),
            name: s.sentinelMaster,
            ...(s.sentinelPassword !== null ? { sentinelPassword: s.sentinelPassword } : {}),
            ...(s.tls !== null ? { enableTLSForSentinelMode: true, sentinelTLS: s.tls } : {}),
            sentinelRetryStrategy: (times) => Math.min(100 * times, 2000),
        });
    }
    return new Redis(s.url, common);
}
export class RedisStore {
    onError;
    shared = true;
    #client;
    #sub;
    #scripts;
    #p;
    #log;
    #id = randomUUID();
    #quarantine = new Map();
    /** Quarantines made while Redis was unreachable, written when it is back. */
    #unsynced = new Map();
    #approvalListeners = new Set();
    #quarantineListeners = new Set();
    #decisions = [];
    #flushTimer = null;
    #refreshTimer = null;
    /** What the log last said about the connection: an outage is one line, not one per reconnect attempt. */
    #said = null;
    #closed = false;
    constructor(settings, log, onError) {
        this.onError = onError;
        this.#log = log;
        this.#p = settings.keyPrefix;
        this.#client = createRedisClient(settings);
        this.#sub = this.#client.duplicate();
        for (const [name, lua, keys] of [['skFixed', FIXED_SCRIPT, 1], ['skSliding', SLIDING_WINDOW_LUA, 1], ['skSettle', SETTLE_SCRIPT, 1], ['skCas', CAS_SCRIPT, 1], ['skRelease', RELEASE_SCRIPT, 1]]) {
            this.#client.defineCommand(name, { lua, numberOfKeys: keys });
        }
        this.#scripts = this.#client;
        this.#client.on('ready', () => {
            this.#say('up');
            void this.#resync();
        });
        this.#client.on('error', (err) => this.#say('down', err.message));
        this.#client.on('close', () => this.#say('down', 'connection closed'));
        this.#sub.on('error', () => undefined);
        this.#sub.on('message', (channel, message) => this.#onMessage(channel, message));
        this.#sub.on('ready', () => void this.#subscribe());
    }
    #say(state, why) {
        // Closed on purpose: the connection's own 'close' event is no outage, and the log it would
        // go to may already be closed too (an embedded sidekey ends its log file right after).
        if (this.#closed || this.#said === state)
            return;
        this.#said = state;
        if (state === 'up')
            this.#log.info({ event: 'state_connected', store: 'redis' }, 'shared state store connected');
        else
            this.#log.error({ event: 'state_unavailable', store: 'redis', err: why }, 'shared state store unreachable; reconnecting');
    }
    /**
     * Connect (waiting at most the connect timeout). An unreachable Redis does not stop sidekey: it
     * starts, says so, and keeps reconnecting; what needs the store refuses or fails open meanwhile.
     */
    static async open(settings, log, onError = () => undefined) {
        const store = new RedisStore(settings, log, onError);
        const connect = (c) => Promise.race([
            c.connect().then(() => undefined),
            new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${settings.connectTimeoutMs} ms`)), settings.connectTimeoutMs).unref()),
        ]);
        try {
            await Promise.all([connect(store.#client), connect(store.#sub)]);
            await store.#reloadQuarantine();
        }
        catch (err) {
            // Starting anyway: what needs the store refuses or fails open until it answers.
            store.#say('down', err.message);
        }
        store.#refreshTimer = setInterval(() => void store.#reloadQuarantine().catch(() => undefined), settings.quarantineRefreshMs);
        store.#refreshTimer.unref();
        return store;
    }
    get available() {
        // The client's own state: an error event alone (a Cluster reports transient ones) does not make it unavailable.
        return this.#client.status === 'ready';
    }
    /** Run one store operation; any failure becomes SIDEKEY_ERR_STATE_UNAVAILABLE. */
    async #do(op, run) {
        try {
            return await run();
        }
        catch (cause) {
            this.onError(op);
            throw new SidekeyError('SIDEKEY_ERR_STATE_UNAVAILABLE', `the shared state store is unavailable (${op}: ${cause.message})`, { cause });
        }
    }
    // --- counters -------------------------------------------------------------------------------
    countFixed(key, limit, ttlMs) {
        return this.#do('count', async () => {
            const [allowed, count, retry] = await this.#scripts.skFixed(`${this.#p}{c:${key}}`, limit, Math.max(1, Math.ceil(ttlMs)));
            return { allowed: allowed === 1, count, retryAfterMs: retry };
        });
    }
    countSliding(key, limit, windowMs, nowMs) {
        return this.#do('count', async () => {
            const [allowed, count, retry] = await this.#scripts.skSliding(`${this.#p}{s:${key}}`, limit, windowMs, nowMs);
            return { allowed: allowed === 1, count, retryAfterMs: retry };
        });
    }
    // --- approvals and grants -------------------------------------------------------------------
    #approvalKey(id) {
        return `${this.#p}{approvals}:${id}`;
    }
    putApproval(record) {
        return this.#do('approval', async () => {
            const key = this.#approvalKey(record.id);
            // Kept a day past its deadline, so who decided what stays visible.
            const ttlMs = Math.max(60_000, Date.parse(record.expires) - Date.now() + 86_400_000);
            await this.#client
                .multi()
                .hset(key, 'record', JSON.stringify(record), 'status', 'pending')
                .pexpire(key, ttlMs)
                .zadd(`${this.#p}{approvals}`, Date.parse(record.created), record.id)
                .exec()
                .then(failedInTransaction);
            this.#emitApproval(record);
            await this.#client.publish(`${this.#p}approvals`, JSON.stringify({ from: this.#id, record }));
        });
    }
    settleApproval(id, settlement) {
        return this.#do('approval', async () => {
            const raw = await this.#scripts.skSettle(this.#approvalKey(id), settlement.status, JSON.stringify(settlement));
            if (raw === null)
                return null;
            const settled = settledRecord(JSON.parse(raw), settlement);
            // Store it without its body too, unless it expired meanwhile (compare and set on the record as read).
            await this.#scripts.skCas(this.#approvalKey(id), 'record', raw, JSON.stringify(settled));
            this.#emitApproval(settled);
            await this.#client.publish(`${this.#p}approvals`, JSON.stringify({ from: this.#id, record: settled }));
            return settled;
        });
    }
    getApproval(id) {
        return this.#do('approval', async () => parseApproval(await this.#client.hgetall(this.#approvalKey(id))));
    }
    listApprovals() {
        return this.#do('approval', async () => {
            const index = `${this.#p}{approvals}`;
            const ids = await this.#client.zrevrange(index, 0, MAX_LISTED_APPROVALS - 1);
            const pipeline = this.#client.pipeline();
            for (const id of ids)
                pipeline.hgetall(this.#approvalKey(id));
            const rows = (await pipeline.exec()) ?? [];
            const records = [];
            const gone = [];
            rows.forEach(([err, row], i) => {
                const r = err === null ? parseApproval(row) : undefined;
                if (r === undefined)
                    gone.push(ids[i]);
                else
                    records.push(r);
            });
            // Records expire on their own; drop their ids from the index (and keep the index bounded).
            if (gone.length > 0)
                await this.#client.zrem(index, ...gone);
            await this.#client.zremrangebyrank(index, 0, -MAX_LISTED_APPROVALS - 1);
            return [...records.filter((a) => a.status === 'pending'), ...records.filter((a) => a.status !== 'pending')];
        });
    }
    onApproval(listener) {
        this.#approvalListeners.add(listener);
        return () => this.#approvalListeners.delete(listener);
    }
    #emitApproval(record) {
        for (const listener of this.#approvalListeners) {
            try {
                listener(record);
            }
            catch {
                // A listener's fault is its own.
            }
        }
    }
    putGrant(workload, route, untilMs) {
        return this.#do('grant', async () => {
            await this.#client.set(`${this.#p}grant:${workload}\0${route}`, String(untilMs), 'PX', Math.max(1, untilMs - Date.now()));
        });
    }
    grantUntil(workload, route) {
        return this.#do('grant', async () => {
            const raw = await this.#client.get(`${this.#p}grant:${workload}\0${route}`);
            const until = raw === null ? null : Number(raw);
            return until !== null && until > Date.now() ? until : null;
        });
    }
    bindRequest(hash, id, ttlMs) {
        return this.#do('approval', async () => {
            await this.#client.set(`${this.#p}{approvals}:request:${hash}`, id, 'PX', Math.max(1, ttlMs));
        });
    }
    boundApproval(hash) {
        return this.#do('approval', () => this.#client.get(`${this.#p}{approvals}:request:${hash}`));
    }
    claimOnce(id, ttlMs) {
        // SET NX: of two replicas claiming at once, exactly one gets OK.
        return this.#do('approval', async () => (await this.#client.set(`${this.#p}{approvals}:claimed:${id}`, '1', 'PX', Math.max(1, ttlMs), 'NX')) === 'OK');
    }
    // --- recent decisions -----------------------------------------------------------------------
    recordDecision(summary) {
        this.#decisions.push(summary);
        if (this.#decisions.length > MAX_DECISIONS)
            this.#decisions.shift();
        this.#flushTimer ??= setTimeout(() => void this.#flushDecisions(), DECISION_FLUSH_MS);
    }
    async #flushDecisions() {
        this.#flushTimer = null;
        const batch = this.#decisions;
        this.#decisions = [];
        if (batch.length === 0 || !this.available)
            return;
        const key = `${this.#p}decisions`;
        try {
            await this.#client.multi().lpush(key, ...batch.map((d) => JSON.stringify(d))).ltrim(key, 0, MAX_DECISIONS - 1).exec().then(failedInTransaction);
        }
        catch {
            // The console's history is best effort; requests are audited in the log regardless.
            this.onError('decisions');
        }
    }
    recentDecisions() {
        return this.#do('decisions', async () => {
            await this.#flushDecisions();
            return (await this.#client.lrange(`${this.#p}decisions`, 0, MAX_DECISIONS - 1)).map((d) => JSON.parse(d));
        });
    }
    // --- quarantine -----------------------------------------------------------------------------
    async quarantine(record) {
        if (this.#quarantine.has(record.workload))
            return;
        // Applied here first: a quarantine must not wait for, or be lost with, the network.
        this.#quarantine.set(record.workload, record);
        this.#notifyQuarantine();
        try {
            await this.#writeQuarantine(record);
        }
        catch (err) {
            this.#unsynced.set(record.workload, record);
            this.onError('quarantine');
            this.#log.error({ event: 'state_unavailable', store: 'redis', op: 'quarantine', workload: record.workload, err: err.message }, 'quarantine applied on this replica only until the shared store is back');
        }
    }
    async #writeQuarantine(record) {
        const added = await this.#client.hsetnx(`${this.#p}quarantine`, record.workload, JSON.stringify(record));
        if (added === 1)
            await this.#client.publish(`${this.#p}quarantine`, JSON.stringify({ from: this.#id, op: 'quarantine', record }));
    }
    release(workload) {
        return this.#do('quarantine', async () => {
            const local = this.#quarantine.delete(workload);
            this.#unsynced.delete(workload);
            const removed = await this.#client.hdel(`${this.#p}quarantine`, workload);
            await this.#client.publish(`${this.#p}quarantine`, JSON.stringify({ from: this.#id, op: 'release', workload }));
            this.#notifyQuarantine();
            return local || removed === 1;
        });
    }
    quarantined(workload) {
        return this.#quarantine.get(workload);
    }
    listQuarantined() {
        return [...this.#quarantine.values()];
    }
    onQuarantineChange(listener) {
        this.#quarantineListeners.add(listener);
        return () => this.#quarantineListeners.delete(listener);
    }
    #notifyQuarantine() {
        for (const l of this.#quarantineListeners)
            l();
    }
    /** Replace the local view with Redis's, keeping quarantines not yet written there. */
    async #reloadQuarantine() {
        if (!this.available)
            return;
        const all = await this.#client.hgetall(`${this.#p}quarantine`);
        const next = new Map();
        for (const [workload, raw] of Object.entries(all)) {
            try {
                next.set(workload, JSON.parse(raw));
            }
            catch {
                next.set(workload, { workload, reason: 'unreadable record in the shared store', by: 'unknown', since: new Date(0).toISOString() });
            }
        }
        for (const [workload, record] of this.#unsynced)
            if (!next.has(workload))
                next.set(workload, record);
        const changed = next.size !== this.#quarantine.size || [...next.keys()].some((w) => !this.#quarantine.has(w));
        this.#quarantine.clear();
        for (const [w, r] of next)
            this.#quarantine.set(w, r);
        if (changed)
            this.#notifyQuarantine();
    }
    /** After a reconnect: write what waited, then take Redis's view. */
    async #resync() {
        try {
            for (const record of [...this.#unsynced.values()]) {
                await this.#writeQuarantine(record);
                this.#unsynced.delete(record.workload);
            }
            await this.#reloadQuarantine();
        }
        catch {
            // The refresh timer tries again.
        }
    }
    async #subscribe() {
        try {
            await this.#sub.subscribe(`${this.#p}approvals`, `${this.#p}quarantine`);
        }
        catch (err) {
            this.#log.error({ event: 'state_unavailable', store: 'redis', op: 'subscribe', err: err.message }, 'cannot subscribe to shared state updates');
        }
    }
    #onMessage(channel, message) {
        let m;
        try {
            m = JSON.parse(message);
        }
        catch {
            return;
        }
        // Our own announcements were applied locally when made.
        if (m.from === this.#id)
            return;
        if (channel === `${this.#p}approvals` && m.record !== undefined)
            this.#emitApproval(Object.freeze(m.record));
        if (channel === `${this.#p}quarantine`) {
            if (m.op === 'quarantine' && m.record !== undefined) {
                const r = m.record;
                if (!this.#quarantine.has(r.workload))
                    this.#quarantine.set(r.workload, r);
            }
            else if (m.op === 'release' && typeof m.workload === 'string') {
                this.#quarantine.delete(m.workload);
                this.#unsynced.delete(m.workload);
            }
            this.#notifyQuarantine();
        }
    }
    // --- baselines ------------------------------------------------------------------------------
    loadBaselines() {
        return this.#do('baselines', async () => {
            const all = await this.#client.hgetall(`${this.#p}baselines`);
            const out = {};
            for (const [w, raw] of Object.entries(all)) {
                try {
                    out[w] = JSON.parse(raw);
                }
                catch {
                    // An unreadable baseline is learned again.
                }
            }
            return out;
        });
    }
    /** Optimistic merge: read, merge in JS (the same code as everywhere), write if unchanged, retry. */
    mergeBaseline(workload, delta, windowMs) {
        return this.#do('baselines', async () => {
            const key = `${this.#p}baselines`;
            for (let attempt = 0; attempt < 8; attempt++) {
                const raw = await this.#client.hget(key, workload);
                const merged = applyDelta(raw === null ? undefined : JSON.parse(raw), delta, windowMs);
                if ((await this.#scripts.skCas(key, workload, raw ?? '', JSON.stringify(merged))) === 1)
                    return merged;
            }
            throw new Error('baseline kept changing under concurrent merges');
        });
    }
    // --- small shared values --------------------------------------------------------------------
    getBlob(name) {
        return this.#do('blob', () => this.#client.hget(`${this.#p}blobs`, name));
    }
    casBlob(name, expected, next) {
        return this.#do('blob', async () => (await this.#scripts.skCas(`${this.#p}blobs`, name, expected ?? '', next)) === 1);
    }
    // --- expiring values and leases -------------------------------------------------------------
    putExpiring(name, value, ttlMs) {
        return this.#do('expiring', async () => {
            await this.#client.set(`${this.#p}x:${name}`, value, 'PX', Math.max(1, Math.ceil(ttlMs)));
        });
    }
    getExpiring(name) {
        return this.#do('expiring', () => this.#client.get(`${this.#p}x:${name}`));
    }
    takeExpiring(name) {
        // GETDEL (Redis 6.2): read and remove in one step, so a value is taken once across replicas.
        return this.#do('expiring', () => this.#client.getdel(`${this.#p}x:${name}`));
    }
    acquireLease(name, holder, ttlMs) {
        return this.#do('lease', async () => (await this.#client.set(`${this.#p}lease:${name}`, holder, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK');
    }
    releaseLease(name, holder) {
        return this.#do('lease', async () => {
            await this.#scripts.skRelease(`${this.#p}lease:${name}`, holder);
        });
    }
    async close() {
        if (this.#closed)
            return;
        this.#closed = true;
        if (this.#refreshTimer !== null)
            clearInterval(this.#refreshTimer);
        if (this.#flushTimer !== null) {
            clearTimeout(this.#flushTimer);
            await this.#flushDecisions();
        }
        this.#client.disconnect();
        this.#sub.disconnect();
    }
}
function parseApproval(row) {
    if (row.record === undefined)
        return undefined;
    try {
        const record = JSON.parse(row.record);
        if (row.settlement === undefined)
            return Object.freeze(record);
        return settledRecord(record, JSON.parse(row.settlement));
    }
    catch {
        return undefined;
    }
}
/** MULTI/EXEC reports per-command errors in its result; surface the first. */
function failedInTransaction(results) {
    if (results === null)
        throw new Error('transaction aborted');
    for (const [err] of results)
        if (err !== null)
            throw err;
}
//# sourceMappingURL=redis-store.js.map