import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js'
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js'
import { startUpstream } from '../helpers/upstream.js'

// An upstream that echoes the injected key with some characters escaped, percent or JSON, in a
// body written in small pieces: the agent, decoding what it gets, never has the key (found by a
// red-team run: one escaped character carried the key past the scrubber).

const u = (s: string) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')
const pct = (s: string) => [...s].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')
const FORMS: Record<string, { body: (k: string) => string; type: string; decode: (text: string) => string }> = {
  'json-every-character': { body: (k) => `{"echo":"${u(k)}"}`, type: 'application/json', decode: (b) => (JSON.parse(b) as { echo: string }).echo },
  'json-one-character': { body: (k) => `{"echo":"${k[0]}${u(k[1]!)}${k.slice(2)}"}`, type: 'application/json', decode: (b) => (JSON.parse(b) as { echo: string }).echo },
  'json-every-other': { body: (k) => `{"echo":"${[...k].map((c, i) => (i % 2 ? u(c) : c)).join('')}"}`, type: 'application/json', decode: (b) => (JSON.parse(b) as { echo: string }).echo },
  'percent-one-character': { body: (k) => `next=${k[0]}${pct(k[1]!)}${k.slice(2)}`, type: 'text/plain', decode: (b) => decodeURIComponent(b.slice(5)) },
  'html-references': { body: (k) => `<p>invalid credential ${[...k].map((c) => (c === '-' ? '&#x2d;' : c)).join('')}</p>`, type: 'text/html', decode: (b) => b.replace(/&#x([0-9a-f]+);/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))) },
  'percent-every-character': { body: (k) => `next=${pct(k)}`, type: 'application/x-www-form-urlencoded', decode: (b) => decodeURIComponent(b.slice(5)) },
}

t.test('escaped echoes of the injected key are masked', async (t) => {
  const upstream = await startUpstream((req, res) => {
    const key = String(req.headers.authorization ?? '').replace(/^Bearer /, '')
    const form = FORMS[(req.url ?? '/').slice(1)]!
    const body = form.body(key)
    // A header as a serializer that escapes every non-letter writes it.
    res.writeHead(200, { 'content-type': form.type, 'x-error': JSON.stringify({ error: `bad key ${key}` }).replace(/[^A-Za-z0-9 ]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) })
    // Three bytes a write: escapes split across chunks.
    for (let i = 0; i < body.length; i += 3) res.write(body.slice(i, i + 3))
    res.end()
  })
  t.teardown(() => upstream.close())
  const port = upstream.port
  const sk = await startTestSidekey(t, `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: api, host: api.test, ports: [${port}], addresses: [127.0.0.1], credential: key }
`, { connectTo: { [`api.test:${port}`]: { host: '127.0.0.1', port } } })
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), proxyTunnel: false })
  t.teardown(() => dispatcher.close())
  for (const [name, form] of Object.entries(FORMS)) {
    const res = await request(`http://api.test:${port}/${name}`, { dispatcher })
    const text = await res.body.text()
    t.equal(res.statusCode, 200)
    const header = String(res.headers['x-error'])
    t.notOk(header.replace(/\\u([0-9a-f]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))).includes(SECRETS.OPENAI.slice(0, 12)), `${name}: the escaped echo in a header is masked (${header.slice(0, 60)})`)
    let seen = ''
    try {
      seen = form.decode(text)
    } catch {
      // A mask inside an escape can leave text that no longer decodes: nothing to read then.
      seen = text
    }
    // A key split across chunks shows fewer than two thirds of itself before it is known (docs/security.md).
    t.notOk(seen.includes(SECRETS.OPENAI.slice(0, partialMatchAlarm(SECRETS.OPENAI.length))), `${name}: the agent decodes no key (${text.slice(0, 60)})`)
    t.equal(text.length, form.body(SECRETS.OPENAI).length, 'the length stays')
  }
  const audit = await sk.sink.waitForAudit((a) => a.path === '/percent-every-character')
  t.ok((audit.scrubbed ?? 0) >= 1, 'the audit line counts it')
  noSecretsLogged(t, sk)
})
