import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createLogger } from '../../src/observe/logger.js'
import { loadStateSettings } from '../../src/state/config.js'
import { RedisStore } from '../../src/state/redis-store.js'
import type { ApprovalRecord } from '../../src/state/store.js'
import { waitFor } from '../helpers/poll.js'
import { freePort, startRedis, waitForPort, type TestRedis } from '../helpers/redis.js'

// The Redis store behind Sentinel and on a Cluster, with real Debian redis-server processes on
// loopback: the same contract as standalone (exact counting across stores, approvals announced
// between stores, asynchronous approvals bound and claimed once, quarantine everywhere, merged baselines, compare-and-set). On a Cluster every
// script's keys share a hash tag, so a wrong key layout fails here with CROSSSLOT.

const silent = createLogger({ level: 'silent' })

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args)
    let out = ''
    p.stdout.on('data', (d: Buffer) => (out += d.toString()))
    p.stderr.on('data', (d: Buffer) => (out += d.toString()))
    p.once('error', reject)
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out}`))))
  })
}

async function contract(t: Test, stateYaml: string, dir: string): Promise<void> {
  const path = join(dir, 'state.yaml')
  await writeFile(path, stateYaml)
  const settings = (await loadStateSettings(path)).redis!
  const [one, two] = await Promise.all([RedisStore.open(settings, silent), RedisStore.open(settings, silent)])
  t.teardown(() => Promise.all([one.close(), two.close()]))
  t.ok(one.available && two.available, 'both connected')

  const counts = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? one : two).countFixed('quota:r:w:2026-11-24', 25, 60_000)))
  t.equal(counts.filter((c) => c.allowed).length, 25, 'exactly the limit admitted across two stores')
  const sliding = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? one : two).countSliding('rate:r:w', 25, 60_000, 1_700_000_000_000 + i)))
  t.equal(sliding.filter((c) => c.allowed).length, 25)

  const heard: ApprovalRecord[] = []
  const off = two.onApproval((r) => heard.push(r))
  const record: ApprovalRecord = {
    id: '00000000-0000-4000-8000-0000000000aa', workload: 'w', route: 'r', method: 'POST', host: 'h', port: 443, path: '/', query: [['a', '1']], headers: [], body: '{}', body_encoding: 'utf8', body_bytes: 2, why: 'test',
    created: new Date().toISOString(), expires: new Date(Date.now() + 60_000).toISOString(), status: 'pending', decided_by: null, decided_at: null, grant_until: null, note: null,
  }
  await one.putApproval(record)
  await waitFor('the announcement', () => heard.some((r) => r.id === record.id && r.status === 'pending'))
  t.equal((await two.listApprovals())[0]?.id, record.id)
  const settled = await two.settleApproval(record.id, { status: 'denied', decided_by: 'x', decided_at: new Date().toISOString(), grant_until: null, note: 'n' })
  t.equal(settled?.status, 'denied')
  t.equal((await one.getApproval(record.id))?.note, 'n')
  off()

  // Asynchronous approval: a request's hash names its approval on every store, and a one-time
  // approval is claimed by exactly one of many retries racing on two stores.
  await one.bindRequest('ab'.repeat(32), record.id, 60_000)
  t.equal(await two.boundApproval('ab'.repeat(32)), record.id)
  t.equal(await two.boundApproval('cd'.repeat(32)), null)
  const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? one : two).claimOnce(record.id, 60_000)))
  t.equal(claims.filter(Boolean).length, 1, 'claimed once across two stores')

  await one.quarantine({ workload: 'bad', reason: 'r', by: 'admin', since: new Date().toISOString() })
  const quarantinedAt = Date.now()
  await waitFor('the quarantine on the other store', () => two.quarantined('bad') !== undefined, 5000)
  t.ok(Date.now() - quarantinedAt < 1000, `quarantine reached the other store within a second (${Date.now() - quarantinedAt} ms)`)
  t.equal(await two.release('bad'), true)
  await waitFor('the release', () => one.quarantined('bad') === undefined, 5000)
  t.pass('released on both')

  const delta = { firstSeen: 1, requests: 3, denied: 0, destinations: ['a:443'], hours: new Array<number>(24).fill(0), window: { index: 5, requests: 3, bytesUp: 10, flagged: [] }, lastAlert: {} }
  await one.mergeBaseline('w', delta, 60_000)
  const merged = await two.mergeBaseline('w', { ...delta, destinations: ['b:443'] }, 60_000)
  t.equal(merged.requests, 6)
  t.same(merged.destinations, ['a:443', 'b:443'])
  t.equal(merged.window.requests, 6)
  t.equal(await one.casBlob('k', null, 'v'), true)
  t.equal(await two.casBlob('k', null, 'w'), false)
}

t.test('behind Sentinel', async (t) => {
  const master = await startRedis()
  t.teardown(() => master.stop())
  const sentinelPort = await freePort()
  const conf = join(master.dir, 'sentinel.conf')
  await writeFile(conf, `port ${sentinelPort}\nbind 127.0.0.1\nsentinel monitor sidekeymaster 127.0.0.1 ${master.port} 1\nsentinel down-after-milliseconds sidekeymaster 5000\n`)
  const sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' })
  t.teardown(() => sentinel.kill('SIGKILL'))
  await waitForPort(sentinelPort)
  await contract(t, `store: redis\nredis:\n  mode: sentinel\n  nodes: ["127.0.0.1:${sentinelPort}"]\n  sentinel_master: sidekeymaster\n  allow_unauthenticated: true\n  command_timeout_ms: 1000\n`, master.dir)
})

t.test('on a three-node Cluster', async (t) => {
  const nodes: TestRedis[] = []
  for (let i = 0; i < 3; i++) nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${i}.conf`, '--cluster-node-timeout', '5000']))
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())))
  await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'])
  // Every node must agree before use: one that has not heard of the slots yet answers CLUSTERDOWN.
  await waitFor('cluster_state:ok on every node', async () => (await Promise.all(nodes.map((n) => n.cli('CLUSTER', 'INFO')))).every((info) => info.includes('cluster_state:ok')), 20_000)
  await contract(t, `store: redis\nredis:\n  mode: cluster\n  nodes: ["127.0.0.1:${nodes[0]!.port}", "127.0.0.1:${nodes[1]!.port}"]\n  allow_unauthenticated: true\n  command_timeout_ms: 1000\n`, nodes[0]!.dir)
  // The keys really are spread over the nodes (not all on one by accident).
  const perNode = await Promise.all(nodes.map((n) => n.cli('DBSIZE')))
  t.ok(perNode.filter((n) => Number(n) > 0).length >= 2, `keys on more than one node (${perNode.join(', ')})`)
})
