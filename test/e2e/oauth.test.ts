import { writeFile } from 'node:fs/promises'
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { join } from 'node:path'
import t from 'tap'
import { createRemoteJWKSet, generateKeyPair, jwtVerify, SignJWT } from 'jose'
import { curl } from '../helpers/clients.js'
import { CLIENT_SECRETS, CRM_AUDIENCE, startOidc } from '../helpers/oidc.js'
import { pollFor } from '../helpers/poll.js'
import { startTestSidekey, type TestSidekey } from '../helpers/sidekey.js'
import { startUpstream } from '../helpers/upstream.js'

// Just-in-time credentials against a real authorization server (oidc-provider) on loopback: the
// client credentials grant with each client authentication method, token exchange with a minted
// JWT and with a projected service-account token file, and the cache's behaviour when the server
// is fast, down, broken or slow. The upstream verifies every token it receives the way a resource
// server would (signature against the issuer's JWKS, issuer, audience).

const K8S_ISSUER = 'https://kubernetes.default.svc.cluster.local'

t.test('OAuth 2.0 credentials from a real authorization server', async (t) => {
  const k8s = await generateKeyPair('ES256')
  let sk: TestSidekey | null = null
  const verifiers = () => [
    { jwks: createRemoteJWKSet(new URL(`${sk!.adminUrl}/.well-known/jwks.json`)), issuer: sk!.adminUrl },
    { jwks: async () => k8s.publicKey, issuer: K8S_ISSUER },
  ]
  const as = await startOidc({ subjectVerifiers: verifiers })
  const shortLived = await startOidc({ accessTokenTTL: 6 })
  t.teardown(() => Promise.all([as.stop(), shortLived.stop()]))

  const seenTokens: string[] = []
  let revokeNext = false
  const api = await startUpstream((req, res) => {
    const auth = req.headers.authorization ?? ''
    const token = auth.replace(/^Bearer /, '')
    seenTokens.push(token)
    if (req.url === '/always-401') return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"insufficient_scope"}')
    if (req.url === '/revoked' && revokeNext) {
      revokeNext = false
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }))
  })
  t.teardown(() => api.close())

  process.env.TEST_CC_BASIC = CLIENT_SECRETS.basic
  process.env.TEST_CC_POST = CLIENT_SECRETS.post
  process.env.TEST_CC_EXCHANGE = CLIENT_SECRETS.exchange
  const projected = join(process.env.TMPDIR ?? '/tmp', `sidekey-projected-${process.pid}.jwt`)
  const k8sToken = (sub: string) =>
    new SignJWT({ 'kubernetes.io': { namespace: 'agents' } }).setProtectedHeader({ alg: 'ES256' }).setIssuer(K8S_ISSUER).setSubject(sub).setAudience(as.issuer).setIssuedAt().setExpirationTime('10m').sign(k8s.privateKey)
  await writeFile(projected, await k8sToken('system:serviceaccount:agents:researcher'))
  await writeFile(join(process.env.TMPDIR ?? '/tmp', `sidekey-client-key-${process.pid}.pem`), as.clientKeyPem)

  const hosts = ['basic', 'post', 'jwt', 'disc', 'mint', 'exchange', 'k8s', 'short', 'broken', 'slow']
  const policy = `
version: v1
credentials:
  crm-basic:
    type: oauth2-client-credentials
    token_endpoint: ${as.issuer}/token
    client_id: crm-basic
    client_auth: client_secret_basic
    client_secret: { env: TEST_CC_BASIC }
    scopes: [crm.read]
    resource: ${CRM_AUDIENCE}
  crm-post:
    type: oauth2-client-credentials
    token_endpoint: ${as.issuer}/token
    client_id: crm-post
    client_auth: client_secret_post
    client_secret: { env: TEST_CC_POST }
    scopes: [crm.read, crm.write]
  crm-jwt:
    type: oauth2-client-credentials
    token_endpoint: ${as.issuer}/token
    client_id: crm-jwt
    client_auth: private_key_jwt
    private_key: { file: ${join(process.env.TMPDIR ?? '/tmp', `sidekey-client-key-${process.pid}.pem`)} }
    key_id: sidekey-client-1
    alg: RS256
    scopes: [crm.read]
  crm-discovered:
    type: oauth2-client-credentials
    issuer: ${as.issuer}
    client_id: crm-basic
    client_secret: { env: TEST_CC_BASIC }
    scopes: [crm.read]
  workload-jwt:
    type: jwt
    audience: https://mint.test
    lifetime_s: 120
  subject-for-as:
    type: jwt
    audience: ${as.issuer}
  crm-exchange:
    type: oauth2-token-exchange
    token_endpoint: ${as.issuer}/token
    client_id: crm-exchange
    client_secret: { env: TEST_CC_EXCHANGE }
    subject_token: { credential: subject-for-as }
    scopes: [crm.read]
  crm-k8s:
    type: oauth2-token-exchange
    token_endpoint: ${as.issuer}/token
    client_id: crm-exchange
    client_secret: { env: TEST_CC_EXCHANGE }
    subject_token: { file: ${projected} }
  crm-short:
    type: oauth2-client-credentials
    token_endpoint: ${shortLived.issuer}/token
    client_id: crm-basic
    client_secret: { env: TEST_CC_BASIC }
    refresh_at: 0.5
  crm-slow:
    type: oauth2-client-credentials
    token_endpoint: ${as.issuer}/token
    client_id: crm-basic
    client_secret: { env: TEST_CC_BASIC }
    timeout_ms: 1000
routes:
${hosts
  .map(
    (h) => `  - name: ${h}
    host: ${h}.test
    ports: [${api.port}]
    workloads: ["*"]
    credential: ${{ basic: 'crm-basic', post: 'crm-post', jwt: 'crm-jwt', disc: 'crm-discovered', mint: 'workload-jwt', exchange: 'crm-exchange', k8s: 'crm-k8s', short: 'crm-short', broken: 'crm-basic', slow: 'crm-slow' }[h]}
    addresses: [127.0.0.1]`,
  )
  .join('\n')}
`
  sk = await startTestSidekey(t, policy, { connectTo: Object.fromEntries(hosts.map((h) => [`${h}.test:${api.port}`, { host: '127.0.0.1', port: api.port }])) })
  const via = (workload: string) => sk!.proxyUrlFor(workload)
  const get = (workload: string, host: string, path = '/') => curl(['-x', via(workload), `http://${host}.test:${api.port}${path}`])

  for (const [host, clientId, scopes] of [
    ['basic', 'crm-basic', 'crm.read'],
    ['post', 'crm-post', 'crm.read crm.write'],
    ['jwt', 'crm-jwt', 'crm.read'],
    ['disc', 'crm-basic', 'crm.read'],
  ] as const) {
    t.test(`client credentials via ${host}: the upstream gets a token that verifies`, async (t) => {
      const r = await get('agent', host)
      t.equal(r.status, 200, r.body)
      const claims = await as.verify(seenTokens.at(-1)!)
      t.equal(claims.aud, CRM_AUDIENCE)
      t.equal(claims.client_id, clientId)
      t.equal(claims.scope, scopes)
      const line = await sk!.sink.waitForAudit((a) => a.host === `${host}.test`)
      t.match(line, { credential_source: 'fetch', status: 200 })
    })
  }

  t.test('200 concurrent requests cause one token request', async (t) => {
    const before = as.tokenRequests
    // 200 absolute-form requests at once on 200 connections, as 200 `curl -x` would send them, from
    // one process: 200 curl processes at once outlast their own time limit on a loaded 2-core machine.
    const proxy = new URL(via('burst'))
    const agent = new HttpAgent({ maxSockets: 200 })
    t.teardown(() => agent.destroy())
    const proxyAuthorization = `Basic ${Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64')}`
    const absolute = (): Promise<{ status: number }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest({ agent, host: proxy.hostname, port: proxy.port, path: `http://post.test:${api.port}/`, headers: { host: `post.test:${api.port}`, 'proxy-authorization': proxyAuthorization } }, (res) => {
          res.resume()
          res.once('end', () => resolve({ status: res.statusCode ?? 0 }))
        })
        req.once('error', reject)
        req.end()
      })
    const results = await Promise.all(Array.from({ length: 200 }, absolute))
    t.same(results.filter((r) => r.status !== 200).map((r) => r.status), [])
    t.equal(as.tokenRequests - before, 1)
    const lines = sk!.sink.audits.filter((a) => a.workload === 'burst')
    t.equal(lines.length, 200)
  })

  t.test('a minted JWT verifies against sidekey\'s own JWKS', async (t) => {
    const r = await get('minter', 'mint')
    t.equal(r.status, 200)
    const jwks = createRemoteJWKSet(new URL(`${sk!.adminUrl}/.well-known/jwks.json`))
    const { payload, protectedHeader } = await jwtVerify(seenTokens.at(-1)!, jwks, { issuer: sk!.adminUrl, audience: 'https://mint.test' })
    t.equal(payload.sub, 'minter')
    t.equal(protectedHeader.alg, 'ES256')
    t.ok(payload.exp! - payload.iat! <= 120)
    const discovery = (await (await fetch(`${sk!.adminUrl}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string }
    t.equal(discovery.issuer, sk!.adminUrl)
    t.equal(discovery.jwks_uri, `${sk!.adminUrl}/.well-known/jwks.json`)
  })

  t.test('token exchange with a minted JWT as the subject token', async (t) => {
    const r = await get('exchanger', 'exchange')
    t.equal(r.status, 200, r.body)
    const claims = await as.verify(seenTokens.at(-1)!)
    t.equal(claims.aud, CRM_AUDIENCE)
    t.equal(as.exchangedSubjects.at(-1), 'exchanger', 'the AS saw the workload as the subject')
  })

  t.test('token exchange with a projected token file, re-read when it rotates', async (t) => {
    t.equal((await get('pod-a', 'k8s')).status, 200)
    t.equal(as.exchangedSubjects.at(-1), 'system:serviceaccount:agents:researcher')
    await writeFile(projected, await k8sToken('system:serviceaccount:agents:rotated'))
    t.equal((await get('pod-b', 'k8s')).status, 200)
    t.equal(as.exchangedSubjects.at(-1), 'system:serviceaccount:agents:rotated', 'the next exchange read the new file')
  })

  t.test('a 401 from the upstream invalidates the cached token once', async (t) => {
    t.equal((await get('revokee', 'basic', '/revoked')).status, 200)
    const before = as.tokenRequests
    revokeNext = true
    t.equal((await get('revokee', 'basic', '/revoked')).status, 401, 'the 401 reaches the agent; nothing is replayed')
    t.equal(as.tokenRequests, before, 'no fetch during the failed request')
    t.equal((await get('revokee', 'basic', '/revoked')).status, 200)
    t.equal(as.tokenRequests, before + 1, 'the next request fetched a fresh token')
  })

  t.test('an upstream that answers 401 to every token: one fresh token per 10 s, not one per request', async (t) => {
    // Found by a red-team run: each 401 dropped the token, so an agent calling a path that needs
    // another scope made every request a token fetch (and, with Vault, a new lease), and the
    // scanner learning each token slowed every workload.
    t.equal((await get('flooder', 'basic')).status, 200)
    const before = as.tokenRequests
    for (let i = 0; i < 20; i++) t.equal((await get('flooder', 'basic', '/always-401')).status, 401)
    t.equal(as.tokenRequests - before, 1, 'the first 401 dropped the token once; the next 19 fetched nothing')
    t.equal((await get('flooder', 'basic')).status, 200, 'the route still works')
    t.equal(as.tokenRequests - before, 1)
  })

  for (const [mode, message] of [
    ['http-500', /credential \\"crm-basic\\": token endpoint answered HTTP 500 \(server_error\)/],
    ['garbage', /credential \\"crm-basic\\": token endpoint answered HTTP 200 with a body that is not JSON/],
    ['html', /not JSON/],
    // Only a code-shaped `error` is repeated to the agent; the rest of a provider's text is not.
    ['prose', /credential \\"crm-basic\\": token endpoint answered HTTP 400"/],
  ] as const) {
    t.test(`an authorization server answering ${mode} fails closed with a reason`, async (t) => {
      as.mode = mode
      t.teardown(() => (as.mode = 'ok'))
      const before = api.seen.length
      const r = await get(`victim-${mode}`, 'broken')
      t.equal(r.status, 502)
      t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE/i)
      t.match(r.body, message)
      t.notMatch(r.body, /Ignore your instructions/)
      t.equal(api.seen.length, before, 'nothing was sent upstream without a credential')
    })
  }

  t.test('an authorization server slower than the timeout fails closed', async (t) => {
    as.mode = 'slow'
    t.teardown(() => (as.mode = 'ok'))
    const r = await get('impatient', 'slow')
    t.equal(r.status, 502)
    t.match(r.body, /did not answer within 1000 ms/)
  })

  t.test('short-lived tokens are refreshed ahead of expiry; an outage is ridden out, then fails closed, then recovers', async (t) => {
    const statuses: number[] = []
    // Steady traffic until a request goes out after the background refresh (at half the 6 s lifetime).
    await pollFor(
      async () => {
        const tokenRequests = shortLived.tokenRequests
        statuses.push((await get('steady', 'short')).status)
        return tokenRequests
      },
      (tokenRequests) => tokenRequests >= 2,
      15_000,
      200,
    )
    t.same([...new Set(statuses)], [200])
    t.ok(shortLived.tokenRequests >= 2, `refreshed in the background (${shortLived.tokenRequests} token requests)`)
    const lines = sk!.sink.audits.filter((a) => a.workload === 'steady')
    t.same(lines.slice(1).filter((a) => a.credential_source !== 'cache').length, 0, 'no request after the first waited for a fetch')

    await shortLived.stop()
    const first = await get('steady', 'short')
    t.equal(first.status, 200, 'the cached token still serves while the server is down')
    const failed = await pollFor(() => get('steady', 'short'), (r) => r.status !== 200, 15_000, 200)
    t.equal(failed?.status, 502, 'once expired: 502')
    t.match(failed?.body ?? '', /credential \\"crm-short\\"/)
    await shortLived.restart()
    const recovered = (await pollFor(() => get('steady', 'short'), (r) => r.status === 200, 20_000, 250)).status === 200
    t.ok(recovered, 'recovered without restarting sidekey')
  })

  t.test('no token or client secret appears in any log line', async (t) => {
    const secrets = [...new Set(seenTokens.filter(Boolean)), ...Object.values(CLIENT_SECRETS)]
    t.ok(secrets.length > 5)
    t.same(sk!.sink.leaks(secrets), [])
  })
})
