/**
 * `npm run bench`: sidekey against a direct call to the same local upstream, in the same run.
 *
 * The upstream (plain HTTP, HTTPS, and a real OAuth server, oidc-provider) and sidekey each run in
 * their own process; the load generator is Debian's `hey` (Go), so it does not compete on the
 * event loop's terms. Figures are printed as ratios against direct: the machine is shared and
 * noisy, absolute numbers are not comparable between runs.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createCA } from '../src/ca/authority.js'
import { LeafCache } from '../src/ca/cache.js'
import { createLeafKey, mintLeaf } from '../src/ca/leaf.js'
import { grpcInstructions, h2Scenarios } from './h2.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const DURATION = process.env.BENCH_DURATION ?? '10s'
/**
 * BENCH_CALLGRIND=1: sidekey runs under valgrind's callgrind and the bench only counts the
 * instructions it runs per gRPC call (bench/h2.ts, `grpcInstructions`).
 */
const CALLGRIND = process.env.BENCH_CALLGRIND === '1'
const CONCURRENCY = process.env.BENCH_CONCURRENCY ?? '32'
const KEY = 'bench-static-key-0f3a9c'
const CLIENT_SECRET = 'bench-client-secret-7d21'

const children: ChildProcess[] = []
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')))

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : Number((err as { code?: number }).code ?? 1), stdout, stderr })
    })
  })
}

