import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { DenialQuarantine } from '../../src/approvals/denial-quarantine.js'
import { createLogger } from '../../src/observe/logger.js'
import { RedisStore } from '../../src/state/redis-store.js'
import { MemoryStore, type ApprovalRecord } from '../../src/state/store.js'
import { loadStateSettings } from '../../src/state/config.js'
import { pollFor, waitFor } from '../helpers/poll.js'
import { freePort, startRedis, writeStateFile } from '../helpers/redis.js'
import { noSecretsLogged, SECRETS, startTestSidekey, type TestSidekey } from '../helpers/sidekey.js'
import { startUpstream } from '../helpers/upstream.js'

// Many replicas, one policy: three sidekey instances share one real redis-server (Debian's, on a
// free loopback port) and enforce one quota exactly under concurrent load, resolve an approval held
// by one through another's admin API, quarantine everywhere at once, merge baselines and sign with
// the same keys. Redis is then killed mid-traffic and started again: nothing hangs, routes fail open
// or closed as they say, approvals fail closed, and everything recovers by itself.

const silent = createLogger({ level: "silent" })

async function admin(sk: TestSidekey, method: string, path: string, body?: unknown) {
  const res = await request(`${sk.adminUrl}${path}`, { method: method as 'GET', headers: { authorization: `Bearer ${sk.adminToken}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> }
}

t.test('RedisStore counters agree with the in-memory ones and never over-admit', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const settings = await loadStateSettings(await writeStateFile(redis.dir, redis.url))
  const stores = await Promise.all([1, 2, 3].map(() => RedisStore.open(settings.redis!, silent)))
  t.teardown(() => Promise.all(stores.map((s) => s.close())))

  t.test('the same sequence gives the same answers as MemoryStore (sliding and fixed)', async (t) => {
    const memory = new MemoryStore(() => 0)
    let now = 1_000_000_000_000
    const steps: string[] = []
    for (let i = 0; i < 120; i++) {
      now += [50, 400, 1500, 7000][i % 4]!
      const [a, b] = [await memory.countSliding('k', 5, 10_000, now), await stores[i % 3]!.countSliding('k', 5, 10_000, now)]
      steps.push(`${a.allowed}/${a.count}/${a.retryAfterMs} ${b.allowed}/${b.count}/${b.retryAfterMs}`)
      t.same(b, a, `step ${i}`)
      if (JSON.stringify(a) !== JSON.stringify(b)) break
    }
    const fixed = await Promise.all(Array.from({ length: 5 }, (_, i) => stores[i % 3]!.countFixed('f', 3, 60_000)))
    // Five counts at once over three connections: which ones win is up to the network, how many is not.
    t.equal(fixed.filter((r) => r.allowed).length, 3, 'exactly the limit admitted')
    const refused = fixed.filter((r) => !r.allowed)
    t.equal(refused.length, 2)
    t.ok(refused.every((r) => r.retryAfterMs > 59_000 && r.retryAfterMs <= 60_000), 'retry after the key expires')
  })

  t.test('300 concurrent counts from three stores on a limit of 100: exactly 100 admitted', async (t) => {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => stores[i % 3]!.countFixed('burst', 100, 60_000)))
    t.equal(results.filter((r) => r.allowed).length, 100)
    const sliding = await Promise.all(Array.from({ length: 300 }, (_, i) => stores[i % 3]!.countSliding('burst-s', 100, 60_000, 1_000_000_000_000 + i)))
    t.equal(sliding.filter((r) => r.allowed).length, 100)
  })

  t.test('approvals: stored by one, settled by another, announced to all', async (t) => {
    const seen: ApprovalRecord[][] = stores.map(() => [])
    const offs = stores.map((s, i) => s.onApproval((r) => seen[i]!.push(r)))
    t.teardown(() => offs.forEach((off) => off()))
    const record: ApprovalRecord = {
      id: '00000000-0000-4000-8000-000000000001', workload: 'w', route: 'r', method: 'POST', host: 'h', port: 443, path: '/', query: [['a', '1'], ['a', '2']], headers: [['x-b', 'c']], body: null, body_encoding: null, body_bytes: 0, why: 'test',
      created: new Date().toISOString(), expires: new Date(Date.now() + 60_000).toISOString(), status: 'pending', decided_by: null, decided_at: null, grant_until: null, note: null,
    }
    await stores[0]!.putApproval(record)
    t.equal((await stores[1]!.getApproval(record.id))?.status, 'pending')
    t.same((await stores[2]!.listApprovals()).map((a) => a.id), [record.id])
    const settlement = { status: 'approved' as const, decided_by: 'bob', decided_at: new Date().toISOString(), grant_until: null, note: null }
    const settled = await stores[1]!.settleApproval(record.id, settlement)
    t.equal(settled?.status, 'approved')
    t.same(settled?.query, [['a', '1'], ['a', '2']], 'arrays survive the round trip')
    t.equal(await stores[2]!.settleApproval(record.id, { ...settlement, status: 'denied' }), null, 'the first decision stands')
    await waitFor('every store heard of the decision', async () => seen.every((s) => s.some((r) => r.id === record.id && r.status === 'approved')))
    t.pass('every store heard of the decision')
  })

  t.test('a quarantine survives Redis losing its data; one released elsewhere is not brought back', async (t) => {
    const since = new Date().toISOString()
    await stores[0]!.quarantine({ workload: 'lost-by-redis', reason: 'test', by: 'admin', since })
    await waitFor('every store holds it', async () => stores.every((s) => s.quarantined('lost-by-redis') !== undefined))
    // Redis restarted without persistence, or failed over to a replica that had not caught up.
    await redis.cli('FLUSHALL')
    await waitFor('written back by a reload', async () => (await redis.cli('HGET', 'sidekey:quarantine', 'lost-by-redis')).includes(since), 5000)
    t.ok(stores.every((s) => s.quarantined('lost-by-redis')?.since === since), 'every replica still holds it')

    // A release whose announcement a replica missed: what the release writes, without the publish.
    await stores[1]!.quarantine({ workload: 'released-quietly', reason: 'test', by: 'admin', since })
    await waitFor('every store holds it', async () => stores.every((s) => s.quarantined('released-quietly') !== undefined))
    await redis.cli('HDEL', 'sidekey:quarantine', 'released-quietly')
    await redis.cli('HSET', 'sidekey:quarantine', 'released:released-quietly', JSON.stringify([since]))
    await waitFor('dropped by a reload', async () => stores.every((s) => s.quarantined('released-quietly') === undefined), 5000)
    t.equal(await redis.cli('HEXISTS', 'sidekey:quarantine', 'released-quietly'), '0', 'and not written back')

    // A release through the store: gone everywhere, and a new quarantine of the same workload holds.
    t.equal(await stores[2]!.release('lost-by-redis'), true)
    await waitFor('released everywhere', async () => stores.every((s) => s.quarantined('lost-by-redis') === undefined))
    await new Promise((r) => setTimeout(r, 1500))
    t.ok(stores.every((s) => s.quarantined('lost-by-redis') === undefined), 'a reload does not bring it back')
    const again = new Date(Date.now() + 1).toISOString()
    await stores[0]!.quarantine({ workload: 'lost-by-redis', reason: 'again', by: 'admin', since: again })
    await new Promise((r) => setTimeout(r, 1500))
    t.ok(stores.every((s) => s.quarantined('lost-by-redis')?.since === again), 'a later quarantine is not taken for the released one')
    t.equal(await stores[0]!.release('lost-by-redis'), true)
    t.equal(await stores[0]!.release('released-quietly'), false, 'nothing to release')
  })

  t.test('a release that cannot reach Redis lifts nothing', async (t) => {
    await stores[0]!.quarantine({ workload: 'kept-in-outage', reason: 'test', by: 'admin', since: new Date().toISOString() })
    const down = await RedisStore.open({ ...settings.redis!, url: `redis://127.0.0.1:${await freePort()}`, connectTimeoutMs: 300 }, silent)
    t.teardown(() => down.close())
    t.equal(down.quarantineListKnown, false, 'a replica that never read the list says so')
    await down.quarantine({ workload: 'kept-in-outage', reason: 'test', by: 'admin', since: new Date().toISOString() })
    await t.rejects(down.release('kept-in-outage'), { code: 'SIDEKEY_ERR_STATE_UNAVAILABLE' })
    t.ok(down.quarantined('kept-in-outage'), 'still in force here')
    const serving = await RedisStore.open({ ...settings.redis!, url: `redis://127.0.0.1:${await freePort()}`, connectTimeoutMs: 300, unknownQuarantine: 'serve' }, silent)
    t.teardown(() => serving.close())
    t.equal(serving.quarantineListKnown, true, 'unknown_quarantine: serve')
    t.equal(await stores[0]!.release('kept-in-outage'), true)
  })

  t.test('denials toward quarantine_after_denials add up across replicas', async (t) => {
    const quarantined: string[] = []
    const rules = stores.map((state) => new DenialQuarantine({ limit: () => 3, now: () => Date.now(), state, quarantine: (w) => quarantined.push(w) }))
    const said = await Promise.all(rules.map((r) => r.denied('denied-everywhere')))
    t.equal(said.filter((x) => x).length, 1, 'three denials at once on three replicas: the third quarantines')
    t.same(quarantined, ['denied-everywhere'])
  })

  t.test('compare and set', async (t) => {
    t.equal(await stores[0]!.casBlob('x', null, 'one'), true)
    t.equal(await stores[1]!.casBlob('x', null, 'two'), false, 'lost the race: it is not absent any more')
    t.equal(await stores[1]!.casBlob('x', 'one', 'two'), true)
    t.equal(await stores[2]!.getBlob('x'), 'two')
  })
})

