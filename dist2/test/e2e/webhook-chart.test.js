import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import jsonpatch from 'fast-json-patch';
import { Pod } from 'kubernetes-models/v1';
import t from 'tap';
import { createCA } from '../../src/ca/authority.js';
import { createLeafKey, mintLeaf } from '../../src/ca/leaf.js';
import { loadInjectSettings } from '../../src/cli/inject-webhook.js';
import { review } from '../../src/kube/inject.js';
import { chartRenderer, podOf, sidekeyOf } from '../helpers/helm.js';
import { pollFor } from '../helpers/poll.js';
import { freePort, waitForPort } from '../helpers/redis.js';
import { requireTools } from '../helpers/tools.js';
requireTools('go');
// Issue #18: the webhook the chart ships injects the sidecar the chart's own pod gets (secrets,
// Redis password and TLS, signing keys, the existing CA), in the layout the cluster supports, and
// reloads its TLS certificate when the kubelet swaps the Secret volume's ..data symlink.
const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
function reviewOf(pod) {
    return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u1', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'agents', operation: 'CREATE', object: pod } };
}
t.test('the chart\'s webhook injects what the chart\'s own sidecar has', async (t) => {
    const { render, validateAll, work } = await chartRenderer();
    const values = {
        agent: { image: { repository: 'example/agent' } },
        webhook: { enabled: true },
        workload: 'support-bot',
        secrets: [{ env: 'OPENAI_API_KEY', secretName: 'openai', key: 'api-key' }],
        ca: { existingSecret: 'sidekey-ca', certKey: 'tls.crt', keyKey: 'tls.key' },
        state: { store: 'redis', redis: { url: 'rediss://redis.sidekey:6379', passwordSecret: { name: 'redis', key: 'password' }, tlsSecret: 'redis-tls' }, signingKeysSecret: { name: 'sidekey-state', key: 'key' } },
    };
    for (const kube of ['1.28.9', '1.30.0']) {
        const r = await render(values, kube);
        validateAll(t, r.objects.filter((o) => !o.apiVersion.startsWith('cert-manager.io')));
        const chartPod = podOf(r.byKind('Deployment', 'demo-sidekey'));
        const settingsFile = join(work, `inject-${kube}.yaml`);
        await writeFile(settingsFile, r.byKind('ConfigMap', 'demo-sidekey-webhook').data['inject.yaml']);
        const settings = await loadInjectSettings(settingsFile);
        t.equal(settings.native, kube === '1.30.0', `native sidecar on ${kube}: as the chart decides`);
        const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bot', annotations: { 'sidekey.dev/inject': 'true', 'sidekey.dev/workload': 'support-bot' } }, spec: { initContainers: [{ name: 'fetch-model', image: 'example/fetch:1' }], containers: [{ name: 'agent', image: 'example/agent:1' }] } };
        const answer = review(reviewOf(pod), settings);
        const injected = jsonpatch.applyPatch(structuredClone(pod), JSON.parse(Buffer.from(answer.response.patch, 'base64').toString('utf8')), true, false).newDocument;
        t.doesNotThrow(() => new Pod(injected).validate());
        const chartSidekey = sidekeyOf(chartPod);
        const injectedSidekey = sidekeyOf(injected.spec);
        t.same(injectedSidekey, chartSidekey, `on ${kube}: the injected container is the chart's, secrets, Redis files and signing keys included`);
        const volumes = (spec) => spec.volumes.filter((v) => v.name.startsWith('sidekey-')).sort((a, b) => a.name.localeCompare(b.name));
        t.same(volumes(injected.spec), volumes(chartPod), 'the same volumes');
        if (settings.native) {
            t.same(injected.spec.initContainers.map((c) => c.name), ['sidekey', 'fetch-model']);
            t.ok(injected.spec.initContainers[1].env.some((e) => e.name === 'HTTPS_PROXY'), 'the pod\'s own init container gets the proxy and CA variables');
        }
        else {
            t.same(injected.spec.containers.map((c) => c.name), ['sidekey', 'agent'], 'a plain sidecar goes first (the postStart hold)');
            t.ok(injected.spec.containers[1].env.some((e) => e.name === 'HTTPS_PROXY'), 'the variables land on the agent, not on sidekey');
            t.same(injected.spec.initContainers.map((c) => c.name), ['fetch-model']);
            t.equal(injected.spec.initContainers[0].env, undefined, 'init containers run before a plain sidecar: no proxy for them');
        }
    }
    // Transparent mode's settings reach the webhook too: its redirected ports and agent checks.
    const ports = [{ port: 443, listenPort: 15443, protocol: 'https' }, { port: 8443, listenPort: 15444, protocol: 'https' }];
    const transparent = await render({ ...values, mode: 'transparent', transparent: { ports, agentSecurity: 'warn' } });
    const transparentFile = join(work, 'inject-transparent.yaml');
    await writeFile(transparentFile, transparent.byKind('ConfigMap', 'demo-sidekey-webhook').data['inject.yaml']);
    const transparentSettings = await loadInjectSettings(transparentFile);
    t.same(transparentSettings.redirects, ports, 'the webhook redirects the ports the chart does');
    t.equal(transparentSettings.agentSecurity, 'warn', 'and checks agents as the chart does');
    const r = await render(values);
    const webhook = r.byKind('MutatingWebhookConfiguration');
    t.match(webhook.webhooks[0], { failurePolicy: 'Ignore', sideEffects: 'None', namespaceSelector: { matchLabels: { 'sidekey.dev/injection': 'enabled' } }, objectSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'NotIn', values: ['sidekey-webhook'] }] }, clientConfig: { service: { name: 'demo-sidekey-webhook', path: '/mutate' } } });
    const caBundle = Buffer.from(webhook.webhooks[0].clientConfig.caBundle, 'base64').toString();
    const secret = r.byKind('Secret', 'demo-sidekey-webhook-tls');
    t.match(caBundle, /BEGIN CERTIFICATE/, 'the chart generated a CA (genCA) and put it in caBundle');
    t.match(Buffer.from(secret.data['tls.crt'], 'base64').toString(), /BEGIN CERTIFICATE/);
    const certManager = await render({ ...values, webhook: { enabled: true, tls: 'certManager' } });
    t.same(certManager.objects.filter((o) => o.apiVersion === 'cert-manager.io/v1').map((o) => o.kind).sort(), ['Certificate', 'Issuer']);
    t.match(certManager.byKind('MutatingWebhookConfiguration').metadata.annotations, { 'cert-manager.io/inject-ca-from': 'agents/demo-sidekey-webhook' });
});
t.test('the webhook reloads its TLS certificate when the Secret volume\'s ..data swaps', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-webhook-tls-'));
    const ca = await createCA(join(dir, 'ca'));
    const key = createLeafKey();
    const volume = join(dir, 'tls');
    await mkdir(volume);
    /** One kubelet AtomicWriter generation: a timestamped directory, ..data swapped by a rename. */
    const writeGeneration = async (n) => {
        const cert = await mintLeaf(ca, key, 'sidekey-webhook.sidekey.svc');
        await mkdir(join(volume, `..gen${n}`));
        await writeFile(join(volume, `..gen${n}`, 'tls.crt'), cert);
        await writeFile(join(volume, `..gen${n}`, 'tls.key'), key.privateKeyPem);
        await symlink(`..gen${n}`, join(volume, '..data_tmp'));
        await rename(join(volume, '..data_tmp'), join(volume, '..data'));
        if (n > 1)
            await rm(join(volume, `..gen${n - 1}`), { recursive: true });
        return cert;
    };
    const first = await writeGeneration(1);
    await symlink('..data/tls.crt', join(volume, 'tls.crt'));
    await symlink('..data/tls.key', join(volume, 'tls.key'));
    const port = await freePort();
    const child = spawn(process.execPath, [cli, 'inject-webhook', '--listen', `127.0.0.1:${port}`, '--tls-cert', join(volume, 'tls.crt'), '--tls-key', join(volume, 'tls.key')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout.on('data', (d) => (logs += d.toString()));
    t.teardown(() => void child.kill('SIGKILL'));
    await pollFor(() => logs, (l) => l.includes('webhook_started'), 30_000);
    await waitForPort(port, 5000);
    const served = () => new Promise((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'sidekey-webhook.sidekey.svc' }, () => {
            resolve(socket.getPeerX509Certificate().serialNumber);
            socket.destroy();
        });
        socket.on('error', (err) => resolve(`error: ${err.message}`));
    });
    const { X509Certificate } = await import('node:crypto');
    t.equal(await served(), new X509Certificate(first).serialNumber, 'the first certificate');
    const second = await writeGeneration(2);
    const serial = new X509Certificate(second).serialNumber;
    t.equal(await pollFor(served, (s) => s === serial, 15_000), serial, 'the rotated certificate, without a restart');
    t.match(logs, /"event":"webhook_tls_reloaded"/);
});
//# sourceMappingURL=webhook-chart.test.js.map