async function waitFor(url: string, tries = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    try {
      if ((await fetch(url)).ok) return
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} never answered`)
}

/** CPU seconds (user + system) and peak RSS of a process, from /proc. */
async function procStats(pid: number): Promise<{ cpuS: number; peakRssMiB: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  const ticks = Number(stat[11]) + Number(stat[12]) // utime, stime (fields 14, 15)
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const hwm = Number(/VmHWM:\s+([0-9]+) kB/.exec(status)?.[1] ?? 0)
  return { cpuS: ticks / 100, peakRssMiB: hwm / 1024 }
}

interface HeyResult {
  rps: number
  p50ms: number
  p99ms: number
  ok: number
  other: string
}

async function hey(url: string, extra: string[]): Promise<HeyResult> {
  const r = await run('hey', ['-z', DURATION, '-c', CONCURRENCY, ...extra, url])
  const out = r.stdout
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN)
  const statuses = [...out.matchAll(/\[([0-9]+)\]\s+([0-9]+) responses/g)].map((m) => [m[1], Number(m[2])] as const)
  const errors = /Error distribution:\n([\s\S]*)$/.exec(out)?.[1]?.trim() ?? ''
  return {
    rps: num(/Requests\/sec:\s+([0-9.]+)/),
    p50ms: num(/50%+ in ([0-9.]+) secs/) * 1000,
    p99ms: num(/99%+ in ([0-9.]+) secs/) * 1000,
    ok: statuses.find(([s]) => s === '200')?.[1] ?? 0,
    other: [...statuses.filter(([s]) => s !== '200').map(([s, n]) => `${n}x${s}`), errors ? `errors: ${errors.split('\n').slice(0, 3).join('; ')}` : ''].filter(Boolean).join(' '),
  }
}

const UPSTREAM = `
import { createServer as http } from 'node:http'
import { createServer as https } from 'node:https'
import { createSecureServer as h2 } from 'node:http2'
import { Provider } from 'oidc-provider'
import { startBenchGrpcServer } from '../dist/bench/h2.js'
const { KEY_PEM, CERT_PEM, H2_CERT_PEM, H1_CERT_PEM, GRPC_CERT_PEM, BENCH_KEY, CLIENT_SECRET } = process.env
const handler = (req, res) => {
  const auth = req.headers.authorization ?? ''
  const body = JSON.stringify({ ok: true, static_key_injected: auth === 'Bearer ' + BENCH_KEY, bearer: auth.startsWith('Bearer ') })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}
const plain = http(handler).listen(0, '127.0.0.1')
const secure = https({ key: KEY_PEM, cert: CERT_PEM }, handler).listen(0, '127.0.0.1')
const secureH2 = h2({ key: KEY_PEM, cert: H2_CERT_PEM }, handler).listen(0, '127.0.0.1')
// The same server, answering HTTP/1.1 too: the HTTP/1.1 row h2load measures beside the HTTP/2 one.
const secureH1 = h2({ key: KEY_PEM, cert: H1_CERT_PEM, allowHTTP1: true }, handler).listen(0, '127.0.0.1')
const grpcPort = await startBenchGrpcServer(BENCH_KEY, KEY_PEM, GRPC_CERT_PEM)
const idp = http()
await new Promise((r) => idp.listen(0, '127.0.0.1', r))
const issuer = 'http://127.0.0.1:' + idp.address().port
const provider = new Provider(issuer, {
  clients: [{ client_id: 'bench', client_secret: CLIENT_SECRET, grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' }],
  features: { devInteractions: { enabled: false }, clientCredentials: { enabled: true } },
  ttl: { ClientCredentials: 3600 },
})
idp.on('request', provider.callback())
await new Promise((r) => setTimeout(r, 100))
console.log(JSON.stringify({ http: plain.address().port, https: secure.address().port, h2: secureH2.address().port, h1: secureH1.address().port, grpc: grpcPort, issuer }))
`

/** Start bench/floor-relay.ts for `routes` (host: [upstream port, certificate PEM]). */
async function startFloorRelay(upstreamCaPath: string, keyPem: string, routes: Record<string, [number, string]>): Promise<{ proc: ChildProcess; port: number }> {
  // BENCH_FLOOR_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof-floor", to profile the relay beside sidekey.
  const nodeArgs = ['--max-semi-space-size=4', ...(process.env.BENCH_FLOOR_NODE_ARGS ?? '').split(' ').filter(Boolean)]
  const proc = spawn(process.execPath, [...nodeArgs, join(ROOT, 'dist/bench/floor-relay.js')], {
    env: {
      ...process.env,
      FLOOR_ROUTES: JSON.stringify(Object.fromEntries(Object.entries(routes).map(([host, [port, certPem]]) => [host, { port, certPem }]))),
      KEY_PEM: keyPem,
      UPSTREAM_CA_PEM: await readFile(upstreamCaPath, 'utf8'),
      BENCH_KEY: KEY,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  children.push(proc)
  const { port } = await new Promise<{ port: number }>((resolve) => proc.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()))))
  return { proc, port }
}

async function main(): Promise<void> {
  if ((await run('hey', ['-n', '1', 'http://127.0.0.1:1/'])).code === 127 || (await run('sh', ['-c', 'command -v hey'])).code !== 0) {
    console.error('bench needs Debian\'s hey load generator: apt-get install hey')
    process.exit(1)
  }
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-bench-'))
  try {
    // Upstream stand-ins with their own CA, which sidekey is told to trust.
    const upstreamCa = await createCA(join(dir, 'upstream-ca'))
    const leafKey = createLeafKey()
    const upstreamScript = join(ROOT, 'bench', `.upstream-${process.pid}.mjs`)
    await writeFile(upstreamScript, UPSTREAM)
    const upstreamCerts = { h2: await mintLeaf(upstreamCa, leafKey, 'h2.bench.test'), h1: await mintLeaf(upstreamCa, leafKey, 'h1.bench.test'), grpc: await mintLeaf(upstreamCa, leafKey, 'grpc.bench.test') }
    const upstream = spawn(process.execPath, [upstreamScript], {
      env: {
        ...process.env,
        KEY_PEM: leafKey.privateKeyPem,
        CERT_PEM: await mintLeaf(upstreamCa, leafKey, 'api.bench.test'),
        H2_CERT_PEM: upstreamCerts.h2,
        H1_CERT_PEM: upstreamCerts.h1,
        GRPC_CERT_PEM: upstreamCerts.grpc,
        BENCH_KEY: KEY,
        CLIENT_SECRET,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    children.push(upstream)
    const ports = await new Promise<{ http: number; https: number; h2: number; h1: number; grpc: number; issuer: string }>((resolve) => upstream.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()))))
    await rm(upstreamScript)

    await mkdir(join(dir, 'policies'))
    await writeFile(
      join(dir, 'policies', 'bench.yaml'),
      `version: v1
credentials:
  static-key: { type: static, env: BENCH_KEY }
  oauth-token:
    type: oauth2-client-credentials
    token_endpoint: ${ports.issuer}/token
    client_id: bench
    client_secret: { env: BENCH_CLIENT_SECRET }
routes:
  - { name: static, host: api.bench.test, ports: [80, 443], credential: static-key, addresses: [127.0.0.1] }
  # Issue #15: an HTTP/2 upstream (h2load through the transparent TLS listener) and gRPC.
  - { name: h2, host: h2.bench.test, ports: [443], credential: static-key, addresses: [127.0.0.1] }
  # The HTTP/1.1 row beside it: the same kind of server, HTTP/1.1 on both legs.
  - { name: h1, host: h1.bench.test, ports: [443], credential: static-key, addresses: [127.0.0.1], http2: false }
  - { name: grpc, host: grpc.bench.test, ports: [443], credential: static-key, addresses: [127.0.0.1] }
  - { name: oauth, host: oauth.bench.test, ports: [80], credential: oauth-token, addresses: [127.0.0.1] }
  # Counted on every request (a limit no benchmark reaches): the state store is on the path.
  - name: limited
    host: limited.bench.test
    ports: [80]
    credential: static-key
    addresses: [127.0.0.1]
    conditions: { rate: { requests: 1000000000, per_s: 60 } }
`,
    )
    const startProxy = async (extra: string[], certs: string): Promise<{ proc: ChildProcess; proxyPort: number }> => {
      const proxyPort = await freePort()
      const adminPort = await freePort()
      const proc = spawn(
        CALLGRIND ? 'valgrind' : process.execPath,
        [
          ...(CALLGRIND ? ['--tool=callgrind', `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`, process.execPath] : []),
          // The image's flag (Dockerfile): a 4 MiB young generation, as shipped. Peak RSS with
          // Node's default is 100 - 140 MiB higher on the HTTP/2 rows.
          '--max-semi-space-size=4',
          // BENCH_SIDEKEY_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", to profile sidekey
          // (a later V8 flag wins, so "--max-semi-space-size=16" here overrides the one above).
          ...(process.env.BENCH_SIDEKEY_NODE_ARGS ?? '').split(' ').filter(Boolean),
          join(ROOT, 'dist/src/cli/main.js'), 'start',
          '--listen', `127.0.0.1:${proxyPort}`, '--admin', `127.0.0.1:${adminPort}`,
          '--policies', join(dir, 'policies'), '--certs', join(dir, certs), '--workload', 'bench',
          '--upstream-ca', upstreamCa.certPath,
          '--connect-to', `api.bench.test:80:127.0.0.1:${ports.http},api.bench.test:443:127.0.0.1:${ports.https},oauth.bench.test:80:127.0.0.1:${ports.http},limited.bench.test:80:127.0.0.1:${ports.http},h2.bench.test:443:127.0.0.1:${ports.h2},h1.bench.test:443:127.0.0.1:${ports.h1},grpc.bench.test:443:127.0.0.1:${ports.grpc}`,
          ...extra,
        ],
        // Audit lines are written as in production (one JSON line per request) and discarded.
        { env: { ...process.env, BENCH_KEY: KEY, BENCH_CLIENT_SECRET: CLIENT_SECRET }, stdio: ['ignore', 'ignore', 'inherit'] },
      )
      children.push(proc)
      // Under callgrind, start-up is some fifty times slower.
      await waitFor(`http://127.0.0.1:${adminPort}/readyz`, CALLGRIND ? 3000 : 100)
      return { proc, proxyPort }
    }
    // h2load cannot use a CONNECT proxy: it reaches sidekey's transparent TLS listener (port 443's).
    const transparentPort = await freePort()
    const { proc: sidekey, proxyPort } = await startProxy(['--transparent-https', `443=127.0.0.1:${transparentPort}`], 'certs')
    console.log(`sidekey RSS after start: ${(await procStats(sidekey.pid!)).peakRssMiB.toFixed(1)} MiB`)
    const proxy = `http://127.0.0.1:${proxyPort}`

    if (CALLGRIND) {
      // Instructions per gRPC call through sidekey, counted by callgrind, instead of the rows.
      await grpcInstructions({ grpcHost: 'grpc.bench.test', proxyUrl: proxy, sidekeyCaPem: await readFile(join(dir, 'certs', 'ca.pem'), 'utf8') }, sidekey.pid!, dir)
      return
    }
    // hey cannot show what the upstream received: check injection with curl first.
    const caFile = join(dir, 'certs', 'ca.pem')
    for (const url of ['http://api.bench.test/', 'https://api.bench.test/', 'http://oauth.bench.test/']) {
      const r = await run('curl', ['-sS', '-x', proxy, '--cacert', caFile, url])
      const body = JSON.parse(r.stdout || '{}') as { static_key_injected?: boolean; bearer?: boolean }
      const ok = url.includes('oauth') ? body.bearer === true : body.static_key_injected === true
      if (!ok) throw new Error(`credential was not injected for ${url}: ${r.stdout} ${r.stderr}`)
    }
    // The h2 row's path: HTTP/2 to the transparent listener, and HTTP/2 from sidekey to the upstream.
    const h2check = await run('curl', ['-sS', '--http2', '-w', '\n%{http_version}', '--cacert', caFile, '--connect-to', `h2.bench.test:443:127.0.0.1:${transparentPort}`, 'https://h2.bench.test/'])
    const [h2body, h2version] = h2check.stdout.split('\n')
    if (h2version !== '2' || (JSON.parse(h2body || '{}') as { static_key_injected?: boolean }).static_key_injected !== true) throw new Error(`HTTP/2 through the transparent listener did not inject: ${h2check.stdout} ${h2check.stderr}`)
    console.log('injection checked with curl: static key over http, https and h2 (transparent TLS), OAuth token over http\n')

    const scenarios: { name: string; direct: [string, string[]]; through: [string, string[]] }[] = [
      { name: 'plain HTTP, static key injected', direct: [`http://127.0.0.1:${ports.http}/`, []], through: ['http://api.bench.test/', ['-x', proxy]] },
      { name: 'intercepted HTTPS, keep-alive', direct: [`https://127.0.0.1:${ports.https}/`, []], through: ['https://api.bench.test/', ['-x', proxy]] },
      { name: 'intercepted HTTPS, new connection per request', direct: [`https://127.0.0.1:${ports.https}/`, ['-disable-keepalive']], through: ['https://api.bench.test/', ['-x', proxy, '-disable-keepalive']] },
    ]
    const results: Record<string, unknown>[] = []
    const line = (name: string, d: HeyResult, s: HeyResult, cpuMsPerReq: number): void => {
      const ratio = s.rps / d.rps
      console.log(
        `${name.padEnd(48)} direct ${d.rps.toFixed(0).padStart(6)} req/s p50 ${d.p50ms.toFixed(1).padStart(5)} p99 ${d.p99ms.toFixed(1).padStart(6)} ms | sidekey ${s.rps.toFixed(0).padStart(6)} req/s p50 ${s.p50ms.toFixed(1).padStart(5)} p99 ${s.p99ms.toFixed(1).padStart(6)} ms | ratio ${ratio.toFixed(2)} | sidekey CPU ${cpuMsPerReq.toFixed(3)} ms/req${d.other || s.other ? `  !! ${d.other} ${s.other}` : ''}`,
      )
      results.push({ scenario: name, direct: d, sidekey: s, ratio, sidekeyCpuMsPerRequest: cpuMsPerReq })
    }
    // BENCH_ONLY=plain|keepalive|newconn runs one scenario (for profiling); h2 runs keep-alive and the h2 rows
    // (only the h2 rows when BENCH_H2_ROWS names some, so a profile holds them alone); grpc runs the gRPC row alone.
    const only = process.env.BENCH_ONLY
    const h2RowsAlone = only === 'h2' && process.env.BENCH_H2_ROWS !== undefined
    for (const sc of scenarios.filter((x) => only !== 'grpc' && !h2RowsAlone && (!only || x.name.toLowerCase().includes({ plain: 'plain', keepalive: 'keep-alive', newconn: 'new connection', h2: 'keep-alive' }[only] ?? only)))) {
      const d = await hey(sc.direct[0], sc.direct[1])
      const before = await procStats(sidekey.pid!)
      const s = await hey(sc.through[0], sc.through[1])
      const after = await procStats(sidekey.pid!)
      line(sc.name, d, s, ((after.cpuS - before.cpuS) * 1000) / Math.max(1, s.ok))
      console.log(`${''.padEnd(48)} sidekey peak RSS so far ${after.peakRssMiB.toFixed(1)} MiB`)
    }
    // Issue #15's rows: HTTP/2 and gRPC, held against this run's HTTP/1.1 keep-alive share.
    if (!only || only === 'h2' || only === 'grpc') {
      const keepAlive = results.find((r) => r.scenario === 'intercepted HTTPS, keep-alive')?.ratio as number | undefined
      // The floor beside each row: the least a Node proxy does on the same path (BENCH_FLOOR=0 skips it).
      const floor = process.env.BENCH_FLOOR === '0' ? null : await startFloorRelay(upstreamCa.certPath, leafKey.privateKeyPem, { 'h2.bench.test': [ports.h2, upstreamCerts.h2], 'h1.bench.test': [ports.h1, upstreamCerts.h1], 'grpc.bench.test': [ports.grpc, upstreamCerts.grpc] })
      results.push(
        ...(await h2Scenarios(
          {
            h2Host: 'h2.bench.test',
            h2Port: ports.h2,
            h1Host: 'h1.bench.test',
            h1Port: ports.h1,
            grpcHost: 'grpc.bench.test',
            grpcPort: ports.grpc,
            transparentPort,
            proxyUrl: proxy,
            upstreamCaPem: await readFile(upstreamCa.certPath, 'utf8'),
            sidekeyCaPem: await readFile(caFile, 'utf8'),
            // hey's duration syntax (10s, 500ms, 1m) in seconds.
            seconds: Number.parseFloat(DURATION) * (DURATION.endsWith('ms') ? 0.001 : DURATION.endsWith('m') ? 60 : 1),
            sidekeyCpuS: async () => (await procStats(sidekey.pid!)).cpuS,
            ...(floor === null ? {} : { floor: { port: floor.port, cpuS: async () => (await procStats(floor.proc.pid!)).cpuS } }),
          },
          KEY,
          keepAlive,
          only === 'grpc',
        )),
      )
    }
    // Issue 3's bar: a route whose token comes from the cache, against a static-secret route.
    // Interleaved, two rounds each, to spread the machine's noise over both.
    const rounds: { s: HeyResult; o: HeyResult }[] = []
    for (let i = 0; i < 2 && only !== 'grpc' && !h2RowsAlone; i++) rounds.push({ s: await hey('http://api.bench.test/', ['-x', proxy]), o: await hey('http://oauth.bench.test/', ['-x', proxy]) })
    const mean = (xs: HeyResult[]): HeyResult => ({ ...xs[0]!, rps: xs.reduce((a, x) => a + x.rps, 0) / xs.length, other: xs.map((x) => x.other).filter(Boolean).join(' ') })
    if (rounds.length > 0) {
    const staticRoute = mean(rounds.map((r) => r.s))
    const oauthRoute = mean(rounds.map((r) => r.o))
    console.log(`\ncached OAuth token route vs static-secret route (both through sidekey): ${oauthRoute.rps.toFixed(0)} vs ${staticRoute.rps.toFixed(0)} req/s, ratio ${(oauthRoute.rps / staticRoute.rps).toFixed(3)}${oauthRoute.other || staticRoute.other ? `  !! ${oauthRoute.other} ${staticRoute.other}` : ''}`)
    results.push({ scenario: 'oauth cached vs static', static: staticRoute, oauth: oauthRoute, ratio: oauthRoute.rps / staticRoute.rps })
    }

    // Issue 8's figure: the same rate-limited route counted in memory and in a shared Redis.
    if (!only || only === 'state') results.push(await stateStoreScenario(startProxy, proxy, dir))

    const { peakRssMiB } = await procStats(sidekey.pid!)
    console.log(`sidekey peak RSS: ${peakRssMiB.toFixed(1)} MiB`)

    // Leaf minting, measured in this process: 50 distinct hosts.
    const leaves = new LeafCache(await createCA(join(dir, 'mint-ca')))
    const times: number[] = []
    for (let i = 0; i < 50; i++) {
      const started = performance.now()
      await leaves.get(`host-${i}.bench.test`)
      times.push(performance.now() - started)
    }
    const meanMs = times.reduce((a, b) => a + b, 0) / times.length
    console.log(`leaf certificate mint: mean ${meanMs.toFixed(2)} ms, max ${Math.max(...times).toFixed(2)} ms over 50 hosts (signing runs in the thread pool)`)
    results.push({ peakRssMiB, leafMintMeanMs: meanMs, leafMintMaxMs: Math.max(...times) })
    // BENCH_RESULTS=FILE keeps this run's figures apart, e.g. to pool several runs' rounds (bench/pool.ts).
    await writeFile(process.env.BENCH_RESULTS ?? join(ROOT, 'bench', 'results.json'), JSON.stringify({ duration: DURATION, concurrency: CONCURRENCY, results }, null, 2))
  } finally {
    children.forEach((c) => c.kill('SIGTERM'))
    await new Promise((r) => setTimeout(r, 300))
    await rm(dir, { recursive: true, force: true })
  }
  if (!process.env.BENCH_ONLY && process.env.BENCH_PEERS !== '0') await peerComparison()
}

