import { execFile } from 'node:child_process'
import t from 'tap'
import { curl } from '../helpers/clients.js'
import { h2Request, h2ThroughProxy, startH2AndH1Upstreams, startH2Sidekey } from '../helpers/h2.js'
import { noSecretsLogged, SECRETS } from '../helpers/sidekey.js'
import { pythonWith } from '../helpers/tools.js'
import { basicAuth } from '../helpers/tunnels.js'
import { upstreamTrust } from '../helpers/upstream.js'

// Real HTTP/2 clients through sidekey, unchanged: curl --http2, Node's http2 client and Python's
// httpx with http2=True, each to an upstream that speaks only HTTP/2 and to one that speaks only
// HTTP/1.1. Each client holds a placeholder; the upstream sees sidekey's credential.

/** httpx through a proxy with HTTP/2 on; prints the protocol the agent side spoke, the status and the body. */
const HTTPX = `
import sys, httpx
proxy, ca, url = sys.argv[1:4]
with httpx.Client(http2=True, proxies=proxy, verify=ca) as client:
    r = client.get(url, headers={"authorization": "Bearer placeholder"})
    print(r.http_version, r.status_code, r.text)
`

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, stdout, stderr }))
  })
}

t.test('HTTP/2 clients through sidekey', async (t) => {
  const trust = await upstreamTrust()
  const { h2api, h1api } = await startH2AndH1Upstreams(t, trust)
  const sk = await startH2Sidekey(t, trust, `  - { name: h2, host: h2.api.test, credential: openai, addresses: [127.0.0.1] }
  - { name: h1, host: h1.api.test, credential: openai, addresses: [127.0.0.1] }
`, { 'h2.api.test': h2api.port, 'h1.api.test': h1api.port })
  const proxy = sk.proxyUrlFor('agent')
  const injected = `Bearer ${SECRETS.OPENAI}`
  const lastAuthorization = (host: string): unknown => (host === 'h2.api.test' ? h2api.seen.at(-1)?.headers.authorization : h1api.seen.at(-1)?.headers.authorization)

  for (const host of ['h2.api.test', 'h1.api.test']) {
    t.test(`curl --http2 to ${host}`, async (t) => {
      const r = await curl(['--http2', '-x', proxy, '--cacert', sk.ca.certPath, '-H', 'Authorization: Bearer placeholder', `https://${host}/v1/curl`])
      t.equal(r.status, 200, r.stderr)
      t.match(r.headers, /^HTTP\/2 200/, 'curl spoke HTTP/2 to sidekey')
      t.equal(lastAuthorization(host), injected)
      const line = await sk.sink.waitForAudit((a) => a.host === host && a.path === '/v1/curl')
      t.equal(line.protocol, 'h2')
    })

    t.test(`Node's http2 client to ${host}`, async (t) => {
      const { token } = sk.runTokens.mint('agent')
      const session = await h2ThroughProxy(Number(new URL(sk.proxyUrl).port), `${host}:443`, { auth: basicAuth('agent', token), ca: sk.ca.certPem })
      t.teardown(() => session.close())
      const r = await h2Request(session, { ':method': 'GET', ':path': '/v1/node', authorization: 'Bearer placeholder', cookie: ['a=1', 'b=2'] })
      t.equal(r.status, 200)
      t.equal(lastAuthorization(host), injected)
      if (host === 'h1.api.test') {
        // RFC 9113 section 8.2.3: cookie fields split on HTTP/2 go on to HTTP/1.1 as one (found by
        // a red-team run: two Cookie lines, of which a server may keep only the first).
        const raw = h1api.seen.at(-1)!.rawHeaders
        const cookies = raw.filter((_, i) => i % 2 === 0 && raw[i]!.toLowerCase() === 'cookie').length
        t.equal(cookies, 1, 'one Cookie line')
        t.equal(h1api.seen.at(-1)!.headers.cookie, 'a=1; b=2')
      }
    })

    t.test(`Python httpx with http2=True to ${host}`, async (t) => {
      const python = pythonWith('httpx', 'h2')
      const r = await run(python, ['-c', HTTPX, proxy, sk.ca.certPath, `https://${host}/v1/httpx`])
      t.equal(r.code, 0, r.stderr)
      t.match(r.stdout, /^HTTP\/2 200 /, 'httpx spoke HTTP/2 to sidekey')
      t.equal(lastAuthorization(host), injected)
      t.notOk(r.stdout.includes(SECRETS.OPENAI))
    })
  }

  noSecretsLogged(t, sk)
})
