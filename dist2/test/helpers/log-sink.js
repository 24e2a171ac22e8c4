import { Writable } from 'node:stream';
import { createLogger } from '../../src/observe/logger.js';
import { pollFor } from './poll.js';
/** Captures pino output as parsed lines, so tests assert on audit lines and on absent secrets. */
export class LogSink extends Writable {
    raw = [];
    _write(chunk, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n'))
            if (line.trim() !== '')
                this.raw.push(line);
        done();
    }
    get lines() {
        return this.raw.map((l) => JSON.parse(l));
    }
    /** Audit lines, oldest first. */
    get audits() {
        return this.lines.filter((l) => l.msg === 'audit');
    }
    /** Wait until an audit line matching `pred` is written (audit lines are written at close). */
    async waitForAudit(pred, timeoutMs = 5000) {
        const hit = await pollFor(() => this.audits.find(pred), (a) => a !== undefined, timeoutMs, 20);
        if (hit === undefined)
            throw new Error(`no matching audit line; have:\n${this.raw.join('\n')}`);
        return hit;
    }
    /** Lines (raw text) containing any of `secrets`. */
    leaks(secrets) {
        return this.raw.filter((l) => secrets.some((s) => l.includes(s)));
    }
    logger() {
        return createLogger({ level: 'debug', destination: this });
    }
}
//# sourceMappingURL=log-sink.js.map