import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { curl } from './helpers/clients.js'
import { startTestSidekey } from './helpers/sidekey.js'
import { startUpstream } from './helpers/upstream.js'

// Hot reload: a changed file takes effect without a restart; a broken one is refused whole and
// the old policy stays in force; requests in flight are unaffected.

const route = (name: string, host: string, port: number) => `  - { name: ${name}, host: ${host}, ports: [${port}], addresses: [127.0.0.1] }\n`

t.test('policy hot reload', async (t) => {
  const upstream = await startUpstream((req, res) => {
    setTimeout(() => res.end('done'), req.url === '/slow' ? 400 : 0)
  })
  t.teardown(() => upstream.close())
  const port = upstream.port
  const connectTo = Object.fromEntries(['one.test', 'two.test'].map((h) => [`${h}:${port}`, { host: '127.0.0.1', port }]))
  const sk = await startTestSidekey(t, `version: v1\nroutes:\n${route('one', 'one.test', port)}`, { watchPolicy: true, connectTo })
  const proxy = sk.proxyUrlFor('agent')
  const file = join(sk.policyDir, 'policy.yaml')
  const status = async (host: string, path = '/') => (await curl(['-x', proxy, `http://${host}:${port}${path}`])).status
  const until = async (pred: () => Promise<boolean>) => {
    for (let i = 0; i < 50; i++) {
      if (await pred()) return true
      await new Promise((r) => setTimeout(r, 100))
    }
    return false
  }

  t.equal(await status('two.test'), 403)
  const inFlight = curl(['-x', proxy, `http://one.test:${port}/slow`])
  await new Promise((r) => setTimeout(r, 50))
  await writeFile(file, `version: v1\nroutes:\n${route('one', 'one.test', port)}${route('two', 'two.test', port)}`)
  t.ok(await until(async () => (await status('two.test')) === 200), 'the new route took effect without a restart')
  t.equal((await inFlight).status, 200, 'the request in flight during the reload completed')
  t.ok(sk.sink.lines.some((l) => l.event === 'policy_reloaded'))

  await writeFile(file, `version: v1\nroutes:\n${route('one', 'one.test', port)}  - { name: two, hots: two.test }\n`)
  t.ok(await until(async () => sk.sink.lines.some((l) => l.event === 'policy_reload_refused')), 'the broken file was refused')
  const refused = sk.sink.lines.find((l) => l.event === 'policy_reload_refused') as { problems: string[] }
  t.match(refused.problems.join('\n'), new RegExp(`${file}:4: routes\\[1\\]\\.hots: unknown property`))
  t.equal(await status('two.test'), 200, 'the previous policy stays in force')

  const reload = async () => {
    const res = await request(`${sk.adminUrl}/v1/policy/reload`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}` } })
    await res.body.dump()
    return res.statusCode
  }
  t.equal(await reload(), 422, 'reload through the admin API reports the refusal')
  await writeFile(file, `version: v1\nroutes:\n${route('one', 'one.test', port)}`)
  t.equal(await reload(), 200)
  t.equal(await status('two.test'), 403, 'the route is gone once the fixed file is loaded')
})
