import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { createCA } from '../../src/ca/authority.js';
import { chartRenderer, podOf, sidekeyOf } from '../helpers/helm.js';
import { kubeletLayout, sh } from '../helpers/kubelet-layout.js';
import { pollFor } from '../helpers/poll.js';
import { requireTools } from '../helpers/tools.js';
requireTools('go', 'curl', 'ip');
// Issue #18: sidekey started as the chart's user (10001) against the files the chart's pod gets,
// rebuilt with bind mounts in a private mount and network namespace (test/helpers/kubelet-layout.ts):
// an existing CA from a Secret (root-owned, 0444, through the kubelet's ..data symlinks) is used,
// and a ConfigMap update (the kubelet's ..data swap) reloads the policy without a restart.
const run = promisify(execFile);
const CLI = join(process.cwd(), 'dist/src/cli/main.js');
t.test('the chart pod\'s file layout, as the chart\'s user', async (t) => {
    const { render } = await chartRenderer();
    const r = await render({ agent: { image: { repository: 'example/agent' } }, ca: { existingSecret: 'sidekey-ca' } });
    const pod = podOf(r.byKind('Deployment'));
    const container = sidekeyOf(pod);
    const base = await mkdtemp(join(tmpdir(), 'sidekey-kubelet-'));
    await chmod(base, 0o755);
    const ca = await createCA(await mkdtemp(join(tmpdir(), 'sidekey-existing-ca-')));
    const caKey = await readFile(join(ca.certPath, '..', 'ca-key.pem'), 'utf8');
    const policies = r.byKind('ConfigMap', 'demo-sidekey-policies').data;
    const layout = await kubeletLayout(base, pod, container, { 'sidekey-ca-secret': { 'ca.pem': ca.certPem, 'ca-key.pem': caKey }, 'sidekey-policies': policies });
    const security = container.securityContext;
    t.equal(security.runAsUser, 10001);
    const args = container.args.map((a) => (a.startsWith('/') ? `${layout.root}${a}` : a));
    const env = container.env.filter((e) => e.value !== undefined).map((e) => `${e.name}=${sh(e.value)}`);
    const script = [
        layout.mountScript,
        'ip link set lo up',
        // Without tap's NODE_OPTIONS (its process-info hook writes where 10001 may not).
        `exec env -u NODE_OPTIONS ${env.join(' ')} setpriv --reuid ${security.runAsUser} --regid ${security.runAsGroup} --clear-groups ${sh(process.execPath)} ${sh(CLI)} ${args.map(sh).join(' ')}`,
    ].join('\n');
    const child = spawn('unshare', ['--mount', '--net', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d.toString()));
    child.stderr.on('data', (d) => (out += d.toString()));
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    t.teardown(() => void child.kill('SIGKILL'));
    /** Run a command in sidekey's namespaces (its pid is the child's: unshare, sh and setpriv exec). */
    const inPod = async (command) => (await run('nsenter', ['-t', String(child.pid), '-m', '-n', ...command])).stdout;
    const probe = async (get) => inPod(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${get.port}${get.path}`]).catch(() => 'down');
    const readiness = container.readinessProbe.httpGet;
    const ready = await pollFor(() => (child.exitCode === null ? probe(readiness) : 'exited'), (s) => s === '200' || s === 'exited', 30_000);
    t.equal(ready, '200', `ready, as the kubelet's readiness probe sees it (log: ${out.slice(0, 600)})`);
    t.equal(await probe(container.livenessProbe.httpGet), '200', 'alive');
    const certs = `${layout.root}/var/run/sidekey/certs`;
    t.equal((await inPod(['stat', '-c', '%a %u', `${certs}/ca-key.pem`])).trim(), '600 10001', 'the key copied into the memory-backed directory, 0600, sidekey\'s own');
    t.equal(await inPod(['cat', `${layout.root}/etc/sidekey/ca/ca.pem`]), ca.certPem, 'the Secret\'s CA is the one published to the agent (not a new one)');
    t.notOk(out.includes('"event":"ca_created"'), 'no CA generated');
    // The kubelet's ConfigMap update: a new timestamped directory, then ..data swapped by a rename.
    const routes = async () => inPod(['curl', '-sS', 'http://127.0.0.1:3129/v1/routes']).catch(() => '');
    t.notMatch(await routes(), /after-swap/);
    await layout.update('sidekey-policies', { 'default.yaml': 'version: v1\nroutes:\n  - { name: after-swap, host: api.example.com }\n' });
    const answer = await pollFor(routes, (s) => s.includes('after-swap'), 15_000);
    t.match(answer, /"name": "after-swap"/, `the policy reloads after the ..data swap, without a restart (${answer})`);
    child.kill('SIGTERM');
    t.equal(await exited, 0, `a clean stop (${out.slice(-800)})`);
    t.match(out, /"event":"drained"/);
});
t.test('before the fix: the Secret\'s key mounted with subPath into the certs directory', async (t) => {
    // The layout the chart rendered before issue #18: the 0444 key under sidekey's certs directory.
    const { render } = await chartRenderer();
    const r = await render({ agent: { image: { repository: 'example/agent' } }, ca: { existingSecret: 'sidekey-ca' } });
    const pod = podOf(r.byKind('Deployment'));
    const container = { ...sidekeyOf(pod), volumeMounts: [{ name: 'sidekey-certs', mountPath: '/var/run/sidekey/certs' }, ...['ca.pem', 'ca-key.pem'].map((key) => ({ name: 'sidekey-ca-secret', mountPath: `/var/run/sidekey/certs/${key}`, subPath: key, readOnly: true }))] };
    const base = await mkdtemp(join(tmpdir(), 'sidekey-kubelet-old-'));
    await chmod(base, 0o755);
    const ca = await createCA(await mkdtemp(join(tmpdir(), 'sidekey-existing-ca-')));
    const layout = await kubeletLayout(base, pod, container, { 'sidekey-ca-secret': { 'ca.pem': ca.certPem, 'ca-key.pem': await readFile(join(ca.certPath, '..', 'ca-key.pem'), 'utf8') } });
    const script = `${layout.mountScript}\nexec setpriv --reuid 10001 --regid 10001 --clear-groups ${sh(process.execPath)} ${sh(CLI)} start --listen 127.0.0.1:0 --admin 127.0.0.1:0 --certs ${sh(`${layout.root}/var/run/sidekey/certs`)} --policies /nonexistent`;
    const failed = await run('unshare', ['--mount', '--net', '--propagation', 'private', 'sh', '-c', script]).then(() => null, (err) => err.stderr);
    t.match(failed, /SIDEKEY_ERR_CA|readable by group or others/, 'sidekey refuses a key others can read: the crash loop issue #18 reported');
});
//# sourceMappingURL=kubelet-layout.test.js.map