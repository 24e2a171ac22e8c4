import type { Logger } from 'pino'
import { request } from '../http/undici.js'
import type { SecretSource } from '../credentials/secret-source.js'
import { slackMessage } from './slack.js'

/** Where alerts go and how hard to try. */
export interface WebhookTarget {
  readonly url: SecretSource | string
  readonly timeoutMs: number
  readonly retries: number
  /** `json`: the event as it is; `slack`: a Slack incoming-webhook message about it. */
  readonly format: 'json' | 'slack'
}

/** Most alerts kept waiting for delivery; past this the oldest is dropped (and logged). */
const MAX_QUEUE = 1000

/**
 * Delivers security events to a webhook as JSON (Slack and PagerDuty accept this through their
 * incoming-webhook and Events API adapters). Never on the request path: `send` queues and returns;
 * deliveries retry with exponential backoff and jitter; a failure after every retry is logged and
 * counted, never thrown. The URL may be a secret (Slack's are) and is never logged.
 */
export class AlertSender {
  readonly #queue: { body: string; target: WebhookTarget; attempt: number }[] = []
  #running = false
  #stopped = false
  /** Deliveries that succeeded and that were given up, for tests and metrics. */
  readonly stats = { delivered: 0, failed: 0, dropped: 0 }

  /**
   * `mask` is applied to each alert's JSON before it is queued: the events are built from masked
   * audit records already, and this keeps any other alert (an approval) from carrying a managed
   * secret to a third party too.
   */
  constructor(
    private readonly log: Logger,
    private readonly onFailure: () => void = () => undefined,
    private readonly backoffBaseMs = 500,
    private readonly mask: (json: string) => string = (json) => json,
  ) {}

  send(event: unknown, target: WebhookTarget | null): void {
    if (target === null || this.#stopped) return
    if (this.#queue.length >= MAX_QUEUE) {
      this.#queue.shift()
      this.stats.dropped++
      this.log.warn({ event: 'alert_dropped' }, 'alert queue full; oldest alert dropped')
    }
    const payload = target.format === 'slack' ? slackMessage(event) : event
    this.#queue.push({ body: this.mask(JSON.stringify(payload)), target, attempt: 0 })
    if (!this.#running) void this.#drain()
  }

  async #drain(): Promise<void> {
    this.#running = true
    while (this.#queue.length > 0 && !this.#stopped) {
      const item = this.#queue.shift()!
      const ok = await this.#deliver(item.body, item.target)
      if (ok) {
        this.stats.delivered++
        continue
      }
      if (item.attempt < item.target.retries) {
        item.attempt++
        const ceiling = this.backoffBaseMs * 2 ** (item.attempt - 1)
        const delay = ceiling / 2 + Math.random() * (ceiling / 2)
        const timer = setTimeout(() => {
          this.#queue.unshift(item)
          if (!this.#running) void this.#drain()
        }, delay)
        timer.unref()
      } else {
        this.stats.failed++
        this.onFailure()
        this.log.error({ event: 'alert_failed', attempts: item.attempt + 1 }, 'alert webhook failed after every retry')
      }
    }
    this.#running = false
  }

  async #deliver(body: string, target: WebhookTarget): Promise<boolean> {
    try {
      const url = typeof target.url === 'string' ? target.url : await target.url.read(true)
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'sidekey' },
        body,
        headersTimeout: target.timeoutMs,
        bodyTimeout: target.timeoutMs,
      })
      await res.body.dump()
      return res.statusCode >= 200 && res.statusCode < 300
    } catch {
      return false
    }
  }

  stop(): void {
    this.#stopped = true
  }
}