/**
 * The same scenarios against squid and a plain Node proxy, in the same run (bench/peers.sh, the
 * peer benchmark beside the project): the figures above are ratios against a direct call, these
 * put squid's row beside sidekey's. Skipped, saying why, where the peer benchmark cannot run.
 */
async function peerComparison(): Promise<void> {
  console.log('\nagainst squid and a plain Node proxy, same run (bench/peers.sh; BENCH_PEERS=0 skips it):')
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn('bash', [join(ROOT, 'bench', 'peers.sh')], { stdio: 'inherit' })
    child.once('exit', resolve)
  })
  if (code !== 0) console.log(`peer comparison not run (exit ${code}); see the message above`)
}

/** A rate-limited route through sidekey with the in-memory store and with Redis (Debian's redis-server), interleaved. */
async function stateStoreScenario(startProxy: (extra: string[], certs: string) => Promise<{ proc: ChildProcess; proxyPort: number }>, memoryProxy: string, dir: string): Promise<Record<string, unknown>> {
  if ((await run('sh', ['-c', 'command -v redis-server'])).code !== 0) {
    console.log('\nstate store scenario skipped: redis-server not installed (apt-get install redis-server)')
    return { scenario: 'rate-limited route, redis vs memory', skipped: 'no redis-server' }
  }
  const redisPort = await freePort()
  const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  children.push(redis)
  await new Promise((r) => setTimeout(r, 300))
  await writeFile(join(dir, 'state.yaml'), `store: redis\nredis:\n  url: redis://127.0.0.1:${redisPort}\n  allow_unauthenticated: true\n`)
  const { proc, proxyPort } = await startProxy(['--state', join(dir, 'state.yaml')], 'certs-redis')
  const redisProxy = `http://127.0.0.1:${proxyPort}`
  const rounds: { m: HeyResult; r: HeyResult; cpuR: number }[] = []
  for (let i = 0; i < 2; i++) {
    const m = await hey('http://limited.bench.test/', ['-x', memoryProxy])
    const before = await procStats(proc.pid!)
    const r = await hey('http://limited.bench.test/', ['-x', redisProxy])
    const after = await procStats(proc.pid!)
    rounds.push({ m, r, cpuR: ((after.cpuS - before.cpuS) * 1000) / Math.max(1, r.ok) })
  }
  const memory = rounds.reduce((a, x) => a + x.m.rps, 0) / rounds.length
  const shared = rounds.reduce((a, x) => a + x.r.rps, 0) / rounds.length
  const p50 = (k: 'm' | 'r'): number => rounds.reduce((a, x) => a + x[k].p50ms, 0) / rounds.length
  const other = rounds.map((x) => `${x.m.other} ${x.r.other}`.trim()).filter(Boolean).join(' ')
  console.log(`\nrate-limited route, Redis store vs in-memory store: ${shared.toFixed(0)} vs ${memory.toFixed(0)} req/s, ratio ${(shared / memory).toFixed(3)}; p50 ${p50('r').toFixed(1)} vs ${p50('m').toFixed(1)} ms; sidekey CPU with Redis ${rounds[1]!.cpuR.toFixed(3)} ms/req${other ? `  !! ${other}` : ''}`)
  proc.kill('SIGTERM')
  redis.kill('SIGTERM')
  return { scenario: 'rate-limited route, redis vs memory', memoryRps: memory, redisRps: shared, ratio: shared / memory }
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
