import { execFile } from 'node:child_process'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { OUTCOMES } from '../../src/observe/outcome.js'
import { ProxyAgent, request } from 'undici'
import parsePrometheus from 'parse-prometheus-text-format'
import { pollFor } from '../helpers/poll.js'
import { startTestSidekey } from '../helpers/sidekey.js'
import { startUpstream } from '../helpers/upstream.js'

// Monitoring and automated response, driven through the real proxy. The monitor's clock is
// simulated so that hours of traffic (a learning phase, then normal work) take seconds: requests
// are real, only "what time it is" for the baselines is chosen by the test.

const HOUR = 3_600_000
const MINUTE = 60_000
const DAY0 = Date.UTC(2026, 10, 2, 9, 0, 0) // a Monday, 09:00 UTC

/** A small deterministic generator, so "realistic variation" is the same on every run. */
function random(seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff
    return s / 0x7fffffff
  }
}

t.test('baselines, anomalies and responses', async (t) => {
  // A webhook receiver that fails its first delivery, to prove retries.
  const alerts: Record<string, unknown>[] = []
  let failNext = true
  const receiver = createServer((req: IncomingMessage, res) => {
    let body = ''
    req.on('data', (c: Buffer) => (body += c))
    req.on('end', () => {
      if (failNext) {
        failNext = false
        res.writeHead(503).end()
        return
      }
      alerts.push(JSON.parse(body) as Record<string, unknown>)
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => receiver.close(() => r())))
  process.env.TEST_ALERT_WEBHOOK = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/sidekey`

  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const port = upstream.port
  let clock = DAY0
  const hosts = ['crm.test', 'docs.test', 'other.test', 'forbidden.test']
  const sk = await startTestSidekey(
    t,
    `
version: v1
monitoring:
  learning_s: 3600
  window_s: 60
  responses:
    new-destination: alert
    probing: alert
    rate: throttle
    volume: quarantine
    off-hours: alert
  throttle: { rps: 1, burst: 2, duration_s: 600 }
  webhook:
    url: { env: TEST_ALERT_WEBHOOK }
    retries: 3
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: crm, host: crm.test, ports: [${port}], credential: key, addresses: [127.0.0.1] }
  - { name: docs, host: docs.test, ports: [${port}], addresses: [127.0.0.1] }
  - { name: other, host: other.test, ports: [${port}], addresses: [127.0.0.1] }
`,
    { now: () => clock, connectTo: Object.fromEntries(hosts.map((h) => [`${h}:${port}`, { host: '127.0.0.1', port }])) },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('analyst'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  const call = async (host: string, path = '/', init: { method?: string; body?: Buffer; headers?: Record<string, string> } = {}) => {
    const res = await request(`http://${host}:${port}${path}`, { dispatcher, method: init.method ?? 'GET', body: init.body, headers: init.headers })
    await res.body.dump()
    return { status: res.statusCode, headers: res.headers }
  }
  const anomalies = () => sk.sink.lines.filter((l) => l.event === 'security_event' && l.type === 'anomaly') as { kind: string; workload: string; evidence: { baseline: unknown; observed: unknown }; response: string }[]

  t.test('five hours of normal work (the first is learning) raise no anomaly', async (t) => {
    const rnd = random(7)
    let requests = 0
    for (let minute = 0; minute < 5 * 60; minute++) {
      clock = DAY0 + minute * MINUTE + 1000
      const n = 4 + Math.floor(rnd() * 12) // 4..15 requests a minute
      const batch = Array.from({ length: n }, () => (rnd() < 0.7 ? call('crm.test', `/v1/contacts/${Math.floor(rnd() * 500)}`) : call('docs.test', '/guide')))
      const results = await Promise.all(batch)
      requests += results.filter((r) => r.status === 200).length
    }
    t.ok(requests > 2800, `${requests} requests`)
    t.same(anomalies(), [], 'no false positive')
    const list = (await (await fetch(`${sk.adminUrl}/v1/workloads`, { headers: { authorization: `Bearer ${sk.adminToken}` } })).json()) as { workloads: { workload: string; learning: boolean }[] }
    t.match(list.workloads, [{ workload: 'analyst', learning: false }])
  })

  t.test('a destination never used before', async (t) => {
    clock = DAY0 + 5 * HOUR + 5 * MINUTE
    t.equal((await call('other.test', '/exfil')).status, 200, 'alert only: the request itself goes through')
    const a = anomalies().find((x) => x.kind === 'new-destination')
    t.match(a, { workload: 'analyst', response: 'alert', evidence: { observed: { destination: `other.test:${port} (other)` } } })
    t.match(JSON.stringify(a?.evidence.baseline), /crm\.test/)
  })

  t.test('a denied request where there are usually none (probing)', async (t) => {
    clock = DAY0 + 5 * HOUR + 6 * MINUTE
    t.equal((await call('forbidden.test', '/')).status, 403)
    t.match(anomalies().find((x) => x.kind === 'probing'), { workload: 'analyst', response: 'alert' })
  })

  t.test('a burst far above the usual rate for the hour is throttled', async (t) => {
    clock = DAY0 + 5 * HOUR + 7 * MINUTE
    const results = []
    for (let i = 0; i < 80; i++) results.push(await call('crm.test', `/v1/contacts/${i}`))
    const a = anomalies().find((x) => x.kind === 'rate')
    t.match(a, { response: 'throttle', evidence: { observed: { requests_in_window: Number } } })
    const throttled = results.filter((r) => r.status === 429)
    t.ok(throttled.length > 30, `${throttled.length} requests refused with 429 once throttled`)
    t.equal(throttled[0]!.headers['x-sidekey-error'], 'SIDEKEY_ERR_THROTTLED')
    t.match(String(throttled[0]!.headers['retry-after']), /^[0-9]+$/)
    const released = await request(`${sk.adminUrl}/v1/workloads/analyst/release`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}` } })
    t.equal(released.statusCode, 200)
    await released.body.dump()
    clock += MINUTE
    t.equal((await call('crm.test', '/v1/contacts/1')).status, 200, 'released')
  })

  t.test('an upload far above the usual volume quarantines the workload on every request', async (t) => {
    clock = DAY0 + 5 * HOUR + 10 * MINUTE
    // Data in a header or the query is data sent too (found by a red-team run: 75 requests with
    // 15 KB headers moved 1.1 MB unseen): the volume counts each request's line and headers.
    await call('crm.test', `/v1/notes?q=${'q'.repeat(6000)}`, { headers: { 'x-trace': 't'.repeat(8000) } })
    const traced = await sk.sink.waitForAudit((a) => a.path === '/v1/notes' && a.workload === 'analyst')
    t.ok(traced.bytes_up === 0 && (traced.head_bytes_up ?? 0) > 14_000, `the head is counted: ${traced.head_bytes_up} bytes`)
    const big = Buffer.alloc(700_000, 'x')
    await call('crm.test', '/v1/upload', { method: 'POST', body: big })
    await call('crm.test', '/v1/upload', { method: 'POST', body: big })
    const volume = anomalies().find((x) => x.kind === 'volume') as { response: string; evidence: { observed: { bytes_up_in_window: number } } } | undefined
    t.equal(volume?.response, 'quarantine')
    const observed = volume?.evidence.observed.bytes_up_in_window ?? 0
    t.ok(observed > 1_414_000 && observed < 1_420_000, `bodies, and the heads with the large header and query: ${observed}`)
    const refused = await call('docs.test', '/guide')
    t.equal(refused.status, 403)
    t.equal(refused.headers['x-sidekey-error'], 'SIDEKEY_ERR_QUARANTINED')
    const line = await sk.sink.waitForAudit((a) => a.reason === 'quarantined')
    t.match(line, { workload: 'analyst', decision: 'deny', status: 403 })

    // The CLI, as an operator would use it.
    const cli = (args: string[]) =>
      new Promise<{ code: number; stdout: string }>((resolve) =>
        execFile(process.execPath, [join(process.cwd(), 'dist/src/cli/main.js'), 'workloads', ...args, '--admin', new URL(sk.adminUrl).host, '--certs', join(sk.dir, 'certs')], { encoding: 'utf8' }, (err, stdout) =>
          resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout }),
        ),
      )
    const listed = await cli(['list'])
    t.equal(listed.code, 0)
    t.match(listed.stdout, /analyst\s+QUARANTINED \(anomaly: volume\)/)
    t.equal((await cli(['release', 'analyst'])).code, 0)
    t.equal((await call('docs.test', '/guide')).status, 200, 'released through the CLI')
    t.equal((await cli(['quarantine', 'analyst', '--reason', 'incident 42'])).code, 0)
    t.equal((await call('docs.test', '/guide')).status, 403, 'quarantined by hand')
    t.equal((await cli(['release', 'analyst'])).code, 0)
    t.equal((await cli(['release', 'analyst'])).code, 1, 'releasing twice says there is nothing to release')
  })

  t.test('activity at an hour the workload never works', async (t) => {
    clock = DAY0 + 42 * HOUR // 03:00 UTC two days on: a full day has been seen
    t.equal((await call('crm.test', '/v1/contacts/1')).status, 200)
    t.match(anomalies().find((x) => x.kind === 'off-hours'), { evidence: { observed: { hour_utc: 3 } } })
  })

  t.test('alerts reach the webhook, retried after a failure', async (t) => {
    await pollFor(() => alerts.filter((a) => a.type === 'anomaly').length, (n) => n >= 5, 5000, 100)
    const kinds = alerts.filter((a) => a.type === 'anomaly').map((a) => a.kind)
    t.same([...new Set(kinds)].sort(), ['new-destination', 'off-hours', 'probing', 'rate', 'volume'])
    t.ok(alerts.some((a) => a.type === 'quarantine'), 'the quarantine was alerted too')
    t.notOk(JSON.stringify(sk.sink.lines).includes(process.env.TEST_ALERT_WEBHOOK!), 'the webhook URL (a secret for Slack) is never logged')
  })

  t.test('metrics parse as Prometheus text and count what happened', async (t) => {
    const text = await (await fetch(`${sk.adminUrl}/metrics`)).text()
    const families = parsePrometheus(text) as { name: string; metrics: { labels?: Record<string, string>; value?: string }[] }[]
    const family = (name: string) => families.find((f) => f.name === name)!
    const allowed = family('sidekey_requests_total').metrics.find((m) => m.labels?.workload === 'analyst' && m.labels.route === 'crm' && m.labels.decision === 'allow' && m.labels.outcome === 'served')
    t.ok(Number(allowed?.value) > 1500)
    const outcomes = new Set(family('sidekey_requests_total').metrics.map((m) => m.labels?.outcome))
    t.ok([...outcomes].every((o) => (OUTCOMES as readonly (string | undefined)[]).includes(o)), `outcome is one of a fixed set (${[...outcomes].join(', ')})`)
    for (const kind of ['new-destination', 'probing', 'rate', 'volume', 'off-hours']) {
      t.equal(family('sidekey_anomalies_total').metrics.find((m) => m.labels?.kind === kind)?.value, '1', `one ${kind} anomaly`)
    }
    t.equal(family('sidekey_quarantined_workloads').metrics[0]?.value, '0')
    t.ok(family('sidekey_request_duration_seconds'))
    t.ok(Number(family('sidekey_credentials_total').metrics.find((m) => m.labels?.credential === 'key')?.value) > 1000)
    t.notMatch(text, /\/v1\/contacts/, 'no paths as labels')
  })

  t.test('baselines survive a restart', async (t) => {
    await sk.monitor.save()
    await sk.close()
    const again = await startTestSidekey(t, 'version: v1\n', { now: () => clock, dir: sk.dir })
    const list = (await (await fetch(`${again.adminUrl}/v1/workloads`, { headers: { authorization: `Bearer ${again.adminToken}` } })).json()) as { workloads: { workload: string; learning: boolean; requests: number }[] }
    t.match(list.workloads, [{ workload: 'analyst', learning: false }])
    t.ok(list.workloads[0]!.requests > 2000)
  })
})
