import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { auditLogPath } from '../config.js';
import { PolicyInvalidError, SidekeyError } from '../errors.js';
import { createLogger } from '../observe/logger.js';
import { loadPolicyPath } from '../policy/load.js';
import { startSidekey } from '../sidekey.js';
import { startWarnings } from './start-report.js';
/**
 * No sidekey answers at `adminUrl`: start one in this process on free loopback ports. The policy
 * is read first, so a directory without one gets no CA and no admin token before the refusal.
 * The start is announced in one line on stderr; its log (audit lines included) goes to
 * `certs/audit.log`, never into the agent's stderr, and the certs directory is hidden from a
 * sandboxed agent, so the agent can neither read nor rewrite that log.
 */
export async function startEmbedded(config, workload, adminUrl) {
    const policies = resolve(config.policyPath);
    const policy = await loadPolicyPath(policies).catch((err) => {
        // Only an absent or unreadable policy path gets this advice; a broken policy is reported as itself.
        const unreadable = err instanceof PolicyInvalidError && err.problems.length === 1 && err.problems[0].file === policies && err.problems[0].line === 0;
        if (!unreadable)
            throw err;
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `no sidekey answers at ${adminUrl}, and none can start here: ${err.problems[0].message}: ${policies}. Start sidekey where its policies are (sidekey start), set SIDEKEY_HOME to the directory holding policies/ and certs/, or pass --policies DIR`);
    });
    const logFile = auditLogPath(config);
    // As loadOrCreateCA makes it: the CA key and admin token live here.
    await mkdir(config.certsDir, { recursive: true, mode: 0o700 });
    console.error(`sidekey run: no sidekey answers at ${adminUrl}; starting one in this process with the policies in ${policies} (its log: ${logFile}; --no-embed refuses instead)`);
    for (const w of await startWarnings(policy))
        console.error(`sidekey run: warning: ${w.message}`);
    const destination = pino.destination({ dest: logFile, append: true, sync: true, mode: 0o600 });
    const sidekey = await startSidekey({ ...config, listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 } }, { logger: createLogger({ destination }) }).catch((err) => {
        destination.end();
        throw err;
    });
    const { token, info } = sidekey.runTokens.mint(workload);
    return {
        proxyPort: sidekey.proxyPort,
        token,
        secretEnvNames: sidekey.policy.current.secretEnvNames,
        sidekey,
        async end() {
            sidekey.runTokens.revoke(info.id);
            await sidekey.close();
            // Written synchronously, so nothing is pending; not ended, because a part that finishes
            // closing a moment later (a connection's close event) may still log, and a write to an
            // ended destination throws. The file closes when this process exits.
            destination.flushSync();
        },
    };
}
//# sourceMappingURL=embed.js.map