t.test('three sidekey replicas, one Redis', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const upstream = await startUpstream()
  t.teardown(() => upstream.close())
  const port = upstream.port
  const keyFile = `${redis.dir}/state-key`
  await import('node:fs/promises').then((fs) => fs.writeFile(keyFile, 'a-long-random-shared-encryption-key\n'))
  const statePath = await writeStateFile(redis.dir, redis.url, '  quarantine_refresh_ms: 500\n', `signing_keys:\n  encryption_key_file: ${keyFile}\n`)
  const hosts = ['quota', 'strict', 'open', 'pay', 'free']
  const connectTo = Object.fromEntries(hosts.map((h) => [`${h}.test:${port}`, { host: '127.0.0.1', port }]))
  const policy = `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
  minted: { type: jwt, audience: https://api.test }
routes:
  - name: quota
    host: quota.test
    ports: [${port}]
    addresses: [127.0.0.1]
    credential: key
    conditions:
      quota: { requests: 20, per: day }
  - name: strict
    host: strict.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      rate: { requests: 1000, per_s: 60 }
  - name: open
    host: open.test
    ports: [${port}]
    addresses: [127.0.0.1]
    conditions:
      rate: { requests: 1000, per_s: 60, on_store_error: allow }
  - name: pay
    host: pay.test
    ports: [${port}]
    addresses: [127.0.0.1]
    credential: key
    approval: { timeout_s: 30 }
  - name: free
    host: free.test
    ports: [${port}]
    addresses: [127.0.0.1]
`
  const replicas = [] as TestSidekey[]
  for (let i = 0; i < 3; i++) replicas.push(await startTestSidekey(t, policy, { connectTo, statePath }))
  const [a, b, c] = replicas as [TestSidekey, TestSidekey, TestSidekey]

  const send = async (sk: TestSidekey, host: string, workload = 'agent', init: { method?: string; body?: string; timeoutMs?: number } = {}) => {
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor(workload), proxyTunnel: false })
    try {
      const res = await request(`http://${host}.test:${port}/v1/x`, { dispatcher, method: (init.method ?? 'GET') as 'GET', body: init.body, signal: AbortSignal.timeout(init.timeoutMs ?? 10_000) })
      await res.body.text()
      return { status: res.statusCode, error: res.headers['x-sidekey-error'] as string | undefined }
    } finally {
      await dispatcher.close()
    }
  }

  t.test('one daily quota of 20 across three replicas: 90 concurrent requests, exactly 20 pass', async (t) => {
    const before = upstream.seen.length
    const results = await Promise.all(Array.from({ length: 90 }, (_, i) => send(replicas[i % 3]!, 'quota')))
    t.equal(results.filter((r) => r.status === 200).length, 20)
    t.equal(results.filter((r) => r.status === 429 && r.error === 'SIDEKEY_ERR_QUOTA_EXCEEDED').length, 70)
    t.equal(upstream.seen.length - before, 20, 'the upstream saw 20, not 60')
  })

  t.test('an approval held by replica A is listed and approved through replica B; A forwards it', async (t) => {
    const pending = send(a, 'pay', 'agent', { method: 'POST', body: '{"amount":5}' })
    const listed = await waitFor('the approval on B', async () => ((await admin(b, 'GET', '/v1/approvals')).body.approvals as ApprovalRecord[]).find((x) => x.status === 'pending' && x.route === 'pay'))
    t.equal((await admin(c, 'GET', `/v1/approvals/${listed.id}`)).body.status, 'pending', 'C sees it too')
    const decided = await admin(b, 'POST', `/v1/approvals/${listed.id}/approve`, { by: 'alice' })
    t.equal(decided.status, 200)
    const r = await pending
    t.equal(r.status, 200)
    t.equal(upstream.seen.at(-1)!.headers.authorization, `Bearer ${SECRETS.OPENAI}`)
    t.equal((await admin(c, 'POST', `/v1/approvals/${listed.id}/deny`, {})).status, 409, 'a decision on another replica stands everywhere')
  })

  t.test('denied through C: A refuses the held request', async (t) => {
    const pending = send(a, 'pay', 'agent', { method: 'POST', body: '{}' })
    const listed = await waitFor('the approval on C', async () => ((await admin(c, 'GET', '/v1/approvals')).body.approvals as ApprovalRecord[]).find((x) => x.status === 'pending'))
    await admin(c, 'POST', `/v1/approvals/${listed.id}/deny`, { note: 'no' })
    const r = await pending
    t.equal(r.status, 403)
    t.equal(r.error, 'SIDEKEY_ERR_APPROVAL_DENIED')
  })

  t.test('a grant made through B covers the workload on A', async (t) => {
    const pending = send(a, 'pay', 'granted', { method: 'POST', body: '{}' })
    const listed = await waitFor('the approval', async () => ((await admin(b, 'GET', '/v1/approvals')).body.approvals as ApprovalRecord[]).find((x) => x.status === 'pending' && x.workload === 'granted'))
    await admin(b, 'POST', `/v1/approvals/${listed.id}/approve`, { for: '10m' })
    t.equal((await pending).status, 200)
    t.equal((await send(c, 'pay', 'granted', { method: 'POST', body: '{}' })).status, 200, 'C does not ask again')
  })

  t.test('a decision whose pub/sub announcement is lost still reaches the holder (it re-reads the record)', async (t) => {
    const pending = send(a, 'pay', 'lost-message', { method: 'POST', body: '{}' })
    const listed = await waitFor('the approval', async () => ((await admin(b, 'GET', '/v1/approvals')).body.approvals as ApprovalRecord[]).find((x) => x.status === 'pending' && x.workload === 'lost-message'))
    // Settled behind sidekey's back: written to Redis, announced to nobody.
    await redis.cli('HSET', `sidekey:{approvals}:${listed.id}`, 'status', 'approved', 'settlement', JSON.stringify({ status: 'approved', decided_by: 'redis-cli', decided_at: new Date().toISOString(), grant_until: null, note: null }))
    t.equal((await pending).status, 200, 'forwarded within the re-read interval, long before the 30 s timeout')
  })

  t.test('a quarantine made on A refuses on B and C within a second; a release on C lifts it everywhere', async (t) => {
    t.equal((await send(b, 'free', 'suspect')).status, 200)
    // Propagation is measured where it happens (each replica's view of the store, polled every
    // 25 ms), so a loaded CI machine's slow proxied requests do not count against the second.
    const started = Date.now()
    const arrived = Promise.all([b, c].map((sk) => waitFor('the quarantine', async () => sk.state.quarantined('suspect') !== undefined && Date.now(), 5000)))
    t.equal((await admin(a, 'POST', '/v1/workloads/suspect/quarantine', { reason: 'test' })).status, 200)
    const seenAt = await arrived
    const slowest = Math.max(...seenAt) - started
    t.ok(slowest < 1000, `in force on every replica within a second (${slowest} ms, admin call included)`)
    for (const sk of [b, c]) {
      await waitFor('the refusal', async () => (await send(sk, 'free', 'suspect')).error === 'SIDEKEY_ERR_QUARANTINED', 5000)
    }
    t.pass('refused everywhere')
    const metrics = await (await request(`${c.adminUrl}/metrics`)).body.text()
    t.match(metrics, /sidekey_quarantined_workloads 1/)
    t.equal((await admin(c, 'POST', '/v1/workloads/suspect/release', {})).status, 200)
    for (const sk of [a, b]) await waitFor('the release', async () => (await send(sk, 'free', 'suspect')).status === 200, 5000)
    t.pass('released everywhere')
  })

  t.test('a throttle raised on A holds on B and C; a release on C lifts it everywhere', async (t) => {
    // Found by a red-team run: the anomaly is raised once for the fleet, and its throttle held on
    // the replica that raised it, so the agent's requests to the others all passed.
    const burst = async (sk: TestSidekey) => (await Promise.all(Array.from({ length: 12 }, () => send(sk, 'free', 'noisy')))).filter((r) => r.status === 429 && r.error === 'SIDEKEY_ERR_THROTTLED').length
    await a.monitor.throttle('noisy')
    for (const [name, sk] of [['B', b], ['C', c]] as const) {
      const refused = await waitFor(`the throttle on ${name}`, async () => ((await burst(sk)) > 0 ? true : undefined), 6000)
      t.ok(refused, `throttled on ${name} too`)
    }
    t.equal((await admin(c, 'POST', '/v1/workloads/noisy/release', {})).status, 200, 'released through C, which only took the throttle up')
    for (const [name, sk] of [['A', a], ['B', b]] as const) await waitFor(`the release on ${name}`, async () => ((await burst(sk)) === 0 ? true : undefined), 6000)
    t.pass('released everywhere')
  })

  t.test('a request that would be held with a managed secret in its body never reaches Redis (issue #20 item 10)', async (t) => {
    t.same(await send(a, 'pay', 'leaky', { method: 'POST', body: JSON.stringify({ note: SECRETS.OPENAI }) }), { status: 403, error: 'SIDEKEY_ERR_SECRET_DETECTED' })
    const ids = (await redis.cli('ZRANGE', 'sidekey:{approvals}', '0', '-1')).split('\n').filter(Boolean)
    t.ok(ids.length > 0, 'earlier approvals are stored there')
    const lost = ((await admin(b, 'GET', '/v1/approvals')).body.approvals as ApprovalRecord[]).find((x) => x.workload === 'lost-message')
    t.match(lost, { status: 'approved', body: null, body_bytes: 2 }, 'a settled record is read without its body')
    for (const id of ids) {
      const record = await redis.cli('HGET', `sidekey:{approvals}:${id}`, 'record')
      t.notOk(record.includes(SECRETS.OPENAI) || record.includes('"leaky"'), `approval ${id} is not the refused request`)
      // Except the one settled behind sidekey's back with redis-cli (its reads drop the body all the same).
      if (!record.includes('"lost-message"')) t.match(record, /"body":null/, 'settled records are stored without their bodies')
    }
  })

  t.test('recent decisions of every replica are listed by any', async (t) => {
    await send(c, 'free', 'from-c')
    const found = await waitFor('the decision of C on A', async () => ((await admin(a, 'GET', '/v1/decisions')).body.decisions as { workload: string }[]).find((d) => d.workload === 'from-c'))
    t.ok(found)
  })

  t.test('baselines are merged: a destination learned through A is known on B', async (t) => {
    await send(a, 'free', 'learner')
    await a.monitor.sync()
    await b.monitor.sync()
    await send(b, 'free', 'learner')
    await b.monitor.sync()
    const w = (b.monitor.workloads().find((x) => x.workload === 'learner'))!
    t.equal(w.requests, 2, 'B counts the request A saw')
    await a.monitor.sync()
    t.equal(a.monitor.workloads().find((x) => x.workload === 'learner')!.requests, 2, 'and A the one B saw')
    t.equal(w.destinations, 1)
  })

  t.test('every replica signs with the same keys and serves the same JWKS', async (t) => {
    const keys = await Promise.all(replicas.map((sk) => sk.credentials.keys.jwks()))
    t.equal(keys[0]!.keys.length, 1)
    t.same(keys[1], keys[0])
    t.same(keys[2], keys[0])
    const stored = await redis.cli('HGET', 'sidekey:blobs', 'jwt-keys')
    t.match(stored, /"v":1/)
    t.notMatch(stored, /"d":/, 'the private key is not stored in the clear')
  })

  t.test('Redis killed mid-traffic: no request hangs, each route fails as it says; then it recovers', async (t) => {
    let answered = 0
    const traffic = Promise.all(Array.from({ length: 30 }, async (_, i) => {
      // Spread over 600 ms, so Redis goes away while requests are still being sent.
      await new Promise((r) => setTimeout(r, i * 20))
      return send(replicas[i % 3]!, 'strict', 'agent', { timeoutMs: 8000 }).finally(() => answered++)
    }))
    // Mid-traffic: once a first request has been answered (and counted in Redis).
    await pollFor(() => answered, (n) => n >= 1, 5000, 10)
    await admin(b, 'POST', '/v1/workloads/before-outage/quarantine', { reason: 'before the outage' })
    await redis.stop()
    const during = await traffic
    t.equal(during.length, 30, 'every request answered (none hung past its timeout)')
    t.ok(during.every((r) => r.status === 200 || (r.status === 503 && r.error === 'SIDEKEY_ERR_STATE_UNAVAILABLE')), 'each one served or refused 503 STATE_UNAVAILABLE')
    t.ok(during.some((r) => r.status === 503), 'the fail-closed route refused while Redis was down')

    const started = Date.now()
    t.same(await send(a, 'strict'), { status: 503, error: 'SIDEKEY_ERR_STATE_UNAVAILABLE' }, 'rate limit with on_store_error refuse (the default): 503')
    t.equal((await send(a, 'open')).status, 200, 'on_store_error: allow lets it through')
    const audit = await a.sink.waitForAudit((x) => x.route === 'open' && Array.isArray(x.uncounted))
    t.same(audit.uncounted, ['rate'], 'and the audit line says it went uncounted')
    t.same(await send(b, 'pay', 'agent', { method: 'POST', body: '{}' }), { status: 503, error: 'SIDEKEY_ERR_APPROVAL_UNAVAILABLE' }, 'approvals fail closed')
    t.equal((await send(c, 'free')).status, 200, 'routes that need no shared state are not affected')
    t.ok(Date.now() - started < 5000, 'refusals are quick (no offline queue)')
    t.equal((await admin(b, 'GET', '/v1/approvals')).status, 503, 'the admin API says the store is unavailable')
    const ready = await admin(a, 'GET', '/readyz')
    t.same(ready.body.state, { store: 'redis', available: false, quarantine_known: true }, 'the list read before the outage is still known')
    t.match(await (await request(`${a.adminUrl}/metrics`)).body.text(), /sidekey_state_store_up 0/)
    t.ok(a.sink.lines.some((l) => l.event === 'state_unavailable'), 'a clear log line')

    // A quarantine during the outage applies here at once and everywhere once Redis is back.
    await admin(a, 'POST', '/v1/workloads/outage-suspect/quarantine', { reason: 'during outage' })
    t.equal((await send(a, 'free', 'outage-suspect')).error, 'SIDEKEY_ERR_QUARANTINED')

    // A replica started now cannot read the list: it serves no one rather than a quarantined agent.
    const d = await startTestSidekey(t, policy, { connectTo, statePath })
    const refused = await send(d, 'free', 'agent')
    t.same(refused, { status: 503, error: 'SIDEKEY_ERR_STATE_UNAVAILABLE' }, 'a replica that never read the quarantine list refuses')
    t.equal(((await admin(d, 'GET', '/readyz')).body.state as { quarantine_known: boolean }).quarantine_known, false, '/readyz says why')

    // The Redis that comes back has lost everything (no persistence): the replicas write their quarantines back.
    await redis.start()
    for (const sk of replicas) await waitFor('reconnection', async () => (await admin(sk, 'GET', '/readyz')).body.state && ((await admin(sk, 'GET', '/readyz')).body.state as { available: boolean }).available, 10_000)
    t.equal((await send(a, 'strict')).status, 200, 'counted again after reconnecting by itself')
    t.equal((await send(b, 'strict')).status, 200)
    await waitFor('the outage quarantine reached C', async () => (await send(c, 'free', 'outage-suspect')).error === 'SIDEKEY_ERR_QUARANTINED', 5000)
    t.pass('the quarantine made during the outage reached the other replicas')
    for (const [i, sk] of replicas.entries()) t.equal((await send(sk, 'free', 'before-outage')).error, 'SIDEKEY_ERR_QUARANTINED', `the quarantine Redis lost holds on replica ${'abc'[i]}`)
    // The late replica read a list Redis had lost; it hears of the quarantine once a replica that
    // holds it writes it back (at its next re-read), which is what the full run showed.
    await waitFor('the written-back quarantine reached the late replica', async () => (await send(d, 'free', 'before-outage')).error === 'SIDEKEY_ERR_QUARANTINED', 5000)
    t.pass('and reaches the replica started during the outage')
    t.match(await redis.cli('HGET', 'sidekey:quarantine', 'before-outage'), /before the outage/, 'and is back in Redis')
    t.equal((await send(d, 'free', 'agent')).status, 200, 'the late replica serves once it has read the list')
    t.ok(replicas.some((sk) => sk.sink.lines.some((l) => l.event === 'quarantine_restored' && l.workload === 'before-outage')), 'a replica said it wrote one back')
    await admin(d, 'POST', '/v1/workloads/before-outage/release')
    const pending = send(c, 'pay', 'after', { method: 'POST', body: '{}' })
    const listed = await waitFor('an approval after recovery', async () => ((await admin(a, 'GET', '/v1/approvals')).body.approvals as ApprovalRecord[]).find((x) => x.status === 'pending' && x.workload === 'after'))
    await admin(a, 'POST', `/v1/approvals/${listed.id}/approve`, {})
    t.equal((await pending).status, 200, 'approvals work again, pub/sub resubscribed')
  })

  t.test('no secret in Redis', async (t) => {
    const dump = await redis.cli('--no-raw', 'KEYS', '*')
    t.ok(dump.length > 0)
    for (const key of dump.split('\n').map((k) => k.replace(/^\d+\) "?|"$/g, ''))) {
      const type = await redis.cli('TYPE', key)
      const value = type === 'hash' ? await redis.cli('HGETALL', key) : type === 'list' ? await redis.cli('LRANGE', key, '0', '-1') : type === 'zset' ? await redis.cli('ZRANGE', key, '0', '-1') : await redis.cli('GET', key)
      for (const secret of Object.values(SECRETS)) t.notOk(value.includes(secret), `${key} holds no secret`)
    }
  })

  for (const sk of replicas) noSecretsLogged(t, sk)
})

