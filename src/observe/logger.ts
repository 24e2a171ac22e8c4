import { pino, type DestinationStream, type Logger } from 'pino'

/**
 * Paths pino censors whatever code logs them: a second line of defence behind the rule that
 * secrets are never passed to the logger at all (pino docs/redaction.md).
 */
export const REDACT_PATHS = [
  'secret',
  'token',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers["x-api-key"]',
  'headers.cookie',
  '*.secret',
  '*.token',
  '*.headers.authorization',
  '*.headers["proxy-authorization"]',
  '*.headers["x-api-key"]',
  '*.headers.cookie',
]

/** The process logger: JSON lines, ISO time, redaction. `destination` lets tests capture lines. */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: 'sidekey',
      level: options.level ?? process.env.SIDEKEY_LOG_LEVEL ?? 'info',
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: undefined,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  )
}
