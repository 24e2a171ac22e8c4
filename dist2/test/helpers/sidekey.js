import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS } from '../../src/config.js';
import { startSidekey } from '../../src/sidekey.js';
import { LogSink } from './log-sink.js';
/** Secret values tests put in sidekey's environment; none may ever appear in a log line. */
export const SECRETS = {
    OPENAI: 'sk-test-openai-5f2b8e0c1d',
    GITHUB: 'ghp_test_github_93ad71c2',
    FILE: 'file-secret-7c1e40aa',
    QUERY: 'query-secret-2b9d55e1',
};
/**
 * Start sidekey in-process on free loopback ports with `policy` (YAML text) as its only policy
 * file. Secrets are set in this process's environment. It closes at teardown; end each test file
 * with `noSecretsLogged` (tap allows no assertion in a teardown).
 */
export async function startTestSidekey(t, policy, options = {}) {
    process.env.TEST_OPENAI_KEY = SECRETS.OPENAI;
    process.env.TEST_GITHUB_TOKEN = SECRETS.GITHUB;
    process.env.TEST_QUERY_KEY = SECRETS.QUERY;
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'sidekey-test-')));
    const policyDir = join(dir, 'policies');
    await import('node:fs/promises').then((fs) => fs.mkdir(policyDir, { recursive: true }));
    await writeFile(join(policyDir, 'policy.yaml'), policy);
    await writeFile(join(dir, 'secret.txt'), `${SECRETS.FILE}\n`);
    const config = {
        ...DEFAULTS,
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        policyPath: policyDir,
        certsDir: join(dir, 'certs'),
        workload: options.workload === undefined ? null : options.workload,
        reportOnly: options.reportOnly ?? false,
        upstreamCaFile: options.upstreamCaFile ?? null,
        connectTo: new Map(Object.entries(options.connectTo ?? {})),
        headersTimeoutMs: options.headersTimeoutMs ?? DEFAULTS.headersTimeoutMs,
        watchPolicy: options.watchPolicy ?? false,
        statePath: options.statePath ?? null,
        transparentHttp: options.transparent ? [{ from: 80, listen: { host: '127.0.0.1', port: 0 } }] : [],
        transparentHttps: options.transparent ? [{ from: 443, listen: { host: '127.0.0.1', port: 0 } }] : [],
        // Anything else a test sets (small limits, short timeouts), last so it wins.
        ...options.config,
    };
    const sink = new LogSink();
    const sidekey = await startSidekey(config, { logger: sink.logger(), ...(options.now ? { now: options.now } : {}), ...(options.resolver ? { resolver: options.resolver } : {}) });
    t.teardown(() => {
        // A failure in CI is often a timing one that does not reproduce: leave sidekey's own account of
        // what went wrong (warnings, errors, failed interceptions and refused requests) in the output.
        if (!t.passing()) {
            const telling = sink.raw.filter((l) => /"level":(40|50|60)|intercept_failed|"error":"SIDEKEY_ERR/.test(l)).slice(-40);
            if (telling.length > 0)
                process.stderr.write(`sidekey's log around the failure (last ${telling.length} telling lines):\n${telling.join('\n')}\n`);
        }
        return sidekey.close();
    });
    return {
        ...sidekey,
        sink,
        dir,
        policyDir,
        close: sidekey.close,
        proxyUrlFor(workload) {
            const { token } = sidekey.runTokens.mint(workload);
            return sidekey.proxyUrl.replace('http://', `http://${workload}:${token}@`);
        },
    };
}
/** The last subtest of a file: no captured log line holds any test secret. */
export function noSecretsLogged(t, sk) {
    t.test('no secret value appears in any log line', async (t) => {
        t.ok(sk.sink.raw.length > 0, 'log lines were captured');
        t.same(sk.sink.leaks(Object.values(SECRETS)), []);
    });
}
//# sourceMappingURL=sidekey.js.map