import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Ajv } from 'ajv';
import { parse, parseAllDocuments } from 'yaml';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Pod as PodModel, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
// The Helm chart, rendered with Go's text/template and sprig (Debian's golang-go and
// golang-github-masterminds-sprig-dev: the engine and function library Helm uses, with Helm's
// include, tpl, required, toYaml added in test/helm/render.go), for a given Kubernetes version.
// Values are checked against values.schema.json first, as Helm does.
const run = promisify(execFile);
const root = new URL('../../..', import.meta.url).pathname;
export const CHART_DIR = join(root, 'helm', 'sidekey');
/** Helm's values merge: maps merge deeply, anything else replaces, null deletes. */
export function merge(base, over) {
    const out = { ...base };
    for (const [k, v] of Object.entries(over)) {
        if (v === null)
            delete out[k];
        else if (typeof v === 'object' && !Array.isArray(v) && typeof out[k] === 'object' && out[k] !== null && !Array.isArray(out[k]))
            out[k] = merge(out[k], v);
        else
            out[k] = v;
    }
    return out;
}
const VALIDATORS = {
    'apps/v1/Deployment': Deployment,
    'v1/ConfigMap': ConfigMap,
    'v1/Pod': PodModel,
    'v1/Secret': Secret,
    'v1/Service': Service,
    'v1/ServiceAccount': ServiceAccount,
    'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
    'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
    'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
    'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};
/** Build the renderer (once per test file: `go build` takes a few seconds). */
export async function chartRenderer() {
    const work = await mkdtemp(join(tmpdir(), 'sidekey-helm-'));
    const renderer = join(work, 'render');
    await run('go', ['build', '-o', renderer, join(root, 'test', 'helm', 'render.go')], { env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: join(tmpdir(), 'sidekey-go-cache') } });
    const defaults = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8'));
    const validateValues = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(await readFile(join(CHART_DIR, 'values.schema.json'), 'utf8')));
    let n = 0;
    return {
        defaults,
        work,
        async render(over, kubeVersion = '1.30.0') {
            const values = merge(defaults, over);
            if (!validateValues(values))
                throw new Error(`values.schema.json: ${JSON.stringify(validateValues.errors)}`);
            const file = join(work, `values-${n++}.json`);
            await writeFile(file, JSON.stringify(values));
            const { stdout } = await run(renderer, [CHART_DIR, file, 'demo', 'agents', kubeVersion]);
            const out = JSON.parse(stdout);
            const objects = [];
            for (const [name, text] of Object.entries(out)) {
                if (name.endsWith('NOTES.txt'))
                    continue;
                for (const doc of parseAllDocuments(text)) {
                    if (doc.errors.length > 0)
                        throw new Error(`${name}: ${doc.errors[0].message}`);
                    const o = doc.toJS();
                    if (o !== null)
                        objects.push(o);
                }
            }
            return {
                objects,
                notes: out['sidekey/templates/NOTES.txt'] ?? '',
                byKind(kind, name) {
                    const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
                    if (found === undefined)
                        throw new Error(`no ${kind} ${name ?? ''} rendered`);
                    return found;
                },
            };
        },
        validateAll(t, objects) {
            for (const o of objects) {
                const V = VALIDATORS[`${o.apiVersion}/${o.kind}`];
                t.ok(V, `${o.apiVersion} ${o.kind} is a known kind`);
                t.doesNotThrow(() => new V(o).validate(), `${o.kind} ${o.metadata.name} is valid against the Kubernetes schema`);
            }
        },
    };
}
/** The pod template of a Deployment. */
export const podOf = (d) => d.spec.template.spec;
/** The sidekey container of a pod: a native sidecar among the init containers, or a plain container. */
export function sidekeyOf(pod) {
    const found = [...(pod.initContainers ?? []), ...pod.containers].find((c) => c.name === 'sidekey');
    if (found === undefined)
        throw new Error('no sidekey container');
    return found;
}
//# sourceMappingURL=helm.js.map