import { spawn } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import jsonpatch from 'fast-json-patch'
import { Pod } from 'kubernetes-models/v1'
import t from 'tap'
import { Agent, request } from 'undici'
import { createCA } from '../../src/ca/authority.js'
import { createLeafKey, mintLeaf } from '../../src/ca/leaf.js'
import { loadInjectSettings } from '../../src/cli/inject-webhook.js'
import { review } from '../../src/kube/inject.js'
import { pollFor } from '../helpers/poll.js'
import { freePort, waitForPort } from '../helpers/redis.js'

// `sidekey inject-webhook` as the API server sees it: a real HTTPS server (the process the CLI
// starts), real AdmissionReview objects posted to /mutate, and the JSONPatch it answers applied to
// the pod (fast-json-patch, RFC 6902), whose result must be a valid Pod (kubernetes-models).

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname

interface ReviewAnswer {
  apiVersion: string
  kind: string
  response: { uid: string; allowed: boolean; status?: { code: number; message: string }; patchType?: string; patch?: string; warnings?: string[] }
}

/** What transparent mode asks of every container of the pod, with a user id from the pod or the container. */
const DROP_ALL = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }

function admissionReview(pod: Record<string, unknown>, uid = '705ab4f5-6393-11e8-b7cc-42010a800002'): Record<string, unknown> {
  // The shape of Kubernetes' own example (admission.k8s.io/v1, a Pod CREATE).
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'agents',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', uid: 'x', groups: ['system:serviceaccounts'] },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  }
}

function pod(annotations: Record<string, string> | undefined, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'support-bot-7d9f-', labels: { 'app.kubernetes.io/name': 'support-bot' }, ...(annotations ? { annotations } : {}) },
    spec: { containers: [{ name: 'agent', image: 'example/agent:1' }], ...spec },
  }
}

