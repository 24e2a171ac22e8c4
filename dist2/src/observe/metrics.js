import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { outcomeOf } from './outcome.js';
import { RELOAD_FAILURE_REASONS } from '../policy/store.js';
/**
 * A labelled counter whose counts are kept between scrapes in maps nested by label value: counting
 * an exchange walks them and adds to a number, where prom-client's `inc` builds a label object, a
 * hash string and a result object each time. The prom-client counter it registers takes the counts
 * when the registry is read (its `collect` hook), so a scrape sees every count made before it.
 */
class PendingCounter {
    #names;
    #root = new Map();
    #cells = [];
    constructor(registry, options) {
        this.#names = options.labelNames;
        const counter = new Counter({ ...options, labelNames: [...options.labelNames], registers: [registry], collect: () => this.#addTo(counter) });
    }
    /** Add `n` for the five label values, in the order of the names. */
    add5(a, b, c, d, e, n) {
        const inner = step(step(step(step(this.#root, a), b), c), d);
        (inner.get(e) ?? this.#newCell(inner, e, [a, b, c, d, e])).n += n;
    }
    /** Add `n` for the two label values, in the order of the names. */
    add2(a, b, n) {
        const inner = step(this.#root, a);
        (inner.get(b) ?? this.#newCell(inner, b, [a, b])).n += n;
    }
    /** Add what was counted since the last scrape to `counter`. */
    #addTo(counter) {
        for (const cell of this.#cells) {
            if (cell.n === 0)
                continue;
            counter.inc(cell.labels, cell.n);
            cell.n = 0;
        }
    }
    /** The first count of a label set: its labels object, made once. */
    #newCell(map, key, values) {
        const labels = {};
        this.#names.forEach((name, i) => (labels[name] = values[i]));
        const cell = { labels, n: 0 };
        map.set(key, cell);
        this.#cells.push(cell);
        return cell;
    }
}
/** The map under `key`, made on first use. */
function step(map, key) {
    let next = map.get(key);
    if (next === undefined)
        map.set(key, (next = new Map()));
    return next;
}
const STAGES = ['decision', 'credential', 'upstream', 'total'];
const STAGE_DECISION = 0;
const STAGE_CREDENTIAL = 1;
const STAGE_UPSTREAM = 2;
const STAGE_TOTAL = 3;
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
/**
 * `sidekey_request_duration_seconds`, a histogram by stage, registered as prom-client reads a
 * metric (`get`) and written in the same shape as its Histogram: observing is an increment in a
 * typed array, where prom-client's `observe` builds a closure, two objects and a hash string, four
 * times per exchange.
 */
class StageDurations {
    name = 'sidekey_request_duration_seconds';
    help = 'Time spent per stage: decision, credential, upstream (to response headers) and total';
    type = 'histogram';
    aggregator = 'sum';
    /** Per stage, the observations at or under each bucket's bound (not cumulative), then the rest. */
    #buckets = STAGES.map(() => new Float64Array(DURATION_BUCKETS.length + 1));
    #sums = new Float64Array(STAGES.length);
    #counts = new Float64Array(STAGES.length);
    constructor(registry) {
        registry.registerMetric(this);
    }
    /** Count `seconds` for the stage at `stage` (an index into STAGES). */
    observe(stage, seconds) {
        let i = 0;
        while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i])
            i++;
        this.#buckets[stage][i]++;
        this.#sums[stage] += seconds;
        this.#counts[stage]++;
    }
    /** The series, as prom-client's Histogram gives them: cumulative buckets, `+Inf`, sum, count per stage seen. */
    get() {
        const values = [];
        STAGES.forEach((stage, s) => {
            if (this.#counts[s] === 0)
                return;
            let cumulative = 0;
            DURATION_BUCKETS.forEach((le, i) => {
                cumulative += this.#buckets[s][i];
                values.push({ labels: { le, stage }, value: cumulative, metricName: `${this.name}_bucket` });
            });
            values.push({ labels: { le: '+Inf', stage }, value: this.#counts[s], metricName: `${this.name}_bucket` });
            values.push({ labels: { stage }, value: this.#sums[s], metricName: `${this.name}_sum` });
            values.push({ labels: { stage }, value: this.#counts[s], metricName: `${this.name}_count` });
        });
        return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
    }
    reset() {
        for (const b of this.#buckets)
            b.fill(0);
        this.#sums.fill(0);
        this.#counts.fill(0);
    }
}
/**
 * Prometheus metrics, served at /metrics on the admin listener. Label values come only from
 * policy (route and credential names), the fixed decision and reason strings, and workload names
 * (which an admin or the sidecar configuration chose): never a host or path the agent made up, so
 * the label sets stay bounded.
 */
export class Metrics {
    registry = new Registry();
    requests = new PendingCounter(this.registry, {
        name: 'sidekey_requests_total',
        help: 'Requests, tunnels and upgrades by workload, route, decision and outcome (served, upstream-error, pending, refused, failed, agent-gone)',
        labelNames: ['workload', 'route', 'decision', 'event', 'outcome'],
    });
    duration = new StageDurations(this.registry);
    credentials = new Counter({ name: 'sidekey_credentials_total', help: 'Credentials obtained by credential name and source (env, file, cache, fetch)', labelNames: ['credential', 'source'], registers: [this.registry] });
    credentialFailures = new Counter({ name: 'sidekey_credential_failures_total', help: 'Requests refused because their credential could not be obtained', labelNames: ['credential'], registers: [this.registry] });
    bytes = new PendingCounter(this.registry, {
        name: 'sidekey_bytes_total',
        help: 'Body bytes by workload and direction (up: to the upstream, down: to the agent)',
        labelNames: ['workload', 'direction'],
    });
    anomalies = new Counter({ name: 'sidekey_anomalies_total', help: 'Anomalies detected by workload and kind', labelNames: ['workload', 'kind'], registers: [this.registry] });
    quarantined = new Gauge({ name: 'sidekey_quarantined_workloads', help: 'Workloads currently quarantined', registers: [this.registry] });
    throttled = new Gauge({ name: 'sidekey_throttled_workloads', help: 'Workloads currently throttled', registers: [this.registry] });
    approvalsPending = new Gauge({ name: 'sidekey_approvals_pending', help: 'Requests held in this process waiting for a human decision', registers: [this.registry] });
    approvals = new Counter({ name: 'sidekey_approvals_total', help: 'Held requests by how they ended (approved, denied, expired, cancelled)', labelNames: ['status'], registers: [this.registry] });
    conditionRefusals = new Counter({ name: 'sidekey_condition_refusals_total', help: 'Requests refused by a route condition, by route and condition kind', labelNames: ['route', 'condition'], registers: [this.registry] });
    mcpCalls = new Counter({
        name: 'sidekey_mcp_calls_total',
        help: 'MCP messages on routes with an mcp: block, by route, the rule that allowed the call (its glob; "none" for a refused or unnamed call) and outcome',
        labelNames: ['route', 'rule', 'outcome'],
        registers: [this.registry],
    });
    mcpDuration = new Histogram({
        name: 'sidekey_mcp_call_duration_seconds',
        help: 'Time from the MCP POST to the end of its answer, by route and rule, for calls a rule allowed',
        labelNames: ['route', 'rule'],
        buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 120],
        registers: [this.registry],
    });
    alertFailures = new Counter({ name: 'sidekey_alert_delivery_failures_total', help: 'Webhook alert deliveries that failed after every retry', registers: [this.registry] });
    stateErrors = new Counter({ name: 'sidekey_state_store_errors_total', help: 'Shared state store operations that failed, by operation (count, approval, grant, quarantine, baselines, decisions, blob)', labelNames: ['op'], registers: [this.registry] });
    /** Read at scrape time; set by whoever owns the store. */
    stateAvailable = () => true;
    stateUp = new Gauge({
        name: 'sidekey_state_store_up',
        help: '1 when the state store answers (always 1 in memory), 0 while a shared store is unreachable',
        registers: [this.registry],
        collect: () => this.stateUp.set(this.stateAvailable() ? 1 : 0),
    });
    policyReloadFailures = new Counter({
        name: 'sidekey_policy_reload_failures_total',
        help: 'Policy reloads refused, the previous policy staying in force, by reason (unreadable, unsettled, invalid, emptied)',
        labelNames: ['reason'],
        registers: [this.registry],
    });
    /** Read at scrape time; set by whoever owns the connection registry. */
    openConnections = () => 0;
    connectionsOpen = new Gauge({
        name: 'sidekey_open_connections',
        help: 'Client connections open now on the proxy and transparent listeners (what --max-connections caps)',
        registers: [this.registry],
        collect: () => this.connectionsOpen.set(this.openConnections()),
    });
    /** Read at scrape time; set by whoever owns the policy store. */
    policyStatus = () => ({ loadedAt: new Date(0), stale: false });
    policyLoadedAt = new Gauge({
        name: 'sidekey_policy_last_reload_success_timestamp_seconds',
        help: 'Unix time the policy in force was loaded (at start, or by the last reload that succeeded)',
        registers: [this.registry],
        collect: () => this.policyLoadedAt.set(this.policyStatus().loadedAt.getTime() / 1000),
    });
    policyStale = new Gauge({
        name: 'sidekey_policy_stale',
        help: '1 while the last reload was refused and an older policy than the files on disk is in force, else 0',
        registers: [this.registry],
        collect: () => this.policyStale.set(this.policyStatus().stale ? 1 : 0),
    });
    constructor() {
        // Every reason from the first scrape, at 0, so `increase()` sees the first refusal.
        for (const reason of RELOAD_FAILURE_REASONS)
            this.policyReloadFailures.inc({ reason }, 0);
    }
    /** Count one finished request, tunnel or upgrade from its audit line. */
    observe(a, outcome = outcomeOf(a)) {
        const workload = a.workload ?? 'anonymous';
        this.requests.add5(workload, a.route ?? 'none', a.decision, a.event, outcome, 1);
        if (a.decision_ms !== null)
            this.duration.observe(STAGE_DECISION, a.decision_ms / 1000);
        if (a.credential_ms !== null)
            this.duration.observe(STAGE_CREDENTIAL, a.credential_ms / 1000);
        if (a.upstream_ms !== null)
            this.duration.observe(STAGE_UPSTREAM, a.upstream_ms / 1000);
        this.duration.observe(STAGE_TOTAL, a.total_ms / 1000);
        if (a.credential !== null) {
            if (a.credential_source !== null)
                this.credentials.inc({ credential: a.credential, source: a.credential_source });
            else if (a.error === 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE')
                this.credentialFailures.inc({ credential: a.credential });
        }
        if (a.condition !== null)
            this.conditionRefusals.inc({ route: a.route ?? 'none', condition: a.condition.split(' ')[0] });
        if (a.bytes_up > 0)
            this.bytes.add2(workload, 'up', a.bytes_up);
        if (a.bytes_down > 0)
            this.bytes.add2(workload, 'down', a.bytes_down);
        // Labelled by the rule's glob, never by the tool name the agent sent (that set is unbounded).
        if (a.mcp_method !== undefined) {
            const rule = a.mcp_rule ?? 'none';
            this.mcpCalls.inc({ route: a.route ?? 'none', rule, outcome });
            if (a.mcp_rule !== undefined)
                this.mcpDuration.observe({ route: a.route ?? 'none', rule }, a.total_ms / 1000);
        }
    }
}
//# sourceMappingURL=metrics.js.map