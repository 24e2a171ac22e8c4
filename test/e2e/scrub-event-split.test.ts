import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js'
import { SECRETS, startTestSidekey } from '../helpers/sidekey.js'
import { startUpstream } from '../helpers/upstream.js'

// A key streamed in two events (JSON deltas, as a streamed completion sends text), split at every
// place. Found by a red-team run: split at two thirds, the first event's mask ran on over the
// event's framing (`"}`, the blank line, `data: {"delta":"`) for the rest of the key's length, the
// two events arrived as one the client could not parse, and the second event's text (the key's
// tail) was not masked: two requests gave the agent 24 of the key's 25 characters. Now the joined
// view reads the events before the byte scrubber does, which masks each event on its own and never
// a line end (src/guard/record-scrub.ts).

const secret = SECRETS.OPENAI
const alarm = partialMatchAlarm(secret.length)

/**
 * How many of the key's characters `text` shows: its longest prefix plus its longest suffix, once
 * the masks are taken out (a mask cut short, `[redacted`, ends in the key's last letter).
 */
function shown(masked: string): number {
  const text = masked.replace(/\[(?:r(?:e(?:d(?:a(?:c(?:t(?:e(?:d\]?)?)?)?)?)?)?)?)?\**|\*+/g, '')
  let prefix = 0
  while (prefix < secret.length && text[prefix] === secret[prefix]) prefix++
  let suffix = 0
  while (suffix < secret.length - prefix && text[text.length - 1 - suffix] === secret[secret.length - 1 - suffix]) suffix++
  return prefix + suffix
}

t.test('a key split across two events: never more than two thirds of it, and every event stays readable', async (t) => {
  const upstream = await startUpstream((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const at = Number(url.searchParams.get('at'))
    const key = String(req.headers.authorization).slice('Bearer '.length)
    const ndjson = url.pathname === '/ndjson'
    res.writeHead(200, { 'content-type': ndjson ? 'application/x-ndjson' : 'text/event-stream' })
    const event = (text: string): string => (ndjson ? `${JSON.stringify({ delta: text })}\n` : `data: ${JSON.stringify({ delta: text })}\n\n`)
    res.write(event(key.slice(0, at)))
    setTimeout(() => res.end(event(key.slice(at))), 20)
  })
  t.teardown(() => upstream.close())
  const sk = await startTestSidekey(
    t,
    `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: api, host: api.test, ports: [${upstream.port}], addresses: [127.0.0.1], credential: key }
`,
    { connectTo: { [`api.test:${upstream.port}`]: { host: '127.0.0.1', port: upstream.port } } },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())

  for (const kind of ['sse', 'ndjson'] as const) {
    let most = 0
    let unreadable = 0
    for (let at = 1; at < secret.length; at++) {
      const text = await (await request(`http://api.test:${upstream.port}/${kind}?at=${at}`, { dispatcher })).body.text()
      const records = kind === 'sse' ? text.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, '')) : text.split('\n').filter(Boolean)
      const deltas: string[] = []
      for (const record of records) {
        try {
          deltas.push((JSON.parse(record) as { delta: string }).delta)
        } catch {
          unreadable++
        }
      }
      if (records.length !== 2) unreadable++
      // What the agent's client makes of the stream: the deltas joined.
      most = Math.max(most, shown(deltas.join('')))
    }
    t.equal(unreadable, 0, `${kind}: every split arrives as two records that parse`)
    t.ok(most < alarm, `${kind}: at most ${most} of the key's ${secret.length} characters shown (fewer than two thirds, ${alarm})`)
  }
})

t.test('other shapes a client joins: a byte order mark, changing event types, string data, data over several lines', async (t) => {
  // Found by a later red-team run (the agent read with eventsource-parser, as the eventsource
  // package does): each gave it the whole key.
  const upstream = await startUpstream((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const key = String(req.headers.authorization).slice('Bearer '.length)
    const [a, b] = [key.slice(0, 13), key.slice(13)]
    res.writeHead(200, { 'content-type': url.pathname === '/ndjson-strings' ? 'application/x-ndjson' : 'text/event-stream' })
    const body = {
      '/bom': `\ufeffdata: ${JSON.stringify({ delta: a })}\n\ndata: ${JSON.stringify({ delta: b })}\n\n`,
      '/event-types': `event: delta\ndata: ${JSON.stringify({ text: a })}\n\nevent: delta_end\ndata: ${JSON.stringify({ text: b })}\n\n`,
      '/string-data': `data: ${JSON.stringify(a)}\n\ndata: ${JSON.stringify(b)}\n\n`,
      '/ndjson-strings': `${JSON.stringify(a)}\n${JSON.stringify(b)}\n`,
      '/multiline': `data: ${a}\ndata: ${b}\n\n`,
    }[url.pathname]!
    res.end(body)
  })
  t.teardown(() => upstream.close())
  const sk = await startTestSidekey(
    t,
    `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: api, host: api.test, ports: [${upstream.port}], addresses: [127.0.0.1], credential: key }
`,
    { connectTo: { [`api.test:${upstream.port}`]: { host: '127.0.0.1', port: upstream.port } } },
  )
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  for (const shape of ['bom', 'event-types', 'string-data', 'ndjson-strings', 'multiline']) {
    const text = (await (await request(`http://api.test:${upstream.port}/${shape}`, { dispatcher })).body.text()).replace(/^\ufeff/, '')
    // What a client joins: each record's data (JSON text or a string), or the lines of one event joined.
    const parts = shape === 'ndjson-strings' ? text.split('\n').filter(Boolean) : text.split('\n\n').filter(Boolean).map((e) => e.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join(''))
    const joined = parts.map((p) => {
      try {
        const v = JSON.parse(p) as unknown
        return typeof v === 'string' ? v : Object.values(v as Record<string, string>).join('')
      } catch {
        return p
      }
    }).join('')
    t.ok(shown(joined) < alarm, `${shape}: at most ${shown(joined)} of the key's characters (${JSON.stringify(joined)})`)
  }
})

