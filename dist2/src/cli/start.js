import { mkdir } from 'node:fs/promises';
import { auditLogPath, configFrom, logFileFor, SETTINGS } from '../config.js';
import { bufferedStdout } from '../observe/log-destination.js';
import { createLogger } from '../observe/logger.js';
import { startSidekey } from '../sidekey.js';
import { parse } from './args.js';
import { reportStart, startWarnings } from './start-report.js';
const START_FLAGS = SETTINGS.filter((s) => s.flag !== '--report-only' && s.flag !== '--shutdown-endpoint').map((s) => s.flag.slice(2));
/** The flags `sidekey run` passes on to a sidekey it embeds: not `--log` (its log is always certs/audit.log). */
export const EMBED_FLAGS = START_FLAGS.filter((f) => f !== 'log');
/**
 * `sidekey start`: run the proxy until SIGINT/SIGTERM (SIGTERM drains first, see
 * accept/drain.ts); SIGHUP reloads policy. Once listening it
 * warns of what will refuse requests (an unreadable credential source, routes whose files' order
 * decides) and, on a terminal, says where it listens and what to run next; there the log goes to
 * `certs/audit.log` (`sidekey audit --follow` shows it), elsewhere to standard output. Log lines (the
 * audit line of every exchange among them) are buffered and written in batches; every way the
 * process ends flushes them first, so none is lost: a signal (after in-flight exchanges are
 * closed and audited), an uncaught error (logged as fatal, then exit 1), or any other exit.
 */
export async function start(argv) {
    const { flags } = parse(argv, START_FLAGS, ['report-only', 'shutdown-endpoint']);
    const config = configFrom(flags);
    // On a terminal a person reads the summary; the log goes to a file `sidekey audit --follow` reads.
    const tty = process.stdout.isTTY === true;
    const logFile = logFileFor(flags.log, process.env, tty, config);
    // As loadOrCreateCA makes it (the CA key and admin token live there), before the log opens in it.
    if (logFile === auditLogPath(config))
        await mkdir(config.certsDir, { recursive: true, mode: 0o700 });
    const out = bufferedStdout({ file: logFile ?? undefined });
    const log = createLogger({ destination: out.destination });
    process.on('exit', () => out.flushNow());
    const crash = (err) => {
        log.fatal({ event: 'uncaught_error', err: err instanceof Error ? err.stack : String(err) }, 'uncaught error; sidekey exits');
        out.flushNow();
        if (logFile !== null)
            console.error(`sidekey: uncaught error; sidekey exits (see ${logFile}): ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
    };
    process.on('uncaughtException', crash);
    process.on('unhandledRejection', crash);
    // POST /v1/shutdown takes the same way out as SIGTERM: drain, then close.
    const onShutdownRequest = config.shutdownEndpoint ? () => void process.kill(process.pid, 'SIGTERM') : undefined;
    const running = await startSidekey(config, { logger: log, onShutdownRequest, logFile }).catch((err) => {
        out.close();
        throw err;
    });
    const policy = running.policy.current;
    reportStart({ proxyUrl: running.proxyUrl, adminUrl: running.adminUrl, routes: policy.routes.length, reportOnly: config.reportOnly, logFile }, await startWarnings(policy), { tty, write: (text) => process.stdout.write(text), log: running.log });
    process.on('SIGHUP', () => void running.policy.reload());
    await new Promise((resolve) => {
        const stop = () => {
            running.log.info({ event: 'stopping' }, 'sidekey stopping');
            void running.close().then(resolve);
        };
        // SIGTERM (the kubelet, systemd) drains first; SIGINT, or a second signal, stops at once.
        process.once('SIGINT', stop);
        process.once('SIGTERM', () => {
            process.once('SIGTERM', stop);
            running.log.info({ event: 'draining', timeout_ms: config.drainTimeoutMs }, 'sidekey draining: new connections refused, those in flight may finish');
            void running.drain(config.drainTimeoutMs).then((outcome) => {
                running.log.info({ event: 'drained', ...outcome }, outcome.drained ? 'every connection finished' : `drain time up; closing ${outcome.left} connection(s) still open`);
                stop();
            });
        });
    });
    out.close();
    return 0;
}
//# sourceMappingURL=start.js.map