t.test('state file problems are refused at start with what is wrong', async (t) => {
  const dir = (await startRedis().then(async (r) => (await r.stop(), r.dir)))
  const write = async (name: string, text: string) => {
    const path = `${dir}/${name}`
    await import('node:fs/promises').then((fs) => fs.writeFile(path, text))
    return path
  }
  await t.rejects(loadStateSettings(await write('a.yaml', 'store: etcd\n')), { code: 'SIDEKEY_ERR_CONFIG', message: /store must be equal to one of the allowed values \(memory, redis\)/ })
  await t.rejects(loadStateSettings(await write('b.yaml', 'store: redis\nredis: { mode: sentinel, nodes: ["h:1"] }\n')), { message: /sentinel_master is required/ })
  await t.rejects(loadStateSettings(await write('c.yaml', 'store: redis\nredis: { url: "redis://h:1", password_file: /nonexistent/pw }\n')), { message: /cannot read redis.password_file \/nonexistent\/pw \(ENOENT\)/ })
  await t.rejects(loadStateSettings(await write('d.yaml', 'store: redis\nredis: { url: "http://h:1" }\n')), { message: /url must match/ })
  await t.rejects(loadStateSettings(await write('e.yaml', 'store: redis\nredis: { url: "redis://h:1", colour: blue }\n')), { message: /must NOT have additional properties/ })
  await t.rejects(loadStateSettings(await write('g.yaml', 'store: redis\nredis: { url: "redis://h:1" }\n')), { code: 'SIDEKEY_ERR_CONFIG', message: /redis needs password_file .* or a TLS client certificate .*whoever can write to it can approve requests.*allow_unauthenticated: true/ }, 'a Redis without a password or client certificate is refused')
  t.equal((await loadStateSettings(await write('i.yaml', 'store: redis\nredis: { url: "redis://:pw@h:1" }\n'))).redis?.unauthenticated, false, 'a password in the URL authenticates too')
  const open = await loadStateSettings(await write('h.yaml', 'store: redis\nredis: { url: "redis://h:1", allow_unauthenticated: true }\n'))
  t.equal(open.redis?.unauthenticated, true, 'unless the file says so, and sidekey start warns')
  const ok = await loadStateSettings(await write('f.yaml', 'store: memory\n'))
  t.equal(ok.store, 'memory')
})

