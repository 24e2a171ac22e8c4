import t from 'tap'
import { createLogger } from '../../src/observe/logger.js'
import { McpSessions } from '../../src/mcp/sessions.js'
import { MemoryStore } from '../../src/state/store.js'

// Which workload an MCP session belongs to (found by red-team runs): known per route and
// destination, never handed to another workload by a server naming an id it did not open, and one
// workload opening many sessions forgets only its own.

const log = createLogger({ level: 'silent' })
const sessions = () => new McpSessions(new MemoryStore(() => 0), log, () => 0)
const owns = async (s: McpSessions, destination: string, id: string, workload: string): Promise<boolean> =>
  s.check('mcp', destination, id, workload).then(
    () => true,
    () => false,
  )

t.test('a session is known at the destination that opened it', async (t) => {
  const s = sessions()
  s.opened('mcp', 'a.mcp.test:443', 'victim-session', 'victim')
  t.equal(await owns(s, 'a.mcp.test:443', 'victim-session', 'victim'), true)
  t.equal(await owns(s, 'a.mcp.test:443', 'victim-session', 'intruder'), false, 'not by another workload')
  // The intruder's own server, matched by the same route, answers its initialize with the victim's id.
  s.opened('mcp', 'evil.mcp.test:443', 'victim-session', 'intruder')
  t.equal(await owns(s, 'a.mcp.test:443', 'victim-session', 'intruder'), false, 'a session opened elsewhere is not this one')
  t.equal(await owns(s, 'a.mcp.test:443', 'victim-session', 'victim'), true, 'and the victim keeps its own')
})

t.test('a server naming an id already known as another workload\'s does not hand it over', async (t) => {
  const s = sessions()
  s.opened('mcp', 'a.mcp.test:443', 'shared-id', 'victim')
  s.opened('mcp', 'a.mcp.test:443', 'shared-id', 'intruder')
  t.equal(await owns(s, 'a.mcp.test:443', 'shared-id', 'victim'), true)
  t.equal(await owns(s, 'a.mcp.test:443', 'shared-id', 'intruder'), false)
})

t.test('one workload opening many sessions forgets only its own', async (t) => {
  const s = sessions()
  s.opened('mcp', 'a.mcp.test:443', 'other-session', 'other')
  for (let i = 0; i < 12_000; i++) s.opened('mcp', 'a.mcp.test:443', `flood-${i}`, 'flooder')
  t.equal(await owns(s, 'a.mcp.test:443', 'other-session', 'other'), true, "another workload's session is still known")
  t.equal(await owns(s, 'a.mcp.test:443', 'flood-11999', 'flooder'), true, 'the newest of the flood is known')
  t.equal(await owns(s, 'a.mcp.test:443', 'flood-0', 'flooder'), false, 'its oldest is forgotten')
})

t.test('with a shared store, a session another replica noted for another workload stays theirs', async (t) => {
  const values = new Map<string, string>()
  const shared = { shared: true, getExpiring: async (k: string) => values.get(k) ?? null, putExpiring: async (k: string, v: string) => void values.set(k, v) }
  const replicaA = new McpSessions(shared, log, () => 0)
  const replicaB = new McpSessions(shared, log, () => 0)
  replicaA.opened('mcp', 'a.mcp.test:443', 'victim-session', 'victim')
  await new Promise((r) => setImmediate(r))
  replicaB.opened('mcp', 'a.mcp.test:443', 'victim-session', 'intruder')
  await new Promise((r) => setImmediate(r))
  t.equal(await owns(replicaB, 'a.mcp.test:443', 'victim-session', 'victim'), true, 'replica B answers for the victim from the store')
  t.equal(await owns(replicaB, 'a.mcp.test:443', 'victim-session', 'intruder'), false, 'and not for the intruder')
  t.equal(await owns(replicaA, 'a.mcp.test:443', 'victim-session', 'victim'), true)
})
