import { request } from '../http/undici.js';
import { slackMessage } from './slack.js';
/** Most alerts kept waiting for delivery, of each priority; past this a high one drops the oldest (logged). */
const MAX_QUEUE = 1000;
/**
 * Most low-priority alerts of one group (a workload's anomalies of one kind) waiting at once.
 * Beyond it they are counted, not queued, and one `alerts_dropped` event says how many when the
 * group's queue has drained: an agent that raises a thousand anomalies of one kind (a thousand new
 * destinations) cannot push its other alerts, or other workloads', out of the queue.
 */
const MAX_PER_GROUP = 20;
/**
 * Delivers security events to a webhook as JSON (Slack and PagerDuty accept this through their
 * incoming-webhook and Events API adapters). Never on the request path: `send` queues and returns;
 * deliveries retry with exponential backoff and jitter; a failure after every retry is logged and
 * counted, never thrown. The URL may be a secret (Slack's are) and is never logged.
 *
 * Two queues: security events, approval requests and grant alerts (`high`) go before anomalies
 * (`low`), so a slow webhook and a flood of anomalies delay neither an approver nor the news of a
 * quarantine. Anomalies are bounded per workload and kind (MAX_PER_GROUP) and summarised beyond
 * (found by a red-team run: a thousand requests to new destinations dropped, oldest first, the
 * alerts that mattered, approval requests included).
 */
export class AlertSender {
    log;
    onFailure;
    backoffBaseMs;
    mask;
    #high = [];
    #low = [];
    /** Low-priority alerts queued, and dropped since the group's queue last drained, by group. */
    #queued = new Map();
    #droppedBy = new Map();
    #running = false;
    #stopped = false;
    /** Deliveries that succeeded and that were given up, for tests and metrics. */
    stats = { delivered: 0, failed: 0, dropped: 0 };
    /**
     * `mask` is applied to each alert's JSON before it is queued: the events are built from masked
     * audit records already, and this keeps any other alert (an approval) from carrying a managed
     * secret to a third party too.
     */
    constructor(log, onFailure = () => undefined, backoffBaseMs = 500, mask = (json) => json) {
        this.log = log;
        this.onFailure = onFailure;
        this.backoffBaseMs = backoffBaseMs;
        this.mask = mask;
    }
    /**
     * Queue `event` for `target`. A `low` alert names its `group` (workload and kind): past
     * MAX_PER_GROUP waiting it is counted instead, and summarised once the group drains.
     */
    send(event, target, priority = 'high', group = null) {
        if (target === null || this.#stopped)
            return;
        if (priority === 'low' && group !== null) {
            const waiting = this.#queued.get(group) ?? 0;
            if (waiting >= MAX_PER_GROUP || this.#low.length >= MAX_QUEUE) {
                this.stats.dropped++;
                const dropped = this.#droppedBy.get(group);
                if (dropped !== undefined)
                    dropped.count++;
                else {
                    const e = event;
                    this.#droppedBy.set(group, { count: 1, event: { workload: e.workload, kind: e.kind }, target });
                    this.log.warn({ event: 'alert_dropped', workload: e.workload, kind: e.kind }, 'too many alerts of one kind for one workload waiting; counting the rest, a summary follows');
                }
                return;
            }
            this.#queued.set(group, waiting + 1);
        }
        else if (this.#high.length >= MAX_QUEUE) {
            this.#high.shift();
            this.stats.dropped++;
            this.log.warn({ event: 'alert_dropped' }, 'alert queue full; oldest alert dropped');
        }
        const payload = target.format === 'slack' ? slackMessage(event) : event;
        const item = { body: this.mask(JSON.stringify(payload)), target, attempt: 0, group: priority === 'low' ? group : null };
        if (priority === 'low')
            this.#low.push(item);
        else
            this.#high.push(item);
        if (!this.#running)
            void this.#drain();
    }
    /** The next alert to deliver: high ones first. */
    #next() {
        return this.#high.shift() ?? this.#low.shift();
    }
    /** A low alert of `group` is done with (delivered or given up): when its group has drained, summarise what was dropped. */
    #settled(group) {
        if (group === null)
            return;
        const left = (this.#queued.get(group) ?? 1) - 1;
        if (left > 0)
            return void this.#queued.set(group, left);
        this.#queued.delete(group);
        const dropped = this.#droppedBy.get(group);
        if (dropped === undefined)
            return;
        this.#droppedBy.delete(group);
        this.send({ event: 'security_event', type: 'alerts_dropped', workload: dropped.event.workload, kind: dropped.event.kind, dropped: dropped.count }, dropped.target);
    }
    async #drain() {
        this.#running = true;
        for (let item = this.#next(); item !== undefined && !this.#stopped; item = this.#next()) {
            const ok = await this.#deliver(item.body, item.target);
            if (ok) {
                this.stats.delivered++;
                this.#settled(item.group);
                continue;
            }
            if (item.attempt < item.target.retries) {
                item.attempt++;
                const ceiling = this.backoffBaseMs * 2 ** (item.attempt - 1);
                const delay = ceiling / 2 + Math.random() * (ceiling / 2);
                const timer = setTimeout(() => {
                    ;
                    (item.group === null ? this.#high : this.#low).unshift(item);
                    if (!this.#running)
                        void this.#drain();
                }, delay);
                timer.unref();
            }
            else {
                this.stats.failed++;
                this.onFailure();
                this.log.error({ event: 'alert_failed', attempts: item.attempt + 1 }, 'alert webhook failed after every retry');
                this.#settled(item.group);
            }
        }
        this.#running = false;
    }
    async #deliver(body, target) {
        try {
            const url = typeof target.url === 'string' ? target.url : await target.url.read(true);
            const res = await request(url, {
                method: 'POST',
                headers: { 'content-type': 'application/json', 'user-agent': 'sidekey' },
                body,
                headersTimeout: target.timeoutMs,
                bodyTimeout: target.timeoutMs,
            });
            await res.body.dump();
            return res.statusCode >= 200 && res.statusCode < 300;
        }
        catch {
            return false;
        }
    }
    stop() {
        this.#stopped = true;
    }
}
//# sourceMappingURL=alerts.js.map