import { pino } from 'pino';
/**
 * Paths pino censors whatever code logs them: a second line of defence behind the rule that
 * secrets are never passed to the logger at all (pino docs/redaction.md). Fixed paths only:
 * wildcard paths make fast-redact walk every logged object, which showed up at 4% of CPU in the
 * benchmark, on audit lines that by construction hold no such field.
 */
export const REDACT_PATHS = [
    'secret',
    'token',
    'headers.authorization',
    'headers["proxy-authorization"]',
    'headers["x-api-key"]',
    'headers.cookie',
    'req.headers.authorization',
    'req.headers["proxy-authorization"]',
    'req.headers["x-api-key"]',
    'req.headers.cookie',
];
/** The process logger: JSON lines, ISO time, redaction. `destination` lets tests capture lines. */
export function createLogger(options = {}) {
    return pino({
        name: 'sidekey',
        level: options.level ?? process.env.SIDEKEY_LOG_LEVEL ?? 'info',
        timestamp: pino.stdTimeFunctions.isoTime,
        redact: { paths: REDACT_PATHS, censor: '[redacted]' },
        base: undefined,
        formatters: { level: (label) => ({ level: label }) },
    }, options.destination);
}
/**
 * Write a line the caller serialized itself (`fields`: one JSON object) as exactly the line
 * `log[level](fields, msg)` would write with the options above (level label, ISO time, the
 * logger's bindings, the fields, `msg`), on the logger's own destination. For the audit line, whose
 * fixed-shape record one `JSON.stringify` serializes several times faster than pino's
 * field-by-field serializer; it has none of the REDACT_PATHS fields. The caller checks the level.
 */
export function writeSerialized(log, level, fields, msg) {
    const bindings = log[pino.symbols.chindingsSym] ?? '';
    const stream = log[pino.symbols.streamSym];
    stream.write(`{"level":"${level}","time":"${new Date().toISOString()}"${bindings},${fields.slice(1, -1)},"msg":${JSON.stringify(msg)}}\n`);
}
//# sourceMappingURL=logger.js.map