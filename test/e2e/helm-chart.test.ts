import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { Deployment } from 'kubernetes-models/apps/v1'
import { configFrom } from '../../src/config.js'
import { compilePolicy } from '../../src/policy/load.js'
import { agentEnv, DEFAULT_REDIRECTS, iptablesInitContainer, sidekeyContainer, type SidecarSettings } from '../../src/kube/sidecar.js'
import { loadStateSettings } from '../../src/state/config.js'
import { chartRenderer, CHART_DIR as chart, podOf, type PodSpec as Pod } from '../helpers/helm.js'
import { requireTools } from '../helpers/tools.js'

requireTools('go')

// The Helm chart, rendered for each documented combination of values (test/helpers/helm.ts).
// Values are checked against values.schema.json first, as Helm does; every rendered object is
// validated against the Kubernetes schemas (kubernetes-models), then its content is asserted.
// With a helm binary on PATH, `helm lint` and `helm template` run too.

const run = promisify(execFile)

t.test('Helm chart', async (t) => {
  const { render, validateAll, work } = await chartRenderer()
  const agent = { agent: { image: { repository: 'ghcr.io/example/agent', tag: '1.2.3' } } }
  // What the chart's values mean, as the webhook's settings: the two must render the same containers.
  const settings = (over: Partial<SidecarSettings> = {}): SidecarSettings => ({ image: 'ghcr.io/sidekey-dev/sidekey:0.1.0', imagePullPolicy: 'IfNotPresent', policiesConfigMap: 'demo-sidekey-policies', caSecret: null, caSecretKeys: { cert: 'ca.pem', key: 'ca-key.pem' }, stateConfigMap: null, uid: 10001, native: true, noProxy: '', resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } }, tokenAudience: null, logLevel: 'info', drainSeconds: 25, extraEnv: [], extraVolumeMounts: [], extraVolumes: [], redirects: DEFAULT_REDIRECTS, agentSecurity: 'refuse', ...over })
  const webhookSettings = settings()
  const JAVA = 'JAVA_TOOL_OPTIONS'

  t.test('defaults with an agent image: native sidecar, explicit mode', async (t) => {
    const r = await render(agent)
    validateAll(t, r.objects)
    t.same(r.objects.map((o) => o.kind).sort(), ['ConfigMap', 'Deployment', 'Pod', 'PodDisruptionBudget', 'ServiceAccount'])
    const pod = podOf(r.byKind('Deployment'))
    const sidekey = pod.initContainers!.find((c) => c.name === 'sidekey')!
    t.equal(sidekey.restartPolicy, 'Always', 'a native sidecar')
    const expected = sidekeyContainer(webhookSettings, { workload: 'demo', mode: 'explicit', reportOnly: false, blockOtherEgress: true })
    t.same(sidekey, expected, 'the same container as the injection webhook gives: arguments, probes, security context, mounts')
    t.match(sidekey.args, ['start', '--listen', '127.0.0.1:3128', '--admin', '127.0.0.1:3129', '--health', '*:3130'], 'the admin API on loopback; only health on the pod IP')
    t.same(sidekey.readinessProbe, { httpGet: { path: '/readyz', port: 3130 }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 }, 'an httpGet probe with an explicit timeout')
    t.notOk(JSON.stringify(sidekey).includes('exec'), 'no exec probe')
    const agentContainer = pod.containers.find((c) => c.name === 'agent')!
    t.equal(agentContainer.image, 'ghcr.io/example/agent:1.2.3')
    t.same(agentContainer.env, agentEnv('explicit', 'localhost,127.0.0.1,::1,.svc,.cluster.local'), 'proxy and CA-trust variables, the same list as the webhook')
    const java = (agentContainer.env as { name: string; value: string }[]).find((e) => e.name === JAVA)
    t.equal(java?.value, '-Djavax.net.ssl.trustStore=/etc/sidekey/ca/truststore.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit', 'the JVM trusts the PKCS#12 store beside bundle.pem')
    t.same(agentContainer.volumeMounts, [{ name: 'sidekey-ca-public', mountPath: '/etc/sidekey/ca', readOnly: true }], 'the agent mounts only the public CA files')
    t.notOk(JSON.stringify(agentContainer).includes('sidekey-certs'), 'never the CA key or admin token')
    t.same(pod.volumes.map((v) => v.name), ['sidekey-certs', 'sidekey-ca-public', 'sidekey-policies'])
    const policy = r.byKind('ConfigMap', 'demo-sidekey-policies') as unknown as { data: Record<string, string> }
    t.doesNotThrow(() => compilePolicy([{ file: 'default.yaml', text: policy.data['default.yaml']! }]), 'the default policy file is a valid policy')
    t.equal((r.byKind('ServiceAccount') as unknown as { automountServiceAccountToken: boolean }).automountServiceAccountToken, false)
    t.match(r.notes, /Mode: explicit/)
  })

  t.test('transparent mode: iptables init container first, with NET_ADMIN only there', async (t) => {
    const r = await render({ ...agent, mode: 'transparent', transparent: { blockOtherEgress: false } })
    validateAll(t, r.objects)
    const pod = podOf(r.byKind('Deployment'))
    t.same(pod.initContainers!.map((c) => c.name), ['sidekey-iptables', 'sidekey'])
    const init = pod.initContainers![0]!
    const choices = { workload: 'demo', mode: 'transparent', reportOnly: false, blockOtherEgress: false } as const
    t.same(init.command, ['node', '/app/dist/src/cli/main.js', 'iptables', '--apply', '--uid', '10001', '--gid', '10001', '--redirect', '443:15443,80:15080'])
    t.same(init.command, iptablesInitContainer(settings(), choices).command, 'the same command as the webhook gives')
    t.same(init.securityContext, iptablesInitContainer(settings(), choices).securityContext)
    t.same((init.securityContext as { capabilities: unknown }).capabilities, { drop: ['ALL'], add: ['NET_ADMIN'] }, 'NET_ADMIN only: no NET_RAW')
    t.same(pod.initContainers![1]!.args, sidekeyContainer(settings(), choices).args)
    t.match((pod.initContainers![1]!.args as string[]).join(' '), '--transparent-http 80=127.0.0.1:15080 --transparent-https 443=127.0.0.1:15443')
    const env = pod.containers[0]!.env as { name: string }[]
    t.notOk(env.some((e) => e.name === 'HTTPS_PROXY'), 'no proxy variables: the redirect does it')
    t.ok(env.some((e) => e.name === 'SSL_CERT_FILE'), 'the CA is still trusted')
  })

  t.test('transparent mode: a list of redirected ports, one listener each', async (t) => {
    const ports = [{ port: 443, listenPort: 15443, protocol: 'https' }, { port: 8443, listenPort: 15444, protocol: 'https' }, { port: 80, listenPort: 15080, protocol: 'http' }, { port: 8080, listenPort: 15081, protocol: 'http' }] as const
    const r = await render({ ...agent, mode: 'transparent', transparent: { ports }, networkPolicy: { enabled: true } })
    validateAll(t, r.objects)
    const pod = podOf(r.byKind('Deployment'))
    const choices = { workload: 'demo', mode: 'transparent', reportOnly: false, blockOtherEgress: true } as const
    t.same(pod.initContainers![0]!.command, iptablesInitContainer(settings({ redirects: ports }), choices).command)
    t.match(pod.initContainers![0]!.command, ['node', '/app/dist/src/cli/main.js', 'iptables', '--apply', '--uid', '10001', '--gid', '10001', '--redirect', '443:15443,8443:15444,80:15080,8080:15081', '--block-other-egress'])
    t.same(pod.initContainers![1]!.args, sidekeyContainer(settings({ redirects: ports }), choices).args)
    const args = pod.initContainers![1]!.args as string[]
    t.equal(args[args.indexOf('--transparent-https') + 1], '443=127.0.0.1:15443,8443=127.0.0.1:15444')
    t.same(configFrom({ 'transparent-https': args[args.indexOf('--transparent-https') + 1], 'transparent-http': args[args.indexOf('--transparent-http') + 1] }, {}).transparentHttps.map((l) => [l.from, l.listen.port]), [[443, 15443], [8443, 15444]], 'sidekey reads one listener per redirected port')
    const np = r.byKind('NetworkPolicy') as unknown as { spec: { egress: { ports: { port: number }[] }[] } }
    t.same(np.spec.egress[1]!.ports.map((p) => p.port), [443, 80, 8443, 8080], 'sidekey may call the redirected ports')
    await t.rejects(render({ ...agent, mode: 'transparent', transparent: { ports: [{ port: 443, listenPort: 15443, protocol: 'https' }, { port: 443, listenPort: 15444, protocol: 'https' }] } }), /each port and each listenPort may appear once/)
    await t.rejects(render({ ...agent, mode: 'transparent', transparent: { ports: [{ port: 443, listenPort: 3128, protocol: 'https' }] } }), /values.schema.json.*listenPort/, 'not the proxy port')
    await t.rejects(render({ ...agent, mode: 'transparent', transparent: { ports: [{ port: 443, listenPort: 15443, protocol: 'quic' }] } }), /values.schema.json.*protocol/)
  })

  t.test('transparent mode refuses an agent that could get around sidekey (or warns, when told)', async (t) => {
    const safe = { runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }
    const withAgent = (securityContext: Record<string, unknown>, transparent: Record<string, unknown> = {}) => ({ agent: { image: { repository: 'ghcr.io/example/agent' }, securityContext }, mode: 'transparent', transparent })
    await t.resolves(render(withAgent(safe)), 'the default agent security context passes')
    for (const [securityContext, why] of [
      [{ ...safe, runAsUser: 10001 }, /runAsUser is sidekey's user id 10001/],
      [{ ...safe, runAsUser: 0, runAsNonRoot: false }, /runAsUser is 0: root can take sidekey's user id; agent.securityContext.runAsNonRoot is not true/],
      // null removes a default value (Helm's merge).
      [{ ...safe, runAsUser: null }, /runAsUser is not set \(the image's user could be root or sidekey's 10001\)/],
      [{ ...safe, capabilities: { drop: ['NET_RAW'] } }, /capabilities.drop does not include ALL/],
      [{ ...safe, capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] } }, /capabilities.add is not empty \(NET_ADMIN\)/],
      [{ ...safe, privileged: true }, /privileged is true/],
      [{ runAsUser: null, runAsNonRoot: null, capabilities: null }, /runAsUser is not set.*runAsNonRoot is not true.*drop does not include ALL/],
    ] as const) {
      await t.rejects(render(withAgent(securityContext)), new RegExp(`mode transparent: the agent could get around sidekey: .*${why.source}.*set transparent.agentSecurity=warn`), JSON.stringify(securityContext))
    }
    await t.resolves(render({ ...withAgent({ ...safe, runAsUser: 10001 }), mode: 'explicit' }), 'explicit mode does not depend on user ids')
    const warned = await render(withAgent({ ...safe, runAsUser: 10001 }, { agentSecurity: 'warn' }))
    t.match(warned.notes, /WARNING \(transparent.agentSecurity=warn\): the agent could get around sidekey: agent.securityContext.runAsUser is sidekey's user id 10001/)
    t.notMatch((await render(withAgent(safe, { agentSecurity: 'warn' }))).notes, /WARNING/, 'no warning when there is nothing to warn about')
    const patch = await render({ agent: { enabled: false }, mode: 'transparent' })
    t.match(patch.notes, /cannot see your Deployment's containers/, 'the patch for an existing Deployment says what it cannot check')
  })

  t.test('a plain sidecar, first, on clusters without native sidecars', async (t) => {
    const r = await render({ ...agent, sidecar: { native: false } })
    validateAll(t, r.objects)
    const pod = podOf(r.byKind('Deployment'))
    t.equal(pod.initContainers, undefined)
    t.same(pod.containers.map((c) => c.name), ['sidekey', 'agent'], 'sidekey first: the kubelet starts containers in order')
    t.equal(pod.containers[0]!.restartPolicy, undefined)
    t.same(pod.containers[0], sidekeyContainer({ ...webhookSettings, native: false }, { workload: 'demo', mode: 'explicit', reportOnly: false, blockOtherEgress: true }), 'the same container as the webhook gives')
    t.same(pod.containers[0]!.lifecycle, { postStart: { exec: { command: ['node', '/app/dist/src/cli/main.js', 'health', '--ready', '--wait', '120'] } } }, 'the agent is held until sidekey is ready')
    t.ok((pod.containers[0]!.args as string[]).includes('--shutdown-endpoint'), 'a Job\'s agent can stop it')
  })

  t.test('Redis state, secrets, existing CA, federation token, report-only', async (t) => {
    const r = await render({
      ...agent,
      workload: 'support-bot',
      secrets: [{ env: 'OPENAI_API_KEY', secretName: 'openai', key: 'api-key' }],
      ca: { existingSecret: 'sidekey-ca' },
      federation: { token: { enabled: true, audience: 'sts.amazonaws.com' } },
      sidecar: { reportOnly: true },
      state: { store: 'redis', redis: { url: 'rediss://redis.sidekey:6379', passwordSecret: { name: 'redis', key: 'password' }, tlsSecret: 'redis-tls' }, signingKeysSecret: { name: 'sidekey-state', key: 'key' } },
    })
    validateAll(t, r.objects)
    const pod = podOf(r.byKind('Deployment'))
    const sidekey = pod.initContainers!.find((c) => c.name === 'sidekey')!
    t.match(sidekey.args, ['start', '--listen', '127.0.0.1:3128', '--admin', '127.0.0.1:3129', '--health', '*:3130', '--policies', '/etc/sidekey/policies', '--certs', '/var/run/sidekey/certs', '--ca-from', '/etc/sidekey/ca-secret', '--publish-ca', '/etc/sidekey/ca', '--workload', 'support-bot', '--drain-timeout', '25000', '--state', '/etc/sidekey/state/state.yaml', '--report-only'])
    t.same((sidekey.env as unknown[])[1], { name: 'OPENAI_API_KEY', valueFrom: { secretKeyRef: { name: 'openai', key: 'api-key' } } }, 'the secret goes to sidekey only')
    t.same(pod.volumes.find((v) => v.name === 'sidekey-ca-secret'), { name: 'sidekey-ca-secret', secret: { secretName: 'sidekey-ca', defaultMode: 0o444, items: [{ key: 'ca.pem', path: 'ca.pem' }, { key: 'ca-key.pem', path: 'ca-key.pem' }] } }, 'mounted apart from the certs directory (test/e2e/kubelet-layout.test.ts starts sidekey on it)')
    t.notOk(JSON.stringify(pod.containers).includes('OPENAI_API_KEY'), 'never to the agent')
    t.same(pod.volumes.map((v) => v.name), ['sidekey-certs', 'sidekey-ca-public', 'sidekey-policies', 'sidekey-ca-secret', 'sidekey-state', 'sidekey-redis-password', 'sidekey-redis-tls', 'sidekey-signing-keys', 'sidekey-token'])
    t.same(pod.volumes.find((v) => v.name === 'sidekey-token'), { name: 'sidekey-token', projected: { sources: [{ serviceAccountToken: { audience: 'sts.amazonaws.com', expirationSeconds: 3600, path: 'token' } }] } })
    const stateYaml = (r.byKind('ConfigMap', 'demo-sidekey-state') as unknown as { data: Record<string, string> }).data['state.yaml']!
    t.same(parse(stateYaml), {
      store: 'redis',
      redis: { mode: 'standalone', url: 'rediss://redis.sidekey:6379', password_file: '/var/run/secrets/sidekey-redis/password', tls: { ca_file: '/var/run/secrets/sidekey-redis-tls/ca.crt' }, key_prefix: 'sidekey:', command_timeout_ms: 1000 },
      signing_keys: { encryption_key_file: '/var/run/secrets/sidekey-signing/key' },
    })
    const path = join(work, 'state.yaml')
    await writeFile(path, stateYaml)
    // The file's shape passes sidekey's own check; only the mounted secret files are missing here.
    await t.rejects(loadStateSettings(path), { message: /cannot read (redis.password_file \/var\/run\/secrets\/sidekey-redis\/password|tls.ca_file \/var\/run\/secrets\/sidekey-redis-tls\/ca.crt) \(ENOENT\)/ })
  })

  t.test('Sentinel and Cluster state files are what sidekey accepts', async (t) => {
    for (const redis of [{ mode: 'sentinel', nodes: ['s1:26379', 's2:26379'], sentinelMaster: 'mymaster', allowUnauthenticated: true }, { mode: 'cluster', nodes: ['r1:6379', 'r2:6379'], allowUnauthenticated: true }]) {
      const r = await render({ ...agent, state: { store: 'redis', redis } })
      validateAll(t, r.objects)
      const path = join(work, `state-${redis.mode}.yaml`)
      await writeFile(path, (r.byKind('ConfigMap', 'demo-sidekey-state') as unknown as { data: Record<string, string> }).data['state.yaml']!)
      const settings = await loadStateSettings(path)
      t.equal(settings.redis?.mode, redis.mode)
      t.equal(settings.redis?.nodes.length, 2)
    }
  })

  t.test('ServiceMonitor and NetworkPolicy', async (t) => {
    const r = await render({ ...agent, metrics: { serviceMonitor: { enabled: true, labels: { release: 'prom' } } }, networkPolicy: { enabled: true, metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], extraEgress: [{ to: [{ podSelector: { matchLabels: { app: 'redis' } } }], ports: [{ port: 6379, protocol: 'TCP' }] }] } })
    validateAll(t, r.objects)
    t.same(r.objects.map((o) => o.kind).sort(), ['ConfigMap', 'Deployment', 'NetworkPolicy', 'Pod', 'PodDisruptionBudget', 'Service', 'ServiceAccount', 'ServiceMonitor'])
    const sidekey = podOf(r.byKind('Deployment')).initContainers!.find((c) => c.name === 'sidekey')!
    t.match(sidekey.args, ['start', '--listen', '127.0.0.1:3128', '--admin', '127.0.0.1:3129', '--health', '*:3130', '--metrics', '*:3131'], 'metrics on a listener of its own; the admin API stays on loopback')
    t.same(sidekey.ports, [{ name: 'health', containerPort: 3130, protocol: 'TCP' }, { name: 'metrics', containerPort: 3131, protocol: 'TCP' }])
    t.match(r.byKind('Service'), { spec: { ports: [{ name: 'metrics', port: 3131, targetPort: 3131 }] } }, 'the target port by number (EndpointSlices of 1.29-1.31 lacked named native-sidecar ports)')
    const np = r.byKind('NetworkPolicy') as unknown as { spec: { egress: { to?: { ipBlock?: { cidr: string; except?: string[] } }[]; ports: { port: number }[] }[]; ingress: unknown[] } }
    t.same(np.spec.egress[0], { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] }, 'DNS to kube-dns only, not to any address')
    t.same(np.spec.egress[1]!.to, [{ ipBlock: { cidr: '0.0.0.0/0', except: ['169.254.169.254/32'] } }], 'cloud metadata is never reachable')
    const nodeLocal = await render({ ...agent, networkPolicy: { enabled: true, dnsTo: [{ ipBlock: { cidr: '169.254.20.10/32' } }] } })
    t.same((nodeLocal.byKind('NetworkPolicy') as unknown as typeof np).spec.egress[0]!.to, [{ ipBlock: { cidr: '169.254.20.10/32' } }], 'networkPolicy.dnsTo names another DNS (NodeLocal DNSCache)')
    t.same(np.spec.egress[1]!.ports.map((p) => p.port), [443, 80])
    t.equal(np.spec.egress.length, 3, 'DNS, web, and the extra Redis rule')
    t.same(np.spec.ingress, [{ ports: [{ port: 3131, protocol: 'TCP' }], from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }] }])
    t.match(r.byKind('ServiceMonitor'), { metadata: { labels: { release: 'prom' } }, spec: { endpoints: [{ port: 'metrics', path: '/metrics' }] } })
    t.notOk(JSON.stringify(sidekey.env).includes('SIDEKEY_ADMIN_HOSTS'), 'no admin Host names to widen: the admin listener is loopback only')
  })

  t.test('agent.enabled=false: only what an existing Deployment needs, and a patch that adds the sidecar', async (t) => {
    const r = await render({ agent: { enabled: false }, agentContainers: ['worker'], policies: { existingConfigMap: 'my-policies' }, mode: 'transparent' })
    validateAll(t, r.objects)
    t.same(r.objects.map((o) => o.kind).sort(), ['ConfigMap', 'Pod', 'ServiceAccount'], 'no Deployment, no policies ConfigMap (an existing one is used); the helm test pod')
    const patch = parse((r.byKind('ConfigMap', 'demo-sidekey-sidecar-patch') as unknown as { data: Record<string, string> }).data['patch.yaml']!) as { spec: { template: { spec: Pod } } }
    const spec = patch.spec.template.spec
    t.same(spec.initContainers!.map((c) => c.name), ['sidekey-iptables', 'sidekey'])
    t.equal(spec.containers[0]!.name, 'worker')
    t.same(spec.volumes.find((v) => v.name === 'sidekey-policies'), { name: 'sidekey-policies', configMap: { name: 'my-policies' } })
    // Applied to an existing Deployment (strategic merge by container name), the result is valid.
    const existing = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'worker' }, spec: { selector: { matchLabels: { app: 'w' } }, template: { metadata: { labels: { app: 'w' } }, spec: { containers: [{ name: 'worker', image: 'w:1', env: [{ name: 'A', value: 'b' }] }] } } } }
    const merged = structuredClone(existing) as typeof existing & { spec: { template: { spec: Record<string, unknown> } } }
    const target = merged.spec.template.spec as unknown as Omit<Pod, 'containers'> & { containers: { name: string; env?: unknown[]; volumeMounts?: unknown[] }[] }
    target.initContainers = spec.initContainers
    target.volumes = spec.volumes
    t.equal(spec.serviceAccountName, undefined, 'the Deployment keeps its own service account')
    for (const c of spec.containers as { name: string; env: unknown[]; volumeMounts: unknown[] }[]) {
      const into = target.containers.find((x) => x.name === c.name)!
      into.env = [...(into.env ?? []), ...c.env]
      into.volumeMounts = [...(into.volumeMounts ?? []), ...c.volumeMounts]
    }
    t.doesNotThrow(() => new Deployment(merged as never).validate())
    t.match(r.notes, /ConfigMap demo-sidekey-sidecar-patch/)
  })

  t.test('bad values are refused with what is wrong', async (t) => {
    await t.rejects(render({ ...agent, mode: 'sideways' }), /values.schema.json.*mode/)
    await t.rejects(render({ ...agent, sidecar: { uid: 0 } }), /values.schema.json.*uid/, 'sidekey never runs as root')
    await t.rejects(render({ ...agent, secrets: [{ env: 'X' }] }), /values.schema.json.*secretName/)
    await t.rejects(render({ ...agent, colour: 'blue' }), /values.schema.json.*additionalProperties/)
    await t.rejects(render({}), /agent.image.repository is required when agent.enabled is true/)
    await t.rejects(render({ ...agent, state: { store: 'redis' } }), /state.redis.url is required/)
    await t.rejects(render({ ...agent, state: { store: 'redis', redis: { url: 'redis://redis.sidekey:6379' } } }), /state.redis needs passwordSecret .*whoever can write to Redis can approve requests/, 'a Redis without a password or client certificate is refused')
    await t.rejects(render({ ...agent, state: { store: 'redis', redis: { mode: 'sentinel', nodes: ['s:26379'] } } }), /sentinelMaster is required/)
  })

  t.test('helm lint and helm template, when a helm binary is on PATH', async (t) => {
    const which = await run('sh', ['-c', 'command -v helm']).catch(() => null)
    if (which === null) {
      t.comment('no helm binary on PATH: the Go text/template + sprig rendering above stands in for it')
      t.pass('rendered without helm')
      return
    }
    const values = join(work, 'lint-values.yaml')
    await writeFile(values, 'agent:\n  image:\n    repository: example/agent\n')
    await run('helm', ['lint', chart, '-f', values])
    const { stdout } = await run('helm', ['template', 'demo', chart, '-f', values])
    t.match(stdout, /kind: Deployment/)
  })
})