t.test('Redis with a password (requirepass) and ACL user, read from files', async (t) => {
  const redis = await startRedis([], ['user default on >pw-for-default ~* &* +@all', 'user sidekey on >pw-for-sidekey ~sidekey:* &sidekey:* +@all'])
  t.teardown(() => redis.stop())
  const fs = await import('node:fs/promises')
  await fs.writeFile(`${redis.dir}/pw`, 'pw-for-sidekey\n')
  await fs.writeFile(`${redis.dir}/bad`, 'wrong\n')
  const good = await RedisStore.open((await loadStateSettings(await writeStateFile(redis.dir, redis.url, `  username: sidekey\n  password_file: ${redis.dir}/pw\n`))).redis!, silent)
  t.teardown(() => good.close())
  t.equal((await good.countFixed('x', 1, 1000)).allowed, true, 'authenticated as the ACL user')
  const lines: string[] = []
  const log = createLogger({ level: "info" })
  const bad = await RedisStore.open((await loadStateSettings(await writeStateFile(redis.dir, redis.url, `  username: sidekey\n  password_file: ${redis.dir}/bad\n`))).redis!, Object.assign(Object.create(log) as typeof log, { error: (o: { event: string }) => lines.push(o.event), info: () => undefined }))
  t.teardown(() => bad.close())
  t.equal(bad.available, false)
  await t.rejects(bad.countFixed('x', 1, 1000), { code: 'SIDEKEY_ERR_STATE_UNAVAILABLE' })
  t.ok(lines.includes('state_unavailable'), 'the failure is logged')
})
