import t from 'tap'
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js'
import { MAX_VIEWS, recordScrubFilter } from '../../src/guard/record-scrub.js'
import { automatonFor, SecretScanner } from '../../src/guard/secret-scan.js'
import { SidekeyError } from '../../src/errors.js'

// Joining a secret split across SSE events per key path holds past MAX_VIEWS key paths (found by
// a red-team run: a first event with 64 keys, then the key three characters an event, came out
// whole): key paths with nothing in progress make room; when none has, the stream is cut.

const SECRET = 'sk-test-openai-5f2b8e0c1d7a9b3c'
const scanner = new SecretScanner()
scanner.add(SECRET)
const automaton = automatonFor(scanner.needles())

function run(events: string[]): { text: string; error: unknown } {
  const filter = recordScrubFilter(automaton, 'sse')
  let text = ''
  try {
    for (const e of events) text += filter.push(Buffer.from(`data: ${e}\n\n`))?.toString() ?? ''
  } catch (err) {
    return { text, error: err }
  }
  return { text, error: null }
}

/** What the agent's client joins: each event's `delta`. */
const joined = (text: string): string => [...text.matchAll(/"delta":"([^"]*)"/g)].map((m) => m[1]).join('')

for (const paths of [10, MAX_VIEWS + 10, 4 * MAX_VIEWS]) {
  t.test(`a first event with ${paths} key paths, then the key three characters an event`, async (t) => {
    const junk = JSON.stringify(Object.fromEntries(Array.from({ length: paths }, (_, i) => [`field${i}`, 'plain words.'])))
    const pieces = SECRET.match(/.{1,3}/g)!.map((p) => JSON.stringify({ delta: p }))
    const { text, error } = run([junk, ...pieces])
    t.equal(error, null, 'not cut: those paths hold nothing in progress')
    t.notOk(joined(text).includes(SECRET.slice(0, partialMatchAlarm(SECRET.length))), `masked: ${joined(text)}`)
  })
}

t.test('a key three characters an event, each event also carrying MAX_VIEWS other fields after it', async (t) => {
  // Found by a review: dropping the least recently used view dropped the key's, mid-key.
  const pieces = SECRET.match(/.{1,3}/g)!
  for (const fresh of [false, true]) {
    const events = pieces.map((p, e) => JSON.stringify({ delta: p, ...Object.fromEntries(Array.from({ length: MAX_VIEWS }, (_, i) => [`f${fresh ? `${e}_` : ''}${i}`, 'x.'])) }))
    const { text, error } = run(events)
    t.equal(error, null)
    t.notOk(joined(text).includes(SECRET.slice(0, partialMatchAlarm(SECRET.length))), `${fresh ? 'new' : 'the same'} fields every event: masked (${joined(text)})`)
  }
})

t.test('more than MAX_VIEWS fields each ending in what could begin the key: the stream is cut, not read past', async (t) => {
  const busy = JSON.stringify(Object.fromEntries(Array.from({ length: MAX_VIEWS + 1 }, (_, i) => [`field${i}`, 'ends in s'])))
  const { error } = run([busy, JSON.stringify({ delta: SECRET })])
  t.type(error, SidekeyError)
  t.equal((error as SidekeyError).code, 'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE')
})
