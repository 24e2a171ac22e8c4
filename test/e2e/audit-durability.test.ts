import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import t, { type Test } from 'tap'
import { ProxyAgent, request } from 'undici'
import { waitFor } from '../helpers/poll.js'
import { freePort } from '../helpers/redis.js'

// `sidekey start` writes its log (every audit line) buffered, in batches. None may be lost: under
// load, a SIGTERM and an uncaught error each end the process, and every request a client saw
// completed has its audit line on standard output, whole.

const CLI = join(process.cwd(), 'dist/src/cli/main.js')
const CRASH = join(process.cwd(), 'test/fixtures/crash-after.mjs')

interface Running {
  child: ChildProcess
  lines: () => string[]
  exited: Promise<number | null>
  proxy: string
}

async function startCli(t: Test, upstreamPort: number, env: Record<string, string> = {}): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-durable-'))
  await mkdir(join(dir, 'policies'))
  await writeFile(join(dir, 'policies', 'p.yaml'), `version: v1\nroutes:\n  - { name: up, host: 127.0.0.1, ports: [${upstreamPort}] }\n`)
  const port = await freePort()
  const child = spawn(process.execPath, [CLI, 'start', '--listen', `127.0.0.1:${port}`, '--admin', `127.0.0.1:${await freePort()}`, '--policies', join(dir, 'policies'), '--certs', join(dir, 'certs'), '--workload', 'agent'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.resume()
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => void child.kill('SIGKILL'))
  const lines = (): string[] => out.split('\n').filter((l) => l !== '')
  await waitFor('sidekey started', () => lines().some((l) => l.includes('"event":"started"')), 30_000)
  return { child, lines, exited, proxy: `http://127.0.0.1:${port}` }
}

/** Send requests from 16 clients until `stop()` says so or one fails; count those answered 200. */
function load(proxy: string, upstreamPort: number): { completed: () => number; stop: () => Promise<void> } {
  const dispatcher = new ProxyAgent({ uri: proxy })
  let completed = 0
  let stopped = false
  const loops = Array.from({ length: 16 }, async () => {
    while (!stopped) {
      try {
        const r = await request(`http://127.0.0.1:${upstreamPort}/x`, { dispatcher })
        await r.body.text()
        if (r.statusCode === 200) completed++
      } catch {
        return
      }
    }
  })
  return {
    completed: () => completed,
    stop: async () => {
      stopped = true
      await Promise.all(loops)
      await dispatcher.destroy()
    },
  }
}

function auditedOk(lines: string[]): number {
  let n = 0
  for (const line of lines) {
    const record = JSON.parse(line) as { msg?: string; event?: string; status?: number }
    if (record.msg === 'audit' && record.event === 'request' && record.status === 200) n++
  }
  return n
}

t.test('no audit line is lost when sidekey stops', async (t) => {
  const upstream = createServer((_req, res) => res.end('ok'))
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => upstream.close())
  const upstreamPort = (upstream.address() as AddressInfo).port

  t.test('SIGTERM under load', async (t) => {
    const sk = await startCli(t, upstreamPort)
    const traffic = load(sk.proxy, upstreamPort)
    await waitFor('500 requests answered', () => traffic.completed() >= 500, 60_000)
    sk.child.kill('SIGTERM')
    t.equal(await sk.exited, 0, 'a clean stop')
    await traffic.stop()
    const lines = sk.lines()
    t.doesNotThrow(() => lines.forEach((l) => JSON.parse(l)), 'every line is whole JSON')
    t.ok(auditedOk(lines) >= traffic.completed(), `${auditedOk(lines)} audit lines for ${traffic.completed()} requests answered`)
  })

  t.test('an uncaught error under load', async (t) => {
    const sk = await startCli(t, upstreamPort, { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(CRASH).href}` })
    const traffic = load(sk.proxy, upstreamPort)
    await waitFor('500 requests answered', () => traffic.completed() >= 500, 60_000)
    sk.child.kill('SIGUSR2')
    t.equal(await sk.exited, 1, 'the process dies with the error')
    await traffic.stop()
    const lines = sk.lines()
    t.doesNotThrow(() => lines.forEach((l) => JSON.parse(l)), 'every line is whole JSON')
    t.ok(traffic.completed() > 0, 'requests were answered before the error')
    t.ok(auditedOk(lines) >= traffic.completed(), `${auditedOk(lines)} audit lines for ${traffic.completed()} requests answered`)
    t.ok(lines.some((l) => l.includes('"event":"uncaught_error"')), 'the error itself is logged')
  })
})
