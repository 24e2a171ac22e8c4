import { pino } from 'pino'

/** The buffered log destination of a long-running sidekey, and how to empty it. */
export interface BufferedLog {
  readonly destination: ReturnType<typeof pino.destination>
  /** Write out whatever is buffered, now, synchronously (at exit: nothing written may be lost). */
  flushNow(): void
  /** Stop the periodic flush (the buffer is flushed once more). */
  close(): void
}

/**
 * Standard output (or `file`), written asynchronously in batches: one write per few kilobytes of log instead
 * of one blocking write per audit line (at thousands of requests a second the per-line write was a
 * tenth of sidekey's CPU). Nothing may be lost: the buffer is flushed every `flushMs` (so a quiet
 * log is still current for `tail -f` and log shippers), and synchronously when the process stops
 * (`flushNow`, which `sidekey start` calls on SIGTERM, SIGINT, an uncaught error and at exit).
 */
export function bufferedStdout(options: { minLength?: number; flushMs?: number; file?: string } = {}): BufferedLog {
  // `file`: appended to instead (`sidekey start` on a terminal), readable by sidekey's user only.
  const target = options.file === undefined ? { dest: 1 } : { dest: options.file, append: true, mode: 0o600 }
  const destination = pino.destination({ ...target, sync: false, minLength: options.minLength ?? 8192 })
  const timer = setInterval(() => destination.flush(), options.flushMs ?? 200)
  timer.unref()
  const flushNow = (): void => {
    try {
      destination.flushSync()
    } catch {
      // Standard output already closed (the reader went away): nothing more can be written.
    }
  }
  return {
    destination,
    flushNow,
    close() {
      clearInterval(timer)
      flushNow()
    },
  }
}