t.test('injection webhook', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-webhook-'))
  const ca = await createCA(join(dir, 'ca'))
  const key = createLeafKey()
  await writeFile(join(dir, 'tls.crt'), await mintLeaf(ca, key, 'sidekey-webhook.sidekey.svc'))
  await writeFile(join(dir, 'tls.key'), key.privateKeyPem)
  await writeFile(join(dir, 'inject.yaml'), 'image: registry.example/sidekey:0.1.0\npoliciesConfigMap: agent-policies\nstateConfigMap: sidekey-state\ntokenAudience: sts.amazonaws.com\n')
  const port = await freePort()
  const child = spawn(process.execPath, [cli, 'inject-webhook', '--listen', `127.0.0.1:${port}`, '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--config', join(dir, 'inject.yaml')], { stdio: ['ignore', 'pipe', 'pipe'] })
  let logs = ''
  child.stdout.on('data', (d: Buffer) => (logs += d.toString()))
  child.stderr.on('data', (d: Buffer) => (logs += d.toString()))
  t.teardown(() => void child.kill('SIGTERM'))
  // Started when it says so (or fail with what it said): slow under a loaded parallel test run.
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`inject-webhook exited ${code}: ${logs}`))))
  exited.catch(() => undefined)
  await Promise.race([exited, pollFor(() => logs, (l) => l.includes('"event":"webhook_started"'), 30_000)])
  await waitForPort(port, 1000)
  const dispatcher = new Agent({ connect: { ca: ca.certPem, servername: 'sidekey-webhook.sidekey.svc' } })
  t.teardown(() => dispatcher.close())
  const post = async (body: unknown): Promise<{ status: number; error: string | undefined; json: ReviewAnswer }> => {
    const res = await request(`https://127.0.0.1:${port}/mutate?timeout=10s`, { dispatcher, method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
    return { status: res.statusCode, error: res.headers['x-sidekey-error'] as string | undefined, json: (await res.body.json()) as ReviewAnswer }
  }
  const patched = (p: Record<string, unknown>, answer: ReviewAnswer): Record<string, unknown> => {
    const ops = JSON.parse(Buffer.from(answer.response.patch!, 'base64').toString('utf8')) as jsonpatch.Operation[]
    return jsonpatch.applyPatch(structuredClone(p), ops, true, false).newDocument
  }
  type Container = { name: string; args?: string[]; command?: string[]; env?: { name: string; value: string }[]; volumeMounts?: { name: string }[] }
  type Spec = { initContainers?: Container[]; containers: Container[]; volumes?: { name: string }[]; terminationGracePeriodSeconds?: number }

  t.test('a pod without the annotation is allowed unchanged', async (t) => {
    const r = await post(admissionReview(pod(undefined)))
    t.equal(r.status, 200)
    t.same(r.json, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true } })
  })

  t.test('explicit mode: a native sidecar, the volumes, and the agent variables', async (t) => {
    const original = pod({ 'sidekey.dev/inject': 'true' })
    const r = await post(admissionReview(original, 'uid-explicit'))
    t.equal(r.json.response.uid, 'uid-explicit', 'the answer carries the request uid')
    t.equal(r.json.response.patchType, 'JSONPatch')
    const result = patched(original, r.json)
    t.doesNotThrow(() => new Pod(result as never).validate(), 'the patched pod is a valid Pod')
    const spec = result.spec as Spec
    t.same(spec.initContainers!.map((c) => c.name), ['sidekey'])
    t.match(spec.initContainers![0], { restartPolicy: 'Always', image: 'registry.example/sidekey:0.1.0' })
    t.same(spec.initContainers![0]!.args, ['start', '--listen', '127.0.0.1:3128', '--admin', '127.0.0.1:3129', '--health', '*:3130', '--policies', '/etc/sidekey/policies', '--certs', '/var/run/sidekey/certs', '--publish-ca', '/etc/sidekey/ca', '--workload', 'support-bot', '--drain-timeout', '25000', '--state', '/etc/sidekey/state/state.yaml'])
    t.equal(spec.terminationGracePeriodSeconds, undefined, 'left alone: the default 30 s covers the 25 s drain')
    t.same(spec.volumes!.map((v) => v.name), ['sidekey-certs', 'sidekey-ca-public', 'sidekey-policies', 'sidekey-state', 'sidekey-token'])
    const env = Object.fromEntries(spec.containers[0]!.env!.map((e) => [e.name, e.value]))
    t.equal(env.HTTPS_PROXY, 'http://127.0.0.1:3128')
    t.equal(env.SSL_CERT_FILE, '/etc/sidekey/ca/bundle.pem')
    t.equal(env.NODE_EXTRA_CA_CERTS, '/etc/sidekey/ca/ca.pem')
    t.same(spec.containers[0]!.volumeMounts, [{ name: 'sidekey-ca-public', mountPath: '/etc/sidekey/ca', readOnly: true }])
    t.equal((result.metadata as { annotations: Record<string, string> }).annotations['sidekey.dev/status'], 'injected')
    t.match(logs, /"event":"admission"/)
  })

  t.test('transparent mode with existing init containers, env, volumes and a workload annotation', async (t) => {
    const original = pod(
      { 'sidekey.dev/inject': 'true', 'sidekey.dev/mode': 'transparent', 'sidekey.dev/workload': 'billing-agent', 'sidekey.dev/report-only': 'true' },
      {
        securityContext: { runAsUser: 1000, runAsNonRoot: true },
        initContainers: [{ name: 'migrate', image: 'example/migrate:1', securityContext: DROP_ALL }],
        containers: [
          { name: 'agent', image: 'example/agent:1', env: [{ name: 'MODEL', value: 'gpt-4o-mini' }], volumeMounts: [{ name: 'work', mountPath: '/work' }], securityContext: DROP_ALL },
          { name: 'tools', image: 'example/tools:1', securityContext: { ...DROP_ALL, runAsUser: 1001 } },
        ],
        volumes: [{ name: 'work', emptyDir: {} }],
      },
    )
    const r = await post(admissionReview(original))
    const result = patched(original, r.json)
    t.doesNotThrow(() => new Pod(result as never).validate())
    const spec = result.spec as Spec
    t.same(spec.initContainers!.map((c) => c.name), ['sidekey-iptables', 'sidekey', 'migrate'], 'iptables first, then sidekey, then the pod\'s own')
    t.match(spec.initContainers![0]!.command, ['node', '/app/dist/src/cli/main.js', 'iptables', '--apply', '--uid', '10001', '--gid', '10001', '--redirect', '443:15443,80:15080', '--block-other-egress'])
    t.same(spec.initContainers![1]!.args, ['start', '--listen', '127.0.0.1:3128', '--admin', '127.0.0.1:3129', '--health', '*:3130', '--policies', '/etc/sidekey/policies', '--certs', '/var/run/sidekey/certs', '--publish-ca', '/etc/sidekey/ca', '--workload', 'billing-agent', '--drain-timeout', '25000', '--transparent-http', '80=127.0.0.1:15080', '--transparent-https', '443=127.0.0.1:15443', '--state', '/etc/sidekey/state/state.yaml', '--report-only'])
    t.same(r.json.response.warnings, undefined, 'nothing to warn about')
    const migrate = spec.initContainers![2]!
    t.ok(migrate.env!.some((e) => e.name === 'SSL_CERT_FILE'), 'the pod\'s own init container (after the native sidecar) trusts the CA')
    t.same(migrate.volumeMounts, [{ name: 'sidekey-ca-public', mountPath: '/etc/sidekey/ca', readOnly: true }])
    t.equal(spec.containers[0]!.env![0]!.name, 'MODEL', 'existing variables kept')
    t.notOk(spec.containers[0]!.env!.some((e) => e.name === 'HTTPS_PROXY'), 'no proxy variables in transparent mode')
    t.ok(spec.containers[1]!.env!.some((e) => e.name === 'SSL_CERT_FILE'), 'every container trusts the CA')
    t.same(spec.containers[0]!.volumeMounts!.map((m) => m.name), ['work', 'sidekey-ca-public'])
    t.same(spec.volumes!.map((v) => v.name)[0], 'work')
  })

  t.test('transparent mode: a pod whose containers could get around sidekey is refused, saying which and why', async (t) => {
    const original = pod(
      { 'sidekey.dev/inject': 'true', 'sidekey.dev/mode': 'transparent' },
      {
        initContainers: [{ name: 'setup', image: 'example/setup:1', securityContext: { ...DROP_ALL, runAsUser: 0, runAsNonRoot: true } }],
        containers: [
          { name: 'agent', image: 'example/agent:1', securityContext: { ...DROP_ALL, runAsUser: 10001, runAsNonRoot: true } },
          { name: 'tools', image: 'example/tools:1', securityContext: { runAsUser: 1000, runAsNonRoot: true, capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] } } },
        ],
      },
    )
    const r = await post(admissionReview(original, 'uid-unsafe'))
    t.equal(r.status, 200)
    t.same(r.json.response.allowed, false)
    t.equal(r.json.response.status?.code, 403)
    t.match(r.json.response.status?.message, /in transparent mode these containers could get around sidekey: container "setup" runs as root, which can take sidekey's user id; container "agent" runs as sidekey's user id 10001, whose traffic is not redirected; container "tools" adds capabilities \(NET_ADMIN\)\. Fix their securityContext \(a fixed non-root runAsUser other than 10001, runAsNonRoot: true, capabilities dropped\), or have the webhook's operator set agentSecurity: warn/)
    t.equal(r.json.response.patch, undefined)
    const refusedLine = /"level":"warn"[^\n]*"event":"admission","allowed":false[^\n]*"refused":"sidekey: in transparent mode/
    t.match(await pollFor(() => logs, (l) => refusedLine.test(l), 5000), refusedLine, 'a warning line in the webhook\'s log')
    const explicit = await post(admissionReview(pod({ 'sidekey.dev/inject': 'true' }, { containers: [{ name: 'agent', image: 'example/agent:1', securityContext: { runAsUser: 10001 } }] })))
    t.equal(explicit.json.response.allowed, true, 'explicit mode does not depend on user ids')
  })

  t.test('a hostNetwork pod is never injected: allowed unchanged, with a warning and a log line', async (t) => {
    for (const mode of ['transparent', 'explicit']) {
      const original = pod({ 'sidekey.dev/inject': 'true', 'sidekey.dev/mode': mode }, { hostNetwork: true, securityContext: { runAsUser: 1000, runAsNonRoot: true }, containers: [{ name: 'agent', image: 'example/agent:1', securityContext: DROP_ALL }] })
      const r = await post(admissionReview(original, `uid-host-${mode}`))
      t.equal(r.json.response.allowed, true)
      t.equal(r.json.response.patch, undefined, `${mode}: no patch`)
      t.match(r.json.response.warnings, [/not injected into a hostNetwork pod: its listeners would serve every process on the node, and transparent mode's rules would rewrite the node's own iptables/])
    }
    const skippedLine = /"level":"warn"[^\n]*"event":"admission","allowed":true[^\n]*"injected":false,"warnings":\["sidekey: not injected into a hostNetwork pod/
    t.match(await pollFor(() => logs, (l) => skippedLine.test(l), 5000), skippedLine, 'a warning line in the webhook\'s log')
  })

  t.test('settings: agentSecurity warn, and more redirected ports', async (t) => {
    await writeFile(join(dir, 'warn.yaml'), 'agentSecurity: warn\ntransparentPorts:\n  - { port: 443, listenPort: 15443, protocol: https }\n  - { port: 8443, listenPort: 15444, protocol: https }\n')
    const settings = await loadInjectSettings(join(dir, 'warn.yaml'))
    const original = pod({ 'sidekey.dev/inject': 'true', 'sidekey.dev/mode': 'transparent' }, { containers: [{ name: 'agent', image: 'example/agent:1', securityContext: { ...DROP_ALL, runAsUser: 10001, runAsNonRoot: true } }] })
    const answer = review(admissionReview(original), settings) as ReviewAnswer
    t.equal(answer.response.allowed, true)
    t.match(answer.response.warnings, [/container "agent" runs as sidekey's user id 10001/])
    const spec = patched(original, answer).spec as Spec
    t.match(spec.initContainers![0]!.command, ['node', '/app/dist/src/cli/main.js', 'iptables', '--apply', '--uid', '10001', '--gid', '10001', '--redirect', '443:15443,8443:15444'])
    t.match(spec.initContainers![1]!.args, ['start', '--listen', '127.0.0.1:3128', '--admin', '127.0.0.1:3129', '--health', '*:3130', '--policies', '/etc/sidekey/policies', '--certs', '/var/run/sidekey/certs', '--publish-ca', '/etc/sidekey/ca', '--workload', 'support-bot', '--drain-timeout', '25000', '--transparent-https', '443=127.0.0.1:15443,8443=127.0.0.1:15444'])
    for (const [yaml, why] of [
      ['agentSecurity: maybe\n', /agentSecurity must be refuse or warn/],
      ['transparentPorts: []\n', /transparentPorts must be a non-empty list/],
      ['transparentPorts:\n  - { port: 443, listenPort: 3128, protocol: https }\n', /transparentPorts \[0\]\.listenPort must be a port from 1024 that sidekey does not use otherwise/],
      ['transparentPorts:\n  - { port: 443, listenPort: 15443, protocol: https }\n  - { port: 443, listenPort: 15444, protocol: https }\n', /transparentPorts \[1\]: port 443 or listenPort 15444 is given twice/],
      ['transparentPorts:\n  - { port: 443, listenPort: 15443, protocol: quic }\n', /\[0\]\.protocol must be http or https/],
    ] as const) {
      await writeFile(join(dir, 'bad-ports.yaml'), yaml)
      await t.rejects(loadInjectSettings(join(dir, 'bad-ports.yaml')), { code: 'SIDEKEY_ERR_CONFIG', message: why })
    }
  })

  t.test('an injected pod is not injected twice', async (t) => {
    const original = pod({ 'sidekey.dev/inject': 'true' })
    const once = patched(original, (await post(admissionReview(original))).json)
    const r = await post(admissionReview(once))
    t.equal(r.json.response.patch, undefined)
    t.match(r.json.response.warnings, [/already injected/])
  })

  t.test('a bad workload annotation falls back with a warning; never a denial', async (t) => {
    const original = pod({ 'sidekey.dev/inject': 'true', 'sidekey.dev/workload': '../../etc', 'sidekey.dev/mode': 'sideways' })
    const r = await post(admissionReview(original))
    t.equal(r.json.response.allowed, true)
    t.match(r.json.response.warnings, [/unknown sidekey.dev\/mode "sideways"/, /not a workload name/])
    const spec = patched(original, r.json).spec as Spec
    const args = spec.initContainers![0]!.args!
    t.equal(args[args.indexOf('--workload') + 1], 'default')
  })

  t.test('the reserved name anonymous falls back to "default" with a warning, so the sidecar can start', async (t) => {
    for (const name of ['anonymous', 'Anonymous']) {
      const original = pod({ 'sidekey.dev/inject': 'true', 'sidekey.dev/workload': name })
      const r = await post(admissionReview(original))
      t.equal(r.json.response.allowed, true)
      t.match(r.json.response.warnings, [/reserved for callers without a run token/])
      const spec = patched(original, r.json).spec as Spec
      const args = spec.initContainers![0]!.args!
      t.equal(args[args.indexOf('--workload') + 1], 'default')
    }
  })

  t.test('hostile or broken requests get a specific 400', async (t) => {
    for (const [body, why] of [
      ['{not json', /not JSON/],
      [{ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }, /admission.k8s.io\/v1/],
      [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request.uid/],
      [admissionReview({ metadata: { annotations: { 'sidekey.dev/inject': 'true' } }, spec: {} }), /no containers/],
      ['null', /AdmissionReview/],
    ] as const) {
      const res = await request(`https://127.0.0.1:${port}/mutate`, { dispatcher, method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) })
      const json = (await res.body.json()) as { error: { message: string } }
      t.equal(res.statusCode, 400)
      t.equal(res.headers['x-sidekey-error'], 'SIDEKEY_ERR_BAD_REQUEST')
      t.match(json.error.message, why)
    }
    const big = await request(`https://127.0.0.1:${port}/mutate`, { dispatcher, method: 'POST', body: Buffer.alloc(4 * 1024 * 1024, 0x20) }).catch((err: Error) => err)
    if (!(big instanceof Error)) {
      t.equal(big.statusCode, 413)
      await big.body.dump()
    } else t.pass('an oversized body is cut off')
    const health = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher })
    t.equal(health.statusCode, 200, 'and the webhook still answers')
    await health.body.dump()
  })

  t.test('settings errors stop the webhook at start with what is wrong', async (t) => {
    await writeFile(join(dir, 'bad.yaml'), 'image: x\nuid: 0\ncolour: blue\n')
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const p = spawn(process.execPath, [cli, 'inject-webhook', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key'), '--config', join(dir, 'bad.yaml')])
      let text = ''
      p.stderr.on('data', (d: Buffer) => (text += d.toString()))
      p.once('close', (code) => resolve({ code, text })) // 'close': stderr read whole
    })
    t.equal(out.code, 1)
    t.match(out.text, /unknown setting\(s\) colour/)
  })
})
