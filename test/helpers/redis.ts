import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pollFor } from './poll.js'
import { requireTools } from './tools.js'

/**
 * A real redis-server (Debian's) on a free loopback port, for the shared-state tests. It can be
 * stopped and started again on the same port, to test an outage and the recovery from it.
 */
export interface TestRedis {
  readonly port: number
  readonly url: string
  readonly dir: string
  stop(): Promise<void>
  start(): Promise<void>
  /** Run a redis-cli command against it and return its output. */
  cli(...args: string[]): Promise<string>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/** Resolve once something accepts connections on the port (or fail after `ms`). */
export async function waitForPort(port: number, ms = 10_000): Promise<void> {
  const accepts = (): Promise<boolean> =>
    new Promise((resolve) => {
      const sock = connect(port, '127.0.0.1', () => {
        sock.destroy()
        resolve(true)
      })
      sock.once('error', () => resolve(false))
    })
  if (!(await pollFor(accepts, (ok) => ok, ms))) throw new Error(`nothing listens on ${port} after ${ms} ms`)
}

/**
 * Start one; `acl` lines (ACL file syntax) set users and passwords. The free port is chosen before
 * redis-server binds it, so the other test file running alongside can take it first: then try
 * again on another port.
 */
export async function startRedis(extra: string[] = [], acl: string[] = []): Promise<TestRedis> {
  requireTools('redis-server', 'redis-cli')
  for (let attempt = 1; ; attempt++) {
    try {
      return await startRedisOnce(extra, acl)
    } catch (err) {
      if (attempt >= 3) throw err
    }
  }
}

async function startRedisOnce(extra: string[], acl: string[]): Promise<TestRedis> {
  const port = await freePort()
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-redis-'))
  let child: ChildProcess | null = null
  if (acl.length > 0) await writeFile(join(dir, 'users.acl'), `${acl.join('\n')}\n`)
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(acl.length > 0 ? ['--aclfile', join(dir, 'users.acl')] : []), ...extra]
  const redis: TestRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async start() {
      const c = spawn('redis-server', args, { stdio: process.env.REDIS_DEBUG ? 'inherit' : 'ignore' })
      child = c
      const exited = new Promise<never>((_, reject) => c.once('exit', (code) => reject(new Error(`redis-server exited (${code}); run with REDIS_DEBUG=1 to see why`))))
      exited.catch(() => undefined)
      await Promise.race([waitForPort(port), exited])
    },
    async stop() {
      const c = child
      if (c === null || c.exitCode !== null) return
      child = null
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve())
        c.kill('SIGKILL')
      })
    },
    cli(...cliArgs: string[]) {
      return new Promise((resolve, reject) => {
        const p = spawn('redis-cli', ['-p', String(port), ...cliArgs])
        let out = ''
        p.stdout.on('data', (d: Buffer) => (out += d.toString()))
        p.once('error', reject)
        p.once('exit', () => resolve(out.trim()))
      })
    },
  }
  await redis.start()
  return redis
}

/** Write a state file for sidekey pointing at `url`, with extra YAML lines under `redis:`. */
export async function writeStateFile(dir: string, url: string, extra = '', top = ''): Promise<string> {
  const path = join(dir, `state-${Math.random().toString(36).slice(2)}.yaml`)
  // The test Redis has no password (its own tests run one with requirepass and ACL users).
  await writeFile(path, `store: redis\nredis:\n  url: ${url}\n  allow_unauthenticated: true\n  command_timeout_ms: 500\n  connect_timeout_ms: 2000\n${extra}${top}`)
  return path
}
