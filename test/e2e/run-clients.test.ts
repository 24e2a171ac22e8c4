import { execFile, spawn } from 'node:child_process'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { CA_FILES, TRUSTSTORE_PASSWORD } from '../../src/ca/files.js'
import { rejectedCertificateHint } from '../../src/cli/run-hints.js'
import { waitFor } from '../helpers/poll.js'
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js'
import { pythonWith, requireTools } from '../helpers/tools.js'
import { startUpstream, upstreamTrust } from '../helpers/upstream.js'

requireTools('curl', 'wget', 'git', 'npm', 'go', 'java', 'keytool', 'openssl')

// Issue #19: every common client trusts sidekey and goes through it under `sidekey run`, with no
// flag of its own: each is started by `sidekey run -- CLIENT URL` and must reach an HTTPS stand-in
// for api.test through sidekey, which injects the key (so the request went through sidekey, and the
// client trusted sidekey's certificate for api.test). docs/clients.md has the same list.

const exec = promisify(execFile)
const CLI = join(process.cwd(), 'dist/src/cli/main.js')
const BEARER = `Bearer ${SECRETS.OPENAI}`

t.test('clients under `sidekey run`', async (t) => {
  const trust = await upstreamTrust()
  const api = await startUpstream(
    (req, res) => {
      if (req.url === '/npm/left-pad') {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ name: 'left-pad', 'dist-tags': { latest: '1.3.0' }, versions: { '1.3.0': { name: 'left-pad', version: '1.3.0', description: 'served by the stand-in', dist: { tarball: 'https://api.test/npm/left-pad/-/left-pad-1.3.0.tgz', shasum: '0'.repeat(40) } } } }))
        return
      }
      if (req.url === '/pypi/simple/demo-pkg/') {
        // A PEP 503 simple index page: what `pip index versions` reads.
        res.writeHead(200, { 'content-type': 'text/html' })
        res.end('<!DOCTYPE html><html><body><a href="https://api.test/pypi/files/demo_pkg-1.0.tar.gz#sha256=' + '0'.repeat(64) + '">demo_pkg-1.0.tar.gz</a></body></html>')
        return
      }
      if (req.url?.includes('.git/')) {
        res.writeHead(404)
        res.end()
        return
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ object: 'list', data: [], path: req.url }))
    },
    { trust, host: 'api.test' },
  )
  t.teardown(() => api.close())
  const sk = await startTestSidekey(
    t,
    `version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - name: api
    host: api.test
    workloads: [agent]
    credential: key
    addresses: [127.0.0.1]
`,
    { upstreamCaFile: trust.caFile, connectTo: { 'api.test:443': { host: '127.0.0.1', port: api.port } } },
  )
  const adminAddress = new URL(sk.adminUrl).host
  const certs = join(sk.dir, 'certs')
  // `sidekey run` attaches to the sidekey above (its admin port and certs directory). The shell's
  // own NO_PROXY names api.test: run must clear it, or every client would go around sidekey.
  const env: NodeJS.ProcessEnv = { ...process.env, HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '', NODE_OPTIONS: '', NO_PROXY: 'api.test,localhost', no_proxy: 'api.test', JAVA_TOOL_OPTIONS: '' }
  const runArgs = ['run', '--workload', 'agent', '--no-sandbox', '--admin', adminAddress, '--certs', certs]
  const sidekeyRun = async (command: string[], extra: string[] = [], runEnv = env): Promise<{ code: number; out: string; stderr: string }> => {
    try {
      const r = await exec(process.execPath, [CLI, ...runArgs, ...extra, '--', ...command], { env: runEnv, encoding: 'utf8', timeout: 90_000 })
      return { code: 0, out: r.stdout, stderr: r.stderr }
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string }
      return { code: typeof e.code === 'number' ? e.code : 1, out: e.stdout ?? '', stderr: e.stderr ?? '' }
    }
  }
  const python = pythonWith('requests', 'httpx')
  const pip = pythonWith('pip')
  const work = await mkdtemp(join(tmpdir(), 'sidekey-run-clients-'))
  const goClient = join(work, 'get')
  await exec('go', ['build', '-o', goClient, join(process.cwd(), 'test/fixtures/clients/get.go')], { env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '', GOCACHE: join(tmpdir(), 'sidekey-go-cache') }, timeout: 120_000 })
  // A user npmrc naming another cafile, as a new user had: the environment run sets must win.
  const npmrc = join(work, 'npmrc')
  await writeFile(npmrc, 'cafile=/etc/ssl/certs/ca-certificates.crt\n')

  /** The stand-in saw `path` with the injected key: the client went through sidekey and trusted it. */
  const reached = (t: Test, path: string): void => {
    const seen = api.seen.filter((s) => s.url === path)
    t.ok(seen.length > 0, `the stand-in saw ${path}`)
    t.equal(seen.at(-1)?.headers.authorization, BEARER, 'with the key sidekey injected')
  }

  const clients: [string, string[], string, RegExp][] = [
    ['curl', ['curl', '-sS', '--max-time', '20', 'https://api.test/v1/curl'], '/v1/curl', /"object":"list"/],
    ['wget (wgetrc)', ['wget', '-q', '-O', '-', '--tries=1', 'https://api.test/v1/wget'], '/v1/wget', /"object":"list"/],
    ['Python urllib', [python, '-c', "import urllib.request; print(urllib.request.urlopen('https://api.test/v1/urllib', timeout=20).read().decode())"], '/v1/urllib', /"object":"list"/],
    ['Python requests', [python, '-c', "import requests; print(requests.get('https://api.test/v1/requests', timeout=20).text)"], '/v1/requests', /"object":"list"/],
    ['Python httpx', [python, '-c', "import httpx; print(httpx.get('https://api.test/v1/httpx', timeout=20).text)"], '/v1/httpx', /"object":"list"/],
    ['Node fetch', [process.execPath, '-e', "fetch('https://api.test/v1/fetch').then((r) => r.text()).then(console.log)"], '/v1/fetch', /"object":"list"/],
    ['undici', [process.execPath, '--input-type=module', '-e', "import { request } from 'undici'; console.log(await (await request('https://api.test/v1/undici')).body.text())"], '/v1/undici', /"object":"list"/],
    [
      'OpenAI SDK',
      [process.execPath, '--input-type=module', '-e', "import OpenAI from 'openai'; const page = await new OpenAI({ baseURL: 'https://api.test/v1/openai', apiKey: 'sidekey-placeholder', maxRetries: 0 }).models.list(); console.log(JSON.stringify({ object: 'list', n: page.data.length }))"],
      '/v1/openai/models',
      /"object":"list"/,
    ],
    ['Go net/http', [goClient, 'https://api.test/v1/go'], '/v1/go', /^200 OK/],
    ['pip (PIP_CERT)', [pip, '-m', 'pip', 'index', 'versions', 'demo-pkg', '--index-url', 'https://api.test/pypi/simple/', '--disable-pip-version-check', '--no-cache-dir', '--retries', '0', '--timeout', '20'], '/pypi/simple/demo-pkg/', /demo-pkg \(1\.0\)/],
    ['npm (npm_config_cafile over a user npmrc)', ['npm', 'view', 'left-pad', 'description', '--registry', 'https://api.test/npm/', '--userconfig', npmrc, '--cache', join(work, 'npm-cache'), '--fetch-retries', '0', '--update-notifier', 'false'], '/npm/left-pad', /served by the stand-in/],
    ['Java HttpClient (truststore.p12 via JAVA_TOOL_OPTIONS)', ['java', '-Djdk.http.auth.tunneling.disabledSchemes=', join(process.cwd(), 'test/fixtures/clients/Fetch.java'), 'https://api.test/v1/java'], '/v1/java', /^200 \{"object":"list"/m],
  ]
  for (const [name, command, path, expected] of clients) {
    t.test(name, async (t) => {
      const r = await sidekeyRun(command)
      t.equal(r.code, 0, `${name} succeeded`, { stderr: r.stderr })
      t.match(r.out, expected)
      reached(t, path)
      t.notOk(r.out.includes(SECRETS.OPENAI) || r.stderr.includes(SECRETS.OPENAI), 'the key is in no output')
    })
  }

  t.test('git: trusts sidekey and goes through it (the stand-in has no repository)', async (t) => {
    const r = await sidekeyRun(['git', 'ls-remote', 'https://api.test/v1/repo.git'])
    t.notMatch(r.stderr, /SSL|certificate|Proxy CONNECT aborted/i, r.stderr)
    t.match(r.stderr, /repository 'https:\/\/api\.test\/v1\/repo\.git\/' not found/)
    reached(t, '/v1/repo.git/info/refs?service=git-upload-pack')
  })

  t.test('an inherited NO_PROXY is cleared for the agent, and run says so', async (t) => {
    const r = await sidekeyRun(['sh', '-c', 'echo "NO_PROXY=[$NO_PROXY] no_proxy=[$no_proxy]"'])
    t.equal(r.code, 0)
    t.match(r.out, 'NO_PROXY=[] no_proxy=[]')
    t.match(r.stderr, /sidekey run: cleared NO_PROXY=api\.test,localhost no_proxy=api\.test for the agent: it would send calls to those hosts around sidekey; pass --no-proxy LIST/)
  })

  t.test('--no-proxy LIST is what the agent gets, with no note', async (t) => {
    const r = await sidekeyRun(['sh', '-c', 'echo "NO_PROXY=[$NO_PROXY] no_proxy=[$no_proxy]"'], ['--no-proxy', 'internal.example'])
    t.equal(r.code, 0)
    t.match(r.out, 'NO_PROXY=[internal.example] no_proxy=[internal.example]')
    t.notMatch(r.stderr, /cleared NO_PROXY/)
  })

  t.test('the Java trust store holds sidekey\'s CA as a trusted entry, under the documented password', async (t) => {
    const store = join(certs, CA_FILES.truststore)
    const list = await exec('keytool', ['-list', '-keystore', store, '-storetype', 'PKCS12', '-storepass', TRUSTSTORE_PASSWORD], { encoding: 'utf8' })
    t.match(list.stdout, /sidekey-ca, .*trustedCertEntry/)
    const fingerprint = (await exec('openssl', ['x509', '-in', join(certs, CA_FILES.cert), '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' })).stdout.split('=')[1]!.trim()
    t.match(list.stdout, fingerprint, "the entry is sidekey's CA")
    await t.rejects(exec('keytool', ['-list', '-keystore', store, '-storetype', 'PKCS12', '-storepass', 'wrong-password']), 'the MAC is checked')
  })

  t.test('a client that rejects sidekey\'s certificate gets a one-line hint from run', async (t) => {
    // curl told to trust only the system roots: it refuses sidekey's leaf for api.test. The agent
    // then waits on its stdin, so the hint is read while it still runs.
    const child = spawn(process.execPath, [CLI, ...runArgs, '--', 'sh', '-c', 'curl -sS --cacert /etc/ssl/certs/ca-certificates.crt https://api.test/v1/untrusted; read line'], { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
    // 'close', not 'exit': a child's stderr may still hold curl's message when it exits.
    const exited = new Promise((resolve) => child.once('close', resolve))
    const hint = rejectedCertificateHint('api.test', join(certs, CA_FILES.bundle))
    await waitFor('the hint', () => (stderr.includes(hint) ? true : undefined), 30_000)
    child.stdin.end('\n')
    await exited
    t.equal(stderr.split(hint).length - 1, 1, 'printed once')
    t.match(stderr, /curl: \(60\)/, 'curl itself failed on the certificate')
  })

  noSecretsLogged(t, sk)
})
