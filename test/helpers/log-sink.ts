import { Writable } from 'node:stream'
import { createLogger } from '../../src/observe/logger.js'
import type { AuditRecord } from '../../src/observe/audit.js'
import { pollFor } from './poll.js'

/** Captures pino output as parsed lines, so tests assert on audit lines and on absent secrets. */
export class LogSink extends Writable {
  readonly raw: string[] = []

  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') this.raw.push(line)
    done()
  }

  get lines(): Record<string, unknown>[] {
    return this.raw.map((l) => JSON.parse(l) as Record<string, unknown>)
  }

  /** Audit lines, oldest first. */
  get audits(): AuditRecord[] {
    return this.lines.filter((l) => l.msg === 'audit') as unknown as AuditRecord[]
  }

  /** Wait until an audit line matching `pred` is written (audit lines are written at close). */
  async waitForAudit(pred: (a: AuditRecord) => boolean, timeoutMs = 5000): Promise<AuditRecord> {
    const hit = await pollFor(() => this.audits.find(pred), (a) => a !== undefined, timeoutMs, 20)
    if (hit === undefined) throw new Error(`no matching audit line; have:\n${this.raw.join('\n')}`)
    return hit
  }

  /** Lines (raw text) containing any of `secrets`. */
  leaks(secrets: readonly string[]): string[] {
    return this.raw.filter((l) => secrets.some((s) => l.includes(s)))
  }

  logger() {
    return createLogger({ level: 'debug', destination: this })
  }
}
