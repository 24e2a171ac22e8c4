import { createServer } from 'node:http'
import t from 'tap'
import { Agent } from 'undici'
import { TokenEndpoint } from '../../src/credentials/token-endpoint.js'

// A token endpoint's `expires_in` is believed up to a day (found by a red-team run: 1e13 made
// dates JavaScript cannot write, so the console's grants listing failed, and cache timers Node
// fires at once); none given is 300 s.

const DAY_MS = 86_400_000

for (const [name, expiresIn, expectedMs] of [
  ['a huge expires_in is capped at a day', 1e13, DAY_MS],
  ['a day and a bit is capped at a day', 90_000, DAY_MS],
  ['an hour is an hour', 3600, 3_600_000],
  ['none given is 300 s', undefined, 300_000],
] as const) {
  t.test(name, async (t) => {
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: expiresIn })))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => server.close())
    const dispatcher = new Agent()
    t.teardown(() => dispatcher.close())
    const { port } = server.address() as { port: number }
    const endpoint = new TokenEndpoint('crm', { tokenEndpoint: `http://127.0.0.1:${port}/token` }, { method: 'none', clientId: null }, { dispatcher, timeoutMs: 2000 })
    const before = Date.now()
    const { expiresAt } = await endpoint.requestGrant({ grant_type: 'client_credentials' })
    t.ok(expiresAt >= before + expectedMs && expiresAt <= Date.now() + expectedMs, `expires ${expiresAt - before} ms later`)
    t.doesNotThrow(() => new Date(expiresAt).toISOString())
  })
}
