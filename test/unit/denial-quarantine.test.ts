import t from 'tap'
import { DENIAL_WINDOW_MS, DenialQuarantine } from '../../src/approvals/denial-quarantine.js'
import { MemoryStore } from '../../src/state/store.js'

// Repeated denials by approvers quarantine a workload: `limit` denials within an hour do, fewer do
// not, denials older than an hour no longer count, and a limit of 0 turns the rule off.

const MINUTE = 60_000

/**
 * Deny at each of `denials` (ms from the start) with `limit`: the quarantines that followed, and
 * when `denied()` answered that it had quarantined.
 */
async function run(limit: number, denials: readonly { at: number; workload?: string }[]): Promise<{ quarantines: { at: number; workload: string; reason: string }[]; said: number[] }> {
  const start = 1_700_000_000_000
  let clock = start
  const quarantines: { at: number; workload: string; reason: string }[] = []
  const said: number[] = []
  const rule = new DenialQuarantine({ limit: () => limit, now: () => clock, state: new MemoryStore(() => clock), quarantine: (workload, reason) => quarantines.push({ at: clock - start, workload, reason }) })
  for (const d of denials) {
    clock = start + d.at
    if (await rule.denied(d.workload ?? 'agent')) said.push(d.at)
  }
  return { quarantines, said }
}

const cases: { name: string; limit: number; denials: { at: number; workload?: string }[]; quarantines: { at: number; workload: string }[] }[] = [
  { name: 'N denials within an hour quarantine, at the Nth', limit: 3, denials: [{ at: 0 }, { at: 10 * MINUTE }, { at: 59 * MINUTE }], quarantines: [{ at: 59 * MINUTE, workload: 'agent' }] },
  { name: 'N-1 denials do not', limit: 3, denials: [{ at: 0 }, { at: 10 * MINUTE }], quarantines: [] },
  { name: 'a denial an hour old no longer counts', limit: 3, denials: [{ at: 0 }, { at: 30 * MINUTE }, { at: DENIAL_WINDOW_MS }], quarantines: [] },
  { name: 'just under an hour old still counts', limit: 3, denials: [{ at: 0 }, { at: 30 * MINUTE }, { at: DENIAL_WINDOW_MS - 1 }], quarantines: [{ at: DENIAL_WINDOW_MS - 1, workload: 'agent' }] },
  { name: 'old denials age out, new ones add up again', limit: 2, denials: [{ at: 0 }, { at: 2 * DENIAL_WINDOW_MS }, { at: 2 * DENIAL_WINDOW_MS + MINUTE }], quarantines: [{ at: 2 * DENIAL_WINDOW_MS + MINUTE, workload: 'agent' }] },
  { name: 'the count starts again after a quarantine', limit: 2, denials: [{ at: 0 }, { at: MINUTE }, { at: 2 * MINUTE }, { at: 3 * MINUTE }], quarantines: [{ at: MINUTE, workload: 'agent' }, { at: 3 * MINUTE, workload: 'agent' }] },
  { name: 'each workload has its own count', limit: 2, denials: [{ at: 0, workload: 'a' }, { at: MINUTE, workload: 'b' }, { at: 2 * MINUTE, workload: 'a' }], quarantines: [{ at: 2 * MINUTE, workload: 'a' }] },
  { name: 'a limit of 0 turns the rule off', limit: 0, denials: Array.from({ length: 20 }, (_, i) => ({ at: i * MINUTE })), quarantines: [] },
  { name: 'a limit of 1 quarantines at the first denial', limit: 1, denials: [{ at: 0 }], quarantines: [{ at: 0, workload: 'agent' }] },
]

for (const c of cases) {
  t.test(c.name, async (t) => {
    const { quarantines, said } = await run(c.limit, c.denials)
    t.same(quarantines.map(({ at, workload }) => ({ at, workload })), c.quarantines)
    t.same(said, c.quarantines.map((q) => q.at), 'denied() says when it quarantined')
    for (const q of quarantines) t.equal(q.reason, `${c.limit} requests denied by approvers within an hour`)
  })
}

t.test('the limit is read at each denial: a reload that lowers it applies to the next one', async (t) => {
  let limit = 5
  const quarantined: string[] = []
  const rule = new DenialQuarantine({ limit: () => limit, now: () => 0, state: new MemoryStore(() => 0), quarantine: (workload) => quarantined.push(workload) })
  await rule.denied('agent')
  await rule.denied('agent')
  t.same(quarantined, [])
  limit = 3
  t.equal(await rule.denied('agent'), true)
  t.same(quarantined, ['agent'])
})

t.test('replicas sharing a store count the fleet\'s denials, each once, even at the same moment', async (t) => {
  const state = new MemoryStore(() => 0)
  const quarantined: string[] = []
  const replicas = [1, 2, 3].map(() => new DenialQuarantine({ limit: () => 3, now: () => 0, state, quarantine: (workload) => quarantined.push(workload) }))
  t.same(await Promise.all(replicas.map((r) => r.denied('agent'))), [false, false, true], 'three denials on three replicas are three')
  t.same(quarantined, ['agent'])
  t.same(await Promise.all(replicas.map((r) => r.denied('agent'))), [false, false, true], 'and the count started again')
})

t.test('a store that cannot be reached: the denial is counted here, and said', async (t) => {
  const errors: string[] = []
  const quarantined: string[] = []
  const broken = { getBlob: () => Promise.reject(new Error('down')), casBlob: () => Promise.reject(new Error('down')) }
  const rule = new DenialQuarantine({ limit: () => 2, now: () => 0, state: broken, quarantine: (w) => quarantined.push(w), onStoreError: (w, err) => errors.push(`${w}: ${err.message}`) })
  t.equal(await rule.denied('agent'), false)
  t.equal(await rule.denied('agent'), true)
  t.same(quarantined, ['agent'])
  t.same(errors, ['agent: down', 'agent: down'])
})
