import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, {} from 'tap';
import { ProxyAgent, request } from 'undici';
import { curl } from '../helpers/clients.js';
import { pollFor } from '../helpers/poll.js';
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream } from '../helpers/upstream.js';
// Hot reload: a changed file takes effect without a restart; a broken one is refused whole and
// the old policy stays in force; requests in flight are unaffected.
const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const route = (name, host, port) => `  - { name: ${name}, host: ${host}, ports: [${port}], addresses: [127.0.0.1] }\n`;
t.test('policy hot reload', async (t) => {
    const upstream = await startUpstream((req, res) => {
        setTimeout(() => res.end('done'), req.url === '/slow' ? 400 : 0);
    });
    t.teardown(() => upstream.close());
    const port = upstream.port;
    const connectTo = Object.fromEntries(['one.test', 'two.test'].map((h) => [`${h}:${port}`, { host: '127.0.0.1', port }]));
    const sk = await startTestSidekey(t, `version: v1\nroutes:\n${route('one', 'one.test', port)}`, { watchPolicy: true, connectTo });
    const proxy = sk.proxyUrlFor('agent');
    const file = join(sk.policyDir, 'policy.yaml');
    const status = async (host, path = '/') => (await curl(['-x', proxy, `http://${host}:${port}${path}`])).status;
    const until = (pred) => pollFor(pred, (holds) => holds, 5000, 100);
    t.equal(await status('two.test'), 403);
    const inFlight = curl(['-x', proxy, `http://one.test:${port}/slow`]);
    // In flight: the upstream has it, and answers it 400 ms later.
    await pollFor(() => upstream.seen.some((s) => s.url === '/slow'), (arrived) => arrived);
    await writeFile(file, `version: v1\nroutes:\n${route('one', 'one.test', port)}${route('two', 'two.test', port)}`);
    t.ok(await until(async () => (await status('two.test')) === 200), 'the new route took effect without a restart');
    t.equal((await inFlight).status, 200, 'the request in flight during the reload completed');
    t.ok(sk.sink.lines.some((l) => l.event === 'policy_reloaded'));
    await writeFile(file, `version: v1\nroutes:\n${route('one', 'one.test', port)}  - { name: two, hots: two.test }\n`);
    t.ok(await until(async () => sk.sink.lines.some((l) => l.event === 'policy_reload_refused')), 'the broken file was refused');
    const refused = sk.sink.lines.find((l) => l.event === 'policy_reload_refused');
    t.match(refused.problems.join('\n'), new RegExp(`${file}:4: routes\\[1\\]\\.hots: unknown property`));
    t.equal(await status('two.test'), 200, 'the previous policy stays in force');
    const reload = async () => {
        const res = await request(`${sk.adminUrl}/v1/policy/reload`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}` } });
        await res.body.dump();
        return res.statusCode;
    };
    t.equal(await reload(), 422, 'reload through the admin API reports the refusal');
    await writeFile(file, `version: v1\nroutes:\n${route('one', 'one.test', port)}`);
    t.equal(await reload(), 200);
    t.equal(await status('two.test'), 403, 'the route is gone once the fixed file is loaded');
});
// Issue #20, item 11: a policy file read while it is being written in place (`cp`, shell
// redirection, editors that truncate then write) is empty, or valid YAML with fewer routes. Here
// `00-deny.yaml` denies /v1/admin/** and `policy.yaml` allows the rest of api.test, so a deny file
// loaded as "no rules" lets the admin path through. A prober asks for that path through the proxy
// the whole time; before the fix it was answered 200 during the writes.
const DENY_ADMIN = (port) => `  - { name: deny-admin, host: api.test, ports: [${port}], paths: ['/v1/admin/**'], action: deny }\n`;
const DENY_DEBUG = (port) => `  - { name: deny-debug, host: api.test, ports: [${port}], paths: ['/v1/debug/**'], action: deny }\n`;
const ALLOW_API = (port) => `version: v1\nroutes:\n  - { name: api, host: api.test, ports: [${port}], addresses: [127.0.0.1] }\n`;
/** A sidekey whose policy directory holds 00-deny.yaml (deny /v1/admin/**) and policy.yaml (allow api.test). */
async function startGuarded(t) {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const port = upstream.port;
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-reload-'));
    await mkdir(join(dir, 'policies'));
    const denyFile = join(dir, 'policies', '00-deny.yaml');
    await writeFile(denyFile, `version: v1\nroutes:\n${DENY_ADMIN(port)}`);
    const sk = await startTestSidekey(t, ALLOW_API(port), { watchPolicy: true, dir, connectTo: { [`api.test:${port}`]: { host: '127.0.0.1', port } } });
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false });
    t.teardown(() => dispatcher.close());
    const status = async (path) => {
        const res = await request(`http://api.test:${port}${path}`, { dispatcher });
        await res.body.dump();
        return res.statusCode;
    };
    /** Ask for /v1/admin/x until stopped; every status seen. */
    const probe = () => {
        const seen = [];
        let stopped = false;
        const running = (async () => {
            while (!stopped) {
                seen.push(await status('/v1/admin/x'));
                await sleep(5);
            }
        })();
        return { seen, stop: async () => ((stopped = true), await running, seen) };
    };
    const events = (event) => sk.sink.lines.filter((l) => l.event === event);
    const readyz = async () => {
        const res = await request(`${sk.adminUrl}/readyz`);
        return { status: res.statusCode, body: (await res.body.json()) };
    };
    const metric = async (name) => {
        const text = await (await request(`${sk.adminUrl}/metrics`)).body.text();
        return Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    };
    return { sk, port, denyFile, status, probe, events, readyz, metric };
}
t.test('an emptied or cut-short policy file never loads as "no rules"', async (t) => {
    const { sk, port, denyFile, status, probe, events, readyz, metric } = await startGuarded(t);
    t.equal(await status('/v1/admin/x'), 403, 'the admin path is denied');
    t.equal(await status('/v1/chat'), 200, 'the rest of the API is allowed');
    const loadedAt = await metric('sidekey_policy_last_reload_success_timestamp_seconds');
    t.ok(loadedAt > 0, 'the load time is exported');
    t.equal(await metric('sidekey_policy_stale'), 0);
    const refusals = () => events('policy_reload_refused');
    const nextRefusal = async (n) => (await pollFor(refusals, (r) => r.length >= n)).at(n - 1);
    const prober = probe();
    // An empty file: what `cp` or `>` leaves for a moment, and a file truncated for good.
    await writeFile(denyFile, '');
    const empty = await nextRefusal(1);
    t.match(empty, { level: 'error', reason: 'emptied' }, 'refused, at error level');
    t.match(empty?.problems.join('\n'), /00-deny\.yaml:0: \(document\): the file is empty now and held 1 route\(s\) before; .*write `routes: \[\]`/);
    const ready = await readyz();
    t.equal(ready.status, 200, 'still ready: the last good policy serves');
    t.match(ready.body.policy, { stale: true, reload_failure: { reason: 'emptied' } });
    t.match(ready.body.policy.detail, /last reload was refused \(emptied\)/);
    t.equal(await metric('sidekey_policy_reload_failures_total{reason="emptied"}'), 1);
    t.equal(await metric('sidekey_policy_stale'), 1);
    t.equal(await metric('sidekey_policy_last_reload_success_timestamp_seconds'), loadedAt, 'no new policy was loaded');
    const health = await new Promise((resolve) => {
        execFile(process.execPath, [CLI, 'health', '--ready', '--admin', new URL(sk.adminUrl).host], { encoding: 'utf8' }, (err, _stdout, stderr) => resolve({ code: err === null ? 0 : 1, stderr }));
    });
    t.equal(health.code, 0, 'sidekey health --ready passes (probes keep the pod in service)');
    t.match(health.stderr, /^sidekey: ready, but the policy is stale: the last reload was refused \(emptied\)/, 'and says why to a person');
    // Cut short at a line end: valid YAML, no routes.
    await writeFile(denyFile, 'version: v1\n');
    t.match((await nextRefusal(2))?.problems.join('\n'), /00-deny\.yaml:1: routes: the file held 1 route\(s\) and now holds none/);
    await writeFile(denyFile, 'version: v1\nroutes:\n');
    t.match(await nextRefusal(3), { reason: 'invalid' }, '`routes:` with nothing after it is not a list');
    await writeFile(denyFile, `version: v1\nroutes:\n  - { name: deny-admin, host: api.test, ports: [${port}], paths: ['/v1/ad`);
    t.match(await nextRefusal(4), { reason: 'invalid' }, 'cut inside a route: not YAML');
    t.equal(await metric('sidekey_policy_reload_failures_total{reason="invalid"}'), 2);
    const seen = await prober.stop();
    t.ok(seen.length > 10, `the admin path was asked for ${seen.length} times during the writes`);
    t.same([...new Set(seen)], [403], 'and never answered by a policy without the deny rule');
    t.same(events('policy_reloaded'), [], 'nothing was loaded');
    // Emptying the file on purpose says so.
    await writeFile(denyFile, 'version: v1\nroutes: []\n');
    t.equal(await pollFor(() => status('/v1/admin/x'), (s) => s === 200), 200, 'routes: [] confirms it: the deny rule is gone');
    t.match((await readyz()).body.policy, { stale: false });
    t.notOk('reload_failure' in (await readyz()).body.policy);
    t.equal(await metric('sidekey_policy_stale'), 0);
    t.ok((await metric('sidekey_policy_last_reload_success_timestamp_seconds')) > loadedAt, 'the load time moved on');
    t.same(events('policy_permissions'), [], 'a policy directory only its owner can write draws no warning');
    noSecretsLogged(t, sk);
});
t.test('a file written in two parts with a pause loads only once it is whole', async (t) => {
    const { port, denyFile, status, probe, events } = await startGuarded(t);
    const prober = probe();
    // In place, like cp or an editor without atomic saves: truncate, write the first part (valid
    // YAML, one route: deny-debug), pause longer than the file-event debounce, write the rest.
    const file = await open(denyFile, 'w');
    await file.write(`version: v1\nroutes:\n${DENY_DEBUG(port)}`);
    await file.sync();
    await sleep(250);
    await file.write(DENY_ADMIN(port));
    await file.close();
    t.equal(await pollFor(() => status('/v1/debug/x'), (s) => s === 403), 403, 'the whole new file is in force');
    const seen = await prober.stop();
    t.ok(seen.length > 10, `the admin path was asked for ${seen.length} times during the write`);
    t.same([...new Set(seen)], [403], 'and never answered by the first part alone');
    t.same(events('policy_reloaded').map((l) => l.routes), [3], 'one reload, of the whole file (deny-debug, deny-admin, api)');
    t.same(events('policy_reload_refused'), []);
});
t.test('a policy emptied whole needs routes: [] too; deleting a file is deliberate', async (t) => {
    const { sk, denyFile, status, events } = await startGuarded(t);
    const apiFile = join(sk.policyDir, 'policy.yaml');
    // Both files replaced by one that holds no route: every request would be refused.
    await Promise.all([rm(denyFile), rm(apiFile), writeFile(join(sk.policyDir, '10-new.yaml'), 'version: v1\n')]);
    const refused = (await pollFor(() => events('policy_reload_refused'), (r) => r.length > 0))[0];
    t.match(refused, { reason: 'emptied' });
    t.match(refused?.problems.join('\n'), /the new policy has no routes, so sidekey would refuse every request; the previous policy \(2 route\(s\)\) stays in force/);
    t.equal(await status('/v1/chat'), 200, 'the previous policy serves');
    await writeFile(join(sk.policyDir, '10-new.yaml'), 'version: v1\nroutes: []\n');
    t.equal(await pollFor(() => status('/v1/chat'), (s) => s === 403), 403, 'confirmed: no routes, everything refused');
    t.same(events('policy_reloaded').map((l) => l.routes), [0]);
});
t.test('policy paths other users can change are warned about, at start, on reload and by policy check', async (t) => {
    const upstream = await startUpstream();
    t.teardown(() => upstream.close());
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-perms-'));
    const policies = join(dir, 'policies');
    await mkdir(policies);
    await writeFile(join(policies, '00-shared.yaml'), `version: v1\nroutes:\n${DENY_ADMIN(upstream.port)}`);
    await chmod(join(policies, '00-shared.yaml'), 0o664);
    await chmod(policies, 0o777);
    const sk = await startTestSidekey(t, ALLOW_API(upstream.port), { watchPolicy: true, dir });
    const warnings = () => sk.sink.lines.filter((l) => l.event === 'policy_permissions');
    t.match(warnings(), [
        { level: 'warn', path: policies, problem: /^writable by every user \(mode 0777\): they can change the policy; chmod go-w / },
        { level: 'warn', path: join(policies, '00-shared.yaml'), problem: /^writable by its group \(mode 0664\)/ },
    ]);
    t.equal(warnings().length, 2, 'nothing else: /tmp is sticky, the rest is root\'s');
    // A file owned by another user arrives with a reload.
    const foreign = join(policies, '20-foreign.yaml');
    await writeFile(foreign, `version: v1\nroutes:\n  - { name: other, host: other.test }\n`);
    await chown(foreign, 4321, 4321);
    await pollFor(warnings, (w) => w.length === 3);
    t.match(warnings()[2], { level: 'warn', path: foreign, problem: /^owned by uid 4321, neither sidekey's user \(uid 0\) nor root/ });
    const check = await new Promise((resolve) => {
        execFile(process.execPath, [CLI, 'policy', 'check', policies], { encoding: 'utf8' }, (err, _stdout, stderr) => resolve({ code: err === null ? 0 : 1, stderr }));
    });
    t.equal(check.code, 0, 'warnings, not errors');
    t.match(check.stderr, `${policies}: warning: writable by every user (mode 0777)`);
    t.match(check.stderr, `${foreign}: warning: owned by uid 4321`);
    // A read-only mount (a ConfigMap volume) cannot be written whatever its modes say.
    const sandboxed = await new Promise((resolve) => {
        execFile('bwrap', ['--bind', '/', '/', '--ro-bind', policies, policies, '--', process.execPath, CLI, 'policy', 'check', policies], { encoding: 'utf8' }, (err, _stdout, stderr) => resolve({ code: err === null ? 0 : 1, stderr }));
    });
    t.equal(sandboxed.code, 0);
    t.notMatch(sandboxed.stderr, /warning: (writable|owned)/, 'no warning on a read-only mount');
});
//# sourceMappingURL=policy-reload.test.js.map