import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { chartRenderer, podOf, sidekeyOf, type Container, type PodSpec } from '../helpers/helm.js'
import { sh } from '../helpers/kubelet-layout.js'
import { restrictedViolations } from '../helpers/pod-security.js'
import { requireTools } from '../helpers/tools.js'

requireTools('go', 'curl', 'ip')

// Issue #18, the chart's lifecycle and hygiene: the layout chosen by the cluster's version, the
// drain matched by the grace period, the "restricted" pod security level, no restarts on policy
// change, no API token, Redis by secret only and reachable through the NetworkPolicy, a
// PodDisruptionBudget, and a `helm test` pod whose check is run here against a real sidekey.

const run = promisify(execFile)
const CLI = join(process.cwd(), 'dist/src/cli/main.js')

t.test('chart lifecycle and hygiene', async (t) => {
  const { render, validateAll } = await chartRenderer()
  const agent = { agent: { image: { repository: 'example/agent' } } }
  type Obj = Awaited<ReturnType<typeof render>>['objects'][number]
  const podOfTest = (o: Obj): PodSpec => (o as unknown as { spec: PodSpec }).spec

  t.test('native sidecars from Kubernetes 1.29, a plain sidecar before; Chart.yaml\'s kubeVersion holds', async (t) => {
    for (const [version, native] of [['1.25.0', false], ['1.28.9', false], ['1.29.0', true], ['1.31.2', true]] as const) {
      const r = await render(agent, version)
      validateAll(t, r.objects)
      const pod = podOf(r.byKind('Deployment'))
      const sidekey = sidekeyOf(pod)
      t.equal(sidekey.restartPolicy === 'Always', native, `${version}: ${native ? 'native' : 'plain'} sidecar`)
      t.equal(pod.containers[0]!.name, native ? 'agent' : 'sidekey', `${version}: a plain sidecar goes first`)
      t.equal(sidekey.lifecycle !== undefined, !native, `${version}: the postStart hold only where needed`)
      t.equal(sidekeyOf(podOfTest(r.byKind('Pod'))).restartPolicy === 'Always', native, `${version}: the helm test pod too`)
    }
    await t.rejects(render(agent, '1.24.17'), /incompatible with Kubernetes v1.24.17/, 'older clusters are refused, as helm install does')
    const forced = await render({ ...agent, sidecar: { native: false } }, '1.31.2')
    t.equal(sidekeyOf(podOf(forced.byKind('Deployment'))).restartPolicy, undefined, 'native: false forces the plain layout')
  })

  t.test('the rendered pods pass the "restricted" pod security level (explicit mode)', async (t) => {
    const r = await render({ ...agent, webhook: { enabled: true }, metrics: { serviceMonitor: { enabled: true } } })
    t.same(restrictedViolations(podOf(r.byKind('Deployment', 'demo-sidekey'))), [], 'the agent\'s pod')
    t.same(restrictedViolations(podOfTest(r.byKind('Pod'))), [], 'the helm test pod')
    t.same(restrictedViolations(podOf(r.byKind('Deployment', 'demo-sidekey-webhook'))), [], 'the webhook')
    const old = await render(agent, '1.28.9')
    t.same(restrictedViolations(podOf(old.byKind('Deployment'))), [], 'the plain-sidecar layout')
    // The check can fail: transparent mode's init container needs root and NET_ADMIN (baseline, documented).
    const transparent = await render({ ...agent, mode: 'transparent' })
    t.match(restrictedViolations(podOf(transparent.byKind('Deployment'))), [/container "sidekey-iptables" adds NET_ADMIN/])
    const careless = await render({ agent: { image: { repository: 'example/agent' }, securityContext: { allowPrivilegeEscalation: null, capabilities: null, seccompProfile: null } } })
    const violations = restrictedViolations(podOf(careless.byKind('Deployment')))
    t.same(violations, ['allowPrivilegeEscalation != false (container "agent")', 'unrestricted capabilities (container "agent" must drop ALL)'], 'an agent without the settings is caught; the pod-level seccompProfile still covers it')
  })

  t.test('the drain time and the grace period go together', async (t) => {
    const r = await render({ ...agent, sidecar: { drainSeconds: 50 } })
    const pod = podOf(r.byKind('Deployment'))
    t.equal(pod.terminationGracePeriodSeconds, 55, 'drain plus 5 s to close and flush the log')
    const args = sidekeyOf(pod).args as string[]
    t.equal(args[args.indexOf('--drain-timeout') + 1], '50000')
    const patch = await render({ agent: { enabled: false }, sidecar: { drainSeconds: 50 } })
    t.match((patch.byKind('ConfigMap', 'demo-sidekey-sidecar-patch') as unknown as { data: Record<string, string> }).data['patch.yaml'], /terminationGracePeriodSeconds: 55/)
    await t.rejects(render({ ...agent, sidecar: { drainSeconds: 0 } }), /values.schema.json.*drainSeconds/)
  })

  t.test('a policy change hot-reloads: no checksum annotation restarts the pods', async (t) => {
    const a = await render(agent)
    const b = await render({ ...agent, policies: { files: { 'default.yaml': 'version: v1\nroutes:\n  - { name: x, host: api.example.com }\n' } } })
    const template = (r: typeof a): unknown => (r.byKind('Deployment') as unknown as { spec: { template: unknown } }).spec.template
    t.same(template(a), template(b), 'the pod template does not change with the policy (the reload follows the kubelet\'s ..data swap: test/e2e/kubelet-layout.test.ts)')
    t.notMatch(JSON.stringify(template(a)), /checksum/)
  })

  t.test('no API token unless asked; an existing Deployment keeps its service account', async (t) => {
    t.equal(podOf((await render(agent)).byKind('Deployment')).automountServiceAccountToken, false)
    t.equal(podOf((await render({ ...agent, serviceAccount: { automountToken: true } })).byKind('Deployment')).automountServiceAccountToken, true)
    const patch = (await render({ agent: { enabled: false } })).byKind('ConfigMap', 'demo-sidekey-sidecar-patch') as unknown as { data: Record<string, string> }
    t.notMatch(patch.data['patch.yaml'], /serviceAccountName/)
  })

  t.test('Redis: a password in the URL is refused; the NetworkPolicy lets the pod reach Redis', async (t) => {
    await t.rejects(render({ ...agent, state: { store: 'redis', redis: { url: 'redis://:hunter2@redis.sidekey:6379' } } }), /values.schema.json.*url/)
    await t.rejects(render({ ...agent, state: { store: 'redis', redis: { url: 'rediss://default:hunter2@redis.sidekey' } } }), /values.schema.json.*url/)
    const r = await render({ ...agent, networkPolicy: { enabled: true, redisTo: [{ podSelector: { matchLabels: { app: 'redis' } } }] }, state: { store: 'redis', redis: { url: 'rediss://redis.sidekey:6380', passwordSecret: { name: 'redis' } } } })
    validateAll(t, r.objects)
    const egress = (r.byKind('NetworkPolicy') as unknown as { spec: { egress: unknown[] } }).spec.egress
    t.same(egress[2], { ports: [{ port: 6380, protocol: 'TCP' }], to: [{ podSelector: { matchLabels: { app: 'redis' } } }] }, 'a rule block of its own, to the Redis port')
    const cluster = await render({ ...agent, networkPolicy: { enabled: true }, state: { store: 'redis', redis: { mode: 'cluster', nodes: ['r1:7000', 'r2:7001'], passwordSecret: { name: 'redis' } } } })
    t.same((cluster.byKind('NetworkPolicy') as unknown as { spec: { egress: unknown[] } }).spec.egress[2], { ports: [{ port: 7000, protocol: 'TCP' }, { port: 7001, protocol: 'TCP' }] })
    const memory = await render({ ...agent, networkPolicy: { enabled: true } })
    t.equal((memory.byKind('NetworkPolicy') as unknown as { spec: { egress: unknown[] } }).spec.egress.length, 2, 'no Redis rule without Redis')
  })

  t.test('a PodDisruptionBudget for the chart\'s Deployment', async (t) => {
    const r = await render(agent)
    t.match(r.byKind('PodDisruptionBudget'), { spec: { maxUnavailable: 1, selector: { matchLabels: { 'app.kubernetes.io/instance': 'demo' } } } })
    t.notOk((await render({ agent: { enabled: false } })).objects.some((o) => o.kind === 'PodDisruptionBudget'))
  })

  t.test('the helm test pod proves a request through the sidecar (its check run against a real sidekey)', async (t) => {
    for (const version of ['1.30.0', '1.28.9']) {
      const r = await render(agent, version)
      const pod = r.byKind('Pod')
      t.match(pod.metadata.annotations, { 'helm.sh/hook': 'test' })
      const check = podOfTest(pod).containers.find((c: Container) => c.name === 'check')!
      const script = (check.command as string[])[2]!
      const native = version === '1.30.0'
      // sidekey as the chart starts it (proxy 3128, admin 3129, --shutdown-endpoint when plain), in
      // a network namespace of its own so the fixed ports are free; then the check, as in the pod.
      const dir = await mkdtemp(join(tmpdir(), 'sidekey-helm-test-'))
      await mkdir(join(dir, 'policies'))
      await writeFile(join(dir, 'policies', 'default.yaml'), 'version: v1\nroutes: []\n')
      const start = [process.execPath, CLI, 'start', '--listen', '127.0.0.1:3128', '--admin', '127.0.0.1:3129', '--health', '*:3130', '--policies', join(dir, 'policies'), '--certs', join(dir, 'certs'), '--workload', 'demo', ...(native ? [] : ['--shutdown-endpoint'])]
      const shell = [
        'ip link set lo up',
        `env -u NODE_OPTIONS ${start.map(sh).join(' ')} > ${sh(join(dir, 'sidekey.log'))} 2>&1 &`,
        'pid=$!',
        'i=0; until curl -fsS -o /dev/null http://127.0.0.1:3130/readyz; do i=$((i+1)); [ $i -gt 300 ] && exit 9; sleep 0.1; done',
        `env -u NODE_OPTIONS ${sh(process.execPath)} -e ${sh(script)}; echo "check=$?"`,
        native ? 'kill -TERM $pid; wait $pid; echo "sidekey=$?"' : 'wait $pid; echo "sidekey=$?"',
      ].join('\n')
      const { stdout } = await run('unshare', ['--net', 'sh', '-c', shell], { timeout: 60_000 })
      t.match(stdout, /through sidekey: 403 SIDEKEY_ERR_/, `${version}: the answer is sidekey's refusal`)
      t.match(stdout, /check=0/, `${version}: the check passes`)
      t.match(stdout, /sidekey=0/, native ? `${version}: sidekey stops when the pod does` : `${version}: the check stopped the plain sidecar (POST /v1/shutdown), so the pod completes`)
    }
  })
})
