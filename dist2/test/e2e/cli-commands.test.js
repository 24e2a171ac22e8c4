import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DEFAULTS } from '../../src/config.js';
import { startSidekey } from '../../src/sidekey.js';
import { LogSink } from '../helpers/log-sink.js';
import { startUpstream } from '../helpers/upstream.js';
// The CLI as users run it: a real process, real files, exit codes and output checked.
const CLI = join(process.cwd(), 'dist/src/cli/main.js');
function sidekey(args, env = process.env) {
    return new Promise((resolve) => {
        execFile(process.execPath, [CLI, ...args], { env, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
            resolve({ code: err === null ? 0 : Number(err.code ?? 1), stdout, stderr });
        });
    });
}
t.test('policy check', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-cli-'));
    const ok = await sidekey(['policy', 'check', join(process.cwd(), 'policies')]);
    t.equal(ok.code, 0, ok.stderr);
    t.match(ok.stdout, /^ok: \d+ route\(s\)/);
    await writeFile(join(dir, 'broken.yaml'), 'version: v1\nroutes:\n  - name: a\n    host: api.test\n    acton: deny\n  - name: b\n    hots: x\n');
    const bad = await sidekey(['policy', 'check', dir]);
    t.equal(bad.code, 1);
    t.match(bad.stderr, new RegExp(`${join(dir, 'broken.yaml')}:5: routes\\[0\\]\\.acton: unknown property`));
    t.match(bad.stderr, new RegExp(`${join(dir, 'broken.yaml')}:7: routes\\[1\\]\\.hots: unknown property`));
    t.match(bad.stderr, /routes\[1\]: host is required/);
    t.match(bad.stderr, /3 problem\(s\); policy refused/);
    t.notMatch(bad.stderr, /at .*\.js:\d+/, 'no stack trace');
});
t.test('policy check warns about routes that can never match', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-cli-'));
    await writeFile(join(dir, 'p.yaml'), 'version: v1\nroutes:\n  - { name: all, host: api.github.com }\n  - { name: no-delete, host: api.github.com, methods: [DELETE], action: deny }\n');
    const r = await sidekey(['policy', 'check', dir]);
    t.equal(r.code, 0, 'a warning is not an error');
    t.match(r.stderr, /p\.yaml:4: warning: route "no-delete" is never reached: route "all" \(.*p\.yaml:3\) comes first/);
});
t.test('policy check: several paths checked one by one; a policy without routes is a warning', async (t) => {
    const empty = await mkdtemp(join(tmpdir(), 'sidekey-cli-'));
    const broken = await mkdtemp(join(tmpdir(), 'sidekey-cli-'));
    await writeFile(join(broken, 'p.yaml'), 'version: v2\n');
    const r = await sidekey(['policy', 'check', join(process.cwd(), 'policies'), empty, broken]);
    t.equal(r.code, 1, 'one broken path fails the check');
    t.match(r.stdout, new RegExp(`${join(process.cwd(), 'policies')}: ok: \\d+ route`));
    t.match(r.stderr, new RegExp(`${empty}: warning: no routes: sidekey would refuse every request`));
    t.match(r.stderr, /unsupported version "v2"/);
    t.match(r.stderr, new RegExp(`${broken}: 1 problem\\(s\\); policy refused`));
});
t.test('ca init and ca show', async (t) => {
    const certs = join(await mkdtemp(join(tmpdir(), 'sidekey-cli-')), 'certs');
    const init = await sidekey(['ca', 'init', '--certs', certs]);
    t.equal(init.code, 0, init.stderr);
    t.equal((await stat(join(certs, 'ca-key.pem'))).mode & 0o777, 0o600, 'key file mode 0600');
    t.not((await stat(join(certs, 'ca.pem'))).mode & 0o044, 0, 'the certificate (only) is readable by others, so agents can trust it');
    const again = await sidekey(['ca', 'init', '--certs', certs]);
    t.equal(again.code, 1);
    t.match(again.stderr, /SIDEKEY_ERR_CA: a CA already exists/);
    const show = await sidekey(['ca', 'show', '--certs', certs]);
    t.equal(show.code, 0);
    // A relative --certs still exports absolute paths: the agent's shell may change directory.
    const relative = await new Promise((resolve) => {
        execFile(process.execPath, [CLI, 'ca', 'show', '--certs', 'certs'], { cwd: join(certs, '..'), encoding: 'utf8' }, (_err, stdout) => resolve(stdout));
    });
    t.match(relative, new RegExp(`^export SSL_CERT_FILE=${join(certs, 'bundle.pem').replace(/[.]/g, '\\.')}$`, 'm'));
    for (const name of ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'GIT_SSL_CAINFO'])
        t.match(show.stdout, new RegExp(`^export ${name}=`, 'm'));
    t.notMatch(show.stdout, /PRIVATE KEY/);
    const forced = await sidekey(['ca', 'init', '--force', '--certs', certs]);
    t.equal(forced.code, 0, '--force replaces the CA');
});
t.test('explain', async (t) => {
    const policies = join(process.cwd(), 'policies');
    // Allowed by policy, but without OPENAI_API_KEY in the environment it would fail now: exit 3.
    const allow = await sidekey(['explain', 'POST', 'https://api.openai.com/v1/chat/completions', '--workload', 'agent', '--policies', policies], { ...process.env, OPENAI_API_KEY: '' });
    t.equal(allow.code, 3);
    t.match(allow.stdout, /decision: allow \(route-allows\) by route "openai"/);
    t.match(allow.stdout, /outcome: refused now: credential "openai-key": variable OPENAI_API_KEY is not set in sidekey's environment/);
    t.match(allow.stdout, /credential: openai-key cannot be injected now/);
    t.match(allow.stdout, /\+ openai .*openai\.yaml:\d+ {2}matches \(allow\)/);
    const deny = await sidekey(['explain', 'DELETE', 'https://api.github.com/repos/acme/site', '--workload', 'agent', '--policies', policies]);
    t.equal(deny.code, 1);
    t.match(deny.stdout, /decision: deny \(route-denies\) by route "github-no-repo-delete"/);
    const none = await sidekey(['explain', 'GET', 'https://exfil.example/upload', '--workload', 'agent', '--policies', policies, '--json']);
    t.equal(none.code, 1);
    t.match(JSON.parse(none.stdout), { decision: { action: 'deny', reason: 'no-route', code: 'SIDEKEY_ERR_NO_ROUTE' } });
    // A route that allows, with a condition that refuses: the answer says refused, not injected.
    const conditioned = await sidekey(['explain', 'POST', 'https://api.stripe.com/v1/refunds', '--workload', 'agent', '--policies', policies, '--body', '{"amount":1}']);
    t.equal(conditioned.code, 1);
    t.match(conditioned.stdout, /outcome: refused by /);
    t.match(conditioned.stdout, /credential: stripe-key not obtained \(refused first\)/);
    t.notMatch(conditioned.stdout, /stripe-key injected/);
});
t.test('explain an MCP tool call (policies/github-mcp.yaml)', async (t) => {
    const policies = join(process.cwd(), 'policies');
    const env = { ...process.env, GITHUB_MCP_TOKEN: 'x' };
    const explainTool = (tool, args = '{"owner":"acme"}') => sidekey(['explain', 'POST', 'https://api.githubcopilot.com/mcp', '--workload', 'coding-agent', '--policies', policies, '--mcp-tool', tool, '--mcp-args', args], env);
    // Allowed by policy: 0, or 3 where the host does not resolve (no network here); never 1.
    const allowed = await explainTool('search_issues');
    t.not(allowed.code, 1, allowed.stderr);
    t.notMatch(allowed.stdout, /outcome: refused by/);
    t.match(allowed.stdout, /pass {8}mcp tools\/call "search_issues" {2}\(allowed by rule "search_issues"\)/);
    const held = await explainTool('delete_repo');
    t.not(held.code, 1);
    t.match(held.stdout, /holds {7}github-mcp\/tool:delete_\* approval/);
    const denied = await explainTool('admin_wipe');
    t.equal(denied.code, 1);
    t.match(denied.stdout, /outcome: refused by mcp tools\/call "admin_wipe" .*SIDEKEY_ERR_MCP_DENIED/);
    const variant = await explainTool('Delete_repo');
    t.equal(variant.code, 1);
    t.match(variant.stdout, /SIDEKEY_ERR_MCP_NAME_REFUSED/);
    const badArgs = await explainTool('search_issues', '{not json');
    t.equal(badArgs.code, 1);
    t.match(badArgs.stderr, /--mcp-args must be a JSON object/);
});
t.test('usage errors are short and clear', async (t) => {
    const unknown = await sidekey(['frobnicate']);
    t.equal(unknown.code, 2);
    t.match(unknown.stderr, /unknown command "frobnicate"/);
    const flag = await sidekey(['start', '--no-such-flag']);
    t.equal(flag.code, 2, 'a usage error, like any other');
    t.match(flag.stderr, /^sidekey start: unknown option --no-such-flag \(see sidekey --help\)$/m);
    t.notMatch(flag.stderr, /at .*\.js:\d+/);
    const noCmd = await sidekey(['run', '--workload', 'x']);
    t.equal(noCmd.code, 2);
    t.match(noCmd.stderr, /usage: sidekey run/);
    const noDashes = await sidekey(['run', '--workload', 'x', 'curl', 'https://example.com']);
    t.equal(noDashes.code, 2);
    t.match(noDashes.stderr, /put -- before the agent's command/);
    for (const args of [['start', '--help'], ['run', '-h'], ['policy', '--help']]) {
        const help = await sidekey(args);
        t.equal(help.code, 0, `${args.join(' ')} exits 0`);
        t.match(help.stdout, /^usage:/m, `${args.join(' ')} prints the usage`);
    }
});
t.test('run attaches to a running sidekey, and revokes its token when the agent exits', async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-cli-'));
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'p.yaml'), `version: v1
credentials:
  k: { type: static, env: CLI_TEST_SECRET }
routes:
  - { name: api, host: api.test, ports: [${upstream.port}], workloads: [w2], credential: k, addresses: [127.0.0.1] }
`);
    process.env.CLI_TEST_SECRET = 'cli-secret-81f3';
    const sink = new LogSink();
    const running = await startSidekey({ ...DEFAULTS, listen: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, policyPath: join(dir, 'policies'), certsDir: join(dir, 'certs'), connectTo: new Map([[`api.test:${upstream.port}`, { host: '127.0.0.1', port: upstream.port }]]), watchPolicy: false }, { logger: sink.logger() });
    t.teardown(() => running.close());
    const adminPort = new URL(running.adminUrl).port;
    const agent = `
    const { ProxyAgent, request } = await import('undici')
    console.log(JSON.stringify({ proxy: process.env.HTTP_PROXY, key: process.env.CLI_TEST_SECRET, ca: process.env.NODE_EXTRA_CA_CERTS, bundle: process.env.REQUESTS_CA_BUNDLE }))
    const res = await request('http://api.test:${upstream.port}/v1/x', { dispatcher: new ProxyAgent({ uri: process.env.HTTP_PROXY, proxyTunnel: false }) })
    console.log('status', res.statusCode)
    process.exit(7)
  `;
    const r = await sidekey(['run', '--workload', 'w2', '--certs', join(dir, 'certs'), '--admin', `127.0.0.1:${adminPort}`, '--', process.execPath, '--input-type=module', '-e', agent]);
    t.equal(r.code, 7, 'the agent\'s exit code is passed through');
    const seen = JSON.parse(r.stdout.split('\n')[0]);
    t.match(seen.proxy, new RegExp(`^http://w2:sk_run_[A-Za-z0-9_-]+@127\\.0\\.0\\.1:${new URL(running.proxyUrl).port}$`));
    t.equal(seen.key, 'sidekey-placeholder', 'the agent never saw the secret');
    t.equal(seen.ca, join(dir, 'certs', 'ca.pem'));
    t.equal(seen.bundle, join(dir, 'certs', 'bundle.pem'));
    t.match(r.stdout, /status 200/);
    t.equal(upstream.seen.at(-1).headers.authorization, 'Bearer cli-secret-81f3');
    t.same(running.runTokens.list(), [], 'the token was revoked when the agent exited');
    t.notOk(r.stdout.includes('cli-secret-81f3') || r.stderr.includes('cli-secret-81f3'));
});
t.test('demo runs on loopback and shows injection, a deny and a refusal', async (t) => {
    const r = await sidekey(['demo']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /"key_is_real":true/);
    t.match(r.stdout, /403 x-sidekey-error: SIDEKEY_ERR_ROUTE_DENIED/);
    t.match(r.stdout, /refused at CONNECT/);
    t.match(r.stdout, /The secret appears in none of the log lines\./);
});
//# sourceMappingURL=cli-commands.test.js.map