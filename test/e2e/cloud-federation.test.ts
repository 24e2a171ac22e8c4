import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { pollFor } from '../helpers/poll.js'
import { noSecretsLogged, startTestSidekey, type TestSidekey } from '../helpers/sidekey.js'
import { startUpstream, upstreamTrust, type UpstreamTrust } from '../helpers/upstream.js'

// Google Cloud workload identity federation, Azure workload identity and Vault, each against a
// local HTTPS stand-in that follows the provider's documented wire format (Google STS token
// exchange and IAM Credentials generateAccessToken; the Microsoft identity platform's v2.0 token
// endpoint with a federated client assertion; Vault's Kubernetes and AppRole login, token
// renew-self, KV v2 reads, dynamic secrets and lease renewal), verifies what it receives and can
// be made to fail. The clouds and Vault themselves are not reachable here.

type Mode = 'ok' | 'down' | 'malformed'

/** A request through sidekey to `url` as `workload`; the agent holds no credential at all. */
async function call(sk: TestSidekey, url: string, workload = 'agent'): Promise<{ status: number; error: string | undefined; text: string }> {
  const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor(workload), requestTls: { ca: await readFile(sk.ca.certPath, 'utf8') } })
  try {
    const res = await request(url, { dispatcher })
    return { status: res.statusCode, error: res.headers['x-sidekey-error'] as string | undefined, text: await res.body.text() }
  } finally {
    await dispatcher.close()
  }
}

/** An API stand-in that answers with the bearer token it was given (so the test can see what sidekey injected). */
async function bearerEcho(trust: UpstreamTrust, host: string) {
  return startUpstream((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    // Not the token itself: sidekey would mask a managed secret echoed back (secret-echo scrubbing).
    res.end(JSON.stringify({ bearer: (req.headers.authorization ?? '').replace(/^Bearer (.{6}).*$/, '$1…') }))
  }, { trust, host })
}

t.test('Google Cloud workload identity federation', async (t) => {
  const trust = await upstreamTrust()
  const audience = '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/agents/providers/k8s'
  const state = { sts: 'ok' as Mode, stsCalls: 0, iamCalls: 0, issued: 0 }
  const sts = await startUpstream((req, res, body) => {
    state.stsCalls++
    if (state.sts === 'down') return void req.socket.destroy()
    const form = Object.fromEntries(new URLSearchParams(body))
    const fail = (status: number, error: string, description: string): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error, error_description: description }))
    }
    if (req.url !== '/v1/token' || req.method !== 'POST') return fail(404, 'not_found', 'POST /v1/token')
    if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:token-exchange') return fail(400, 'unsupported_grant_type', 'token exchange only')
    if (form.subject_token_type !== 'urn:ietf:params:oauth:token-type:jwt' || form.requested_token_type !== 'urn:ietf:params:oauth:token-type:access_token') return fail(400, 'invalid_request', 'token types')
    if (form.audience !== audience) return fail(400, 'invalid_grant', 'The audience in ID Token does not match the expected audience.')
    if (form.subject_token !== 'k8s-projected-token-for-gcp') return fail(400, 'invalid_grant', 'The ID Token is invalid.')
    if (form.scope !== 'https://www.googleapis.com/auth/cloud-platform') return fail(400, 'invalid_scope', form.scope ?? '')
    if (state.sts === 'malformed') return void res.end('{"access_token": ')
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ access_token: `federated-${++state.issued}-ya29.d.c0ASRK0Ga`, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 3600 }))
  }, { trust, host: '127.0.0.1' })
  t.teardown(() => sts.close())
  const iam = await startUpstream((req, res, body) => {
    state.iamCalls++
    const m = /^\/v1\/projects\/-\/serviceAccounts\/([^/:]+):generateAccessToken$/.exec(req.url ?? '')
    const fail = (code: number, status: string): void => {
      res.writeHead(code, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code, message: 'Permission \'iam.serviceAccounts.getAccessToken\' denied on resource', status } }))
    }
    if (m === null || req.method !== 'POST') return fail(404, 'NOT_FOUND')
    if (!/^Bearer federated-\d+-/.test(req.headers.authorization ?? '')) return fail(401, 'UNAUTHENTICATED')
    if (decodeURIComponent(m[1]!) !== 'agent@project.iam.gserviceaccount.com') return fail(403, 'PERMISSION_DENIED')
    const request = JSON.parse(body) as { scope: string[]; lifetime: string }
    if (request.scope[0] !== 'https://www.googleapis.com/auth/cloud-platform' || request.lifetime !== '1800s') return fail(400, 'INVALID_ARGUMENT')
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ accessToken: `ya29.impersonated-${state.iamCalls}-c.b0AXv0zTM`, expireTime: new Date(Date.now() + 1800_000).toISOString() }))
  }, { trust, host: '127.0.0.1' })
  t.teardown(() => iam.close())
  const vertex = await bearerEcho(trust, 'us-central1-aiplatform.googleapis.com')
  t.teardown(() => vertex.close())

  const dir = await mkdtemp(join(tmpdir(), 'sidekey-gcp-'))
  await writeFile(join(dir, 'token'), 'k8s-projected-token-for-gcp\n')
  const base = (extra: string) => `    type: gcp-workload-identity\n    audience: "${audience}"\n    token_file: ${join(dir, 'token')}\n    sts_endpoint: https://127.0.0.1:${sts.port}/v1/token\n${extra}`
  const sk = await startTestSidekey(
    t,
    `version: v1
credentials:
  vertex-sa:
${base(`    service_account: agent@project.iam.gserviceaccount.com\n    iam_endpoint: https://127.0.0.1:${iam.port}\n    lifetime_s: 1800\n`)}
  vertex-federated:
${base('')}
  wrong-sa:
${base(`    service_account: someone-else@project.iam.gserviceaccount.com\n    iam_endpoint: https://127.0.0.1:${iam.port}\n    lifetime_s: 1800\n`)}
  wrong-audience:
    type: gcp-workload-identity
    audience: //iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/other/providers/x
    token_file: ${join(dir, 'token')}
    sts_endpoint: https://127.0.0.1:${sts.port}/v1/token
routes:
  - { name: impersonated, host: us-central1-aiplatform.googleapis.com, paths: [/v1/impersonated/**], credential: vertex-sa, addresses: [127.0.0.1] }
  - { name: federated, host: us-central1-aiplatform.googleapis.com, paths: [/v1/federated/**], credential: vertex-federated, addresses: [127.0.0.1] }
  - { name: wrong-sa, host: us-central1-aiplatform.googleapis.com, paths: [/v1/wrong-sa/**], credential: wrong-sa, addresses: [127.0.0.1] }
  - { name: wrong-audience, host: us-central1-aiplatform.googleapis.com, paths: [/v1/wrong-audience/**], credential: wrong-audience, addresses: [127.0.0.1] }
`,
    { dir, upstreamCaFile: trust.caFile, connectTo: { 'us-central1-aiplatform.googleapis.com:443': { host: '127.0.0.1', port: vertex.port } } },
  )
  const vertexUrl = (p: string) => `https://us-central1-aiplatform.googleapis.com/v1/${p}/projects/p/locations/us-central1/publishers/google/models/gemini:generateContent`

  t.test('STS exchange, then service account impersonation; the impersonated token is injected', async (t) => {
    const r = await call(sk, vertexUrl('impersonated'))
    t.equal(r.status, 200, r.text)
    t.same(JSON.parse(r.text), { bearer: 'ya29.i…' })
    t.equal(vertex.seen.at(-1)!.headers.authorization?.startsWith('Bearer ya29.impersonated-'), true)
    await call(sk, vertexUrl('impersonated'))
    t.equal(state.iamCalls, 1, 'cached: one generateAccessToken for both requests')
  })

  t.test('without a service account, the federated token itself', async (t) => {
    t.equal((await call(sk, vertexUrl('federated'))).status, 200)
    t.match(vertex.seen.at(-1)!.headers.authorization, /^Bearer federated-\d+-/)
  })

  t.test('wrong audience: 502 naming invalid_grant; impersonation refused: 502 naming PERMISSION_DENIED', async (t) => {
    const aud = await call(sk, vertexUrl('wrong-audience'))
    t.equal(aud.status, 502)
    t.equal(aud.error, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE')
    t.match(aud.text, /token endpoint answered HTTP 400 \(invalid_grant\)/)
    const sa = await call(sk, vertexUrl('wrong-sa'))
    t.equal(sa.status, 502)
    t.match(sa.text, /generateAccessToken answered HTTP 403 \(PERMISSION_DENIED\)/)
  })

  t.test('STS down or malformed: a cached token is still used; a new one fails closed', async (t) => {
    state.sts = 'down'
    t.equal((await call(sk, vertexUrl('federated'))).status, 200, 'cached federated token')
    const fresh = await call(sk, vertexUrl('federated'), 'another-workload')
    t.equal(fresh.status, 502, 'a workload without a cached token is refused')
    t.match(fresh.text, /token endpoint is unreachable|did not answer/)
    state.sts = 'malformed'
    const bad = await call(sk, vertexUrl('federated'), 'third-workload')
    t.equal(bad.status, 502)
    t.match(bad.text, /not JSON/)
    state.sts = 'ok'
  })

  noSecretsLogged(t, sk)
  t.test('no Google token or projected token in any log line', async (t) => {
    const log = sk.sink.raw.join('\n')
    t.notOk(/ya29\.|federated-\d+-|k8s-projected-token/.test(log))
  })
})

t.test('Azure workload identity', async (t) => {
  const trust = await upstreamTrust()
  const state = { mode: 'ok' as Mode, calls: 0 }
  const tenant = '72f988bf-86f1-41af-91ab-2d7cd011db47'
  const entra = await startUpstream((req, res, body) => {
    state.calls++
    if (state.mode === 'down') return void req.socket.destroy()
    const form = Object.fromEntries(new URLSearchParams(body))
    const fail = (status: number, error: string, code: number, description: string): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify({ error, error_description: `AADSTS${code}: ${description}`, error_codes: [code], timestamp: new Date().toISOString(), trace_id: '0000', correlation_id: '0000' }))
    }
    if (req.url !== `/${tenant}/oauth2/v2.0/token`) return fail(400, 'invalid_request', 90002, 'Tenant not found.')
    if (form.grant_type !== 'client_credentials') return fail(400, 'unsupported_grant_type', 70003, 'grant type')
    if (form.client_id !== '8b2cbd4a-0000-4e2b-9a7e-5d1c0f6e6a11') return fail(400, 'unauthorized_client', 700016, 'Application not found in the directory.')
    if (form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return fail(400, 'invalid_request', 900144, 'client_assertion_type')
    if (form.client_assertion !== 'k8s-projected-token-for-azure') return fail(401, 'invalid_client', 700211, 'No matching federated identity record found for presented assertion issuer.')
    if (form.scope !== 'https://cognitiveservices.azure.com/.default') return fail(400, 'invalid_scope', 1002012, 'scope')
    if (state.mode === 'malformed') {
      res.writeHead(200, { 'content-type': 'text/html' })
      return void res.end('<html><body>Sign in to your account</body></html>')
    }
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
    res.end(JSON.stringify({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: `eyJ0eXAiOiJKV1Qi.azure-${state.calls}.sig` }))
  }, { trust, host: '127.0.0.1' })
  t.teardown(() => entra.close())
  const openai = await bearerEcho(trust, 'agents.openai.azure.com')
  t.teardown(() => openai.close())
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-azure-'))
  await writeFile(join(dir, 'azure-identity-token'), 'k8s-projected-token-for-azure\n')
  await writeFile(join(dir, 'other-token'), 'a-token-entra-does-not-trust\n')
  const cred = (file: string) => `    type: azure-workload-identity\n    tenant_id: ${tenant}\n    client_id: 8b2cbd4a-0000-4e2b-9a7e-5d1c0f6e6a11\n    token_file: ${join(dir, file)}\n    scopes: [https://cognitiveservices.azure.com/.default]\n    authority: https://127.0.0.1:${entra.port}\n`
  const sk = await startTestSidekey(
    t,
    `version: v1
credentials:
  azure-openai:
${cred('azure-identity-token')}
  untrusted:
${cred('other-token')}
routes:
  - { name: azure-openai, host: agents.openai.azure.com, paths: [/openai/**], credential: azure-openai, addresses: [127.0.0.1] }
  - { name: untrusted, host: agents.openai.azure.com, paths: [/untrusted/*], credential: untrusted, addresses: [127.0.0.1] }
`,
    { dir, upstreamCaFile: trust.caFile, connectTo: { 'agents.openai.azure.com:443': { host: '127.0.0.1', port: openai.port } } },
  )
  const url = 'https://agents.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21'

  t.test('client credentials with the projected token as client assertion; the token is injected', async (t) => {
    const r = await call(sk, url)
    t.equal(r.status, 200, r.text)
    t.match(openai.seen.at(-1)!.headers.authorization, /^Bearer eyJ0eXAiOiJKV1Qi\.azure-1\.sig$/)
    await call(sk, url)
    t.equal(state.calls, 1, 'cached')
  })

  t.test('an assertion Entra does not trust: 502 naming invalid_client', async (t) => {
    const r = await call(sk, 'https://agents.openai.azure.com/untrusted/x')
    t.equal(r.status, 502)
    t.match(r.text, /token endpoint answered HTTP 401 \(invalid_client\)/)
  })

  t.test('Entra down or answering a login page: cached token used, new ones fail closed', async (t) => {
    state.mode = 'down'
    t.equal((await call(sk, url)).status, 200, 'the cached token keeps working')
    t.equal((await call(sk, url, 'other')).status, 502)
    state.mode = 'malformed'
    const html = await call(sk, url, 'third')
    t.equal(html.status, 502)
    t.match(html.text, /not JSON/)
    state.mode = 'ok'
  })
  noSecretsLogged(t, sk)
})

t.test('Vault (Kubernetes and AppRole auth, KV v2, dynamic secrets)', async (t) => {
  const trust = await upstreamTrust()
  const v = { mode: 'ok' as Mode, tokens: new Map<string, number>(), logins: 0, loginsByRole: new Map<string, number>(), renewSelf: 0, leaseRenewals: 0, reads: 0, issued: 0, leaseTtl: 2, renewTtl: 2, kvValue: 'kv-secret-value-1' }
  const vault = await startUpstream((req, res, body) => {
    if (v.mode === 'down') return void req.socket.destroy()
    const send = (status: number, obj: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(obj))
    }
    const login = (ttl: number, role: string): void => {
      v.logins++
      v.loginsByRole.set(role, (v.loginsByRole.get(role) ?? 0) + 1)
      const token = `hvs.token-${v.logins}-CAESIJ`
      v.tokens.set(token, Date.now() + ttl * 1000)
      send(200, { request_id: 'r', lease_id: '', renewable: false, lease_duration: 0, data: null, auth: { client_token: token, accessor: 'a', policies: ['agent'], lease_duration: ttl, renewable: true } })
    }
    if (req.url === '/v1/auth/kubernetes/login' && req.method === 'POST') {
      const b = JSON.parse(body) as { role?: string; jwt?: string }
      if ((b.role !== 'agent' && b.role !== 'short-token') || b.jwt !== 'k8s-projected-token-for-vault') return send(403, { errors: ['permission denied'] })
      return login(b.role === 'short-token' ? 6 : 3600, b.role)
    }
    if (req.url === '/v1/auth/approle/login' && req.method === 'POST') {
      const b = JSON.parse(body) as { role_id?: string; secret_id?: string }
      if (b.role_id !== 'role-id-1' || b.secret_id !== 'secret-id-1') return send(400, { errors: ['invalid role or secret ID'] })
      return login(3600, 'approle')
    }
    const token = req.headers['x-vault-token'] as string | undefined
    const until = token === undefined ? undefined : v.tokens.get(token)
    if (until === undefined || until < Date.now()) return send(403, { errors: ['permission denied'] })
    if (req.url === '/v1/auth/token/renew-self') {
      v.renewSelf++
      v.tokens.set(token!, Date.now() + 6_000)
      return send(200, { auth: { client_token: token, lease_duration: 6, renewable: true } })
    }
    if (req.url === '/v1/secret/data/agents/openai' && req.method === 'GET') {
      v.reads++
      if (v.mode === 'malformed') return send(200, { data: { data: { other_field: 'x' } } })
      return send(200, { request_id: 'r', lease_id: '', renewable: false, lease_duration: 0, data: { data: { api_key: v.kvValue }, metadata: { version: 3 } } })
    }
    if (req.url === '/v1/database/creds/readonly' && req.method === 'GET') {
      v.reads++
      v.issued++
      return send(200, { request_id: 'r', lease_id: `database/creds/readonly/lease-${v.issued}`, renewable: true, lease_duration: v.leaseTtl, data: { username: `v-agent-${v.issued}`, password: `dynamic-password-${v.issued}-A1a` } })
    }
    if (req.url === '/v1/sys/leases/renew' && req.method === 'PUT') {
      v.leaseRenewals++
      return send(200, { lease_id: (JSON.parse(body) as { lease_id: string }).lease_id, renewable: true, lease_duration: v.renewTtl })
    }
    send(404, { errors: [] })
  }, { trust, host: '127.0.0.1' })
  t.teardown(() => vault.close())
  const api = await bearerEcho(trust, 'api.internal.test')
  t.teardown(() => api.close())
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-vault-'))
  await writeFile(join(dir, 'sa-token'), 'k8s-projected-token-for-vault\n')
  await writeFile(join(dir, 'role-id'), 'role-id-1\n')
  await writeFile(join(dir, 'secret-id'), 'secret-id-1\n')
  const address = `https://127.0.0.1:${vault.port}`
  const sk = await startTestSidekey(
    t,
    `version: v1
credentials:
  kv:
    type: vault
    address: ${address}
    auth: { method: kubernetes, role: agent, token_file: ${join(dir, 'sa-token')} }
    secret: { kv2: { mount: secret, path: agents/openai }, field: api_key }
    kv_refresh_s: 10
  approle-kv:
    type: vault
    address: ${address}
    auth: { method: approle, role_id: { file: ${join(dir, 'role-id')} }, secret_id: { file: ${join(dir, 'secret-id')} } }
    secret: { kv2: { path: agents/openai }, field: api_key }
  database:
    type: vault
    address: ${address}
    auth: { method: kubernetes, role: agent, token_file: ${join(dir, 'sa-token')} }
    secret: { path: database/creds/readonly, field: password }
    refresh_at: 0.5
  short-token:
    type: vault
    address: ${address}
    auth: { method: kubernetes, role: short-token, token_file: ${join(dir, 'sa-token')} }
    secret: { path: database/creds/readonly, field: password }
    refresh_at: 0.5
  refused-role:
    type: vault
    address: ${address}
    auth: { method: kubernetes, role: nobody, token_file: ${join(dir, 'sa-token')} }
    secret: { kv2: { path: agents/openai }, field: api_key }
routes:
  - { name: refused-role, host: api.internal.test, paths: [/refused/*], credential: refused-role, inject: { header: x-api-key, value: "{secret}" }, addresses: [127.0.0.1] }
  - { name: short-token, host: api.internal.test, paths: [/short/*], credential: short-token, inject: { header: x-db-password, value: "{secret}" }, addresses: [127.0.0.1] }
  - { name: kv, host: api.internal.test, paths: [/kv/*], credential: kv, inject: { header: x-api-key, value: "{secret}" }, addresses: [127.0.0.1] }
  - { name: approle, host: api.internal.test, paths: [/approle/*], credential: approle-kv, inject: { header: x-api-key, value: "{secret}" }, addresses: [127.0.0.1] }
  - { name: db, host: api.internal.test, paths: [/db/*], credential: database, inject: { basic: { username: agent, password: "{secret}" } }, addresses: [127.0.0.1] }
`,
    { dir, upstreamCaFile: trust.caFile, connectTo: { 'api.internal.test:443': { host: '127.0.0.1', port: api.port } } },
  )

  t.test('Kubernetes auth, KV v2 field injected by a template', async (t) => {
    t.equal((await call(sk, 'https://api.internal.test/kv/x')).status, 200)
    t.equal(api.seen.at(-1)!.headers['x-api-key'], 'kv-secret-value-1')
    t.equal(v.logins, 1)
  })

  t.test('AppRole auth', async (t) => {
    t.equal((await call(sk, 'https://api.internal.test/approle/x')).status, 200)
    t.equal(api.seen.at(-1)!.headers['x-api-key'], 'kv-secret-value-1')
    t.equal(v.logins, 2)
  })

  t.test('dynamic secret: the lease is renewed while in use, then read again when Vault stops renewing', async (t) => {
    t.equal((await call(sk, 'https://api.internal.test/db/x')).status, 200)
    const first = api.seen.at(-1)!.headers.authorization
    t.equal(first, `Basic ${Buffer.from('agent:dynamic-password-1-A1a').toString('base64')}`)
    // In use: refreshed in the background at half its 2 s lease, by renewing the lease. Requests
    // go on until one is sent after a renewal.
    await pollFor(
      async () => {
        const renewals = v.leaseRenewals
        await call(sk, 'https://api.internal.test/db/x')
        return renewals
      },
      (renewals) => renewals >= 1,
      10_000,
      400,
    )
    t.ok(v.leaseRenewals >= 1, `lease renewed (${v.leaseRenewals} times)`)
    t.equal(api.seen.at(-1)!.headers.authorization, first, 'same credentials while the lease is renewed')
    // Vault now grants renewals too short to be worth keeping (the lease's max TTL is near).
    v.renewTtl = 1
    v.leaseTtl = 60
    await pollFor(
      async () => {
        await call(sk, 'https://api.internal.test/db/x')
        return api.seen.at(-1)!.headers.authorization
      },
      (authorization) => authorization !== first,
      10_000,
      400,
    )
    t.not(api.seen.at(-1)!.headers.authorization, first, 'new credentials read before the old ones expired')
  })

  t.test('the Vault token is renewed (renew-self) at two thirds of its TTL, not logged in again', async (t) => {
    v.leaseTtl = 2
    v.renewTtl = 2
    const renewals = v.renewSelf
    // Vault calls happen as the 2 s dynamic lease is refreshed; the 6 s token is renewed on the way,
    // once 4 s have passed (polled for, with room to spare on a loaded machine).
    await pollFor(
      async () => {
        await call(sk, 'https://api.internal.test/short/x')
        return v.renewSelf
      },
      (renewed) => renewed > renewals,
      20_000,
      400,
    )
    t.ok(v.renewSelf > renewals, `renew-self called (${v.renewSelf - renewals} times)`)
    t.equal(v.loginsByRole.get('short-token'), 1, 'one login for the new credential, then renewals only')
  })

  t.test('Vault token revoked: sidekey logs in again', async (t) => {
    // Forget cached secrets (as their expiry would) first, which also stops the background refresh
    // of the short-lived credentials above; the providers still hold their (soon revoked) Vault tokens.
    sk.credentials.cache.close()
    v.tokens.clear()
    v.kvValue = 'kv-secret-value-2'
    // Counted for the role the kv credential logs in with: a refresh of the short-token credential
    // already in flight may log in again for its own role meanwhile (a CI run saw exactly that).
    const loginsBefore = v.loginsByRole.get('agent')
    t.equal((await call(sk, 'https://api.internal.test/kv/x')).status, 200)
    t.equal(api.seen.at(-1)!.headers['x-api-key'], 'kv-secret-value-2')
    t.equal(v.loginsByRole.get('agent'), loginsBefore! + 1, 'one new login after Vault said permission denied')
  })

  t.test('Vault down: the cached secret is used; once it is gone, 502 with the reason', async (t) => {
    v.mode = 'down'
    t.equal((await call(sk, 'https://api.internal.test/kv/x')).status, 200, 'cached value still served')
    sk.credentials.cache.close()
    const r = await call(sk, 'https://api.internal.test/kv/x')
    t.equal(r.status, 502)
    t.equal(r.error, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE')
    t.match(r.text, /Vault secret read is unreachable|did not answer/)
    v.mode = 'ok'
    // After a failure sidekey backs off (jittered, from 1 s) before asking Vault again.
    const status = await pollFor(async () => (await call(sk, 'https://api.internal.test/kv/x')).status, (s) => s === 200, 10_000, 100)
    t.equal(status, 200, 'and recovers when Vault is back')
  })

  t.test("a login Vault refuses: 502 with the status; Vault's own words go to the log only", async (t) => {
    const r = await call(sk, 'https://api.internal.test/refused/x')
    t.equal(r.status, 502)
    t.equal(r.error, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE')
    t.match(r.text, /Vault kubernetes login answered HTTP 403/)
    t.notMatch(r.text, /permission denied/, "the provider's free text is not repeated to the agent")
    const line = sk.sink.lines.find((l) => l.event === 'credential_unavailable' && l.credential === 'refused-role')
    t.equal(line?.provider_said, 'permission denied', 'the operator reads it in the log')
  })

  t.test('a field that is not there: 502 naming it', async (t) => {
    v.mode = 'malformed'
    sk.credentials.cache.close()
    const r = await call(sk, 'https://api.internal.test/approle/y', 'fresh')
    v.mode = 'ok'
    t.equal(r.status, 502)
    t.match(r.text, /has no string field \\"api_key\\"/)
  })

  t.test('no Vault token, role or secret id, or secret in any log line', async (t) => {
    const log = sk.sink.raw.join('\n')
    t.notOk(/hvs\.token|secret-id-1|kv-secret-value|dynamic-password|k8s-projected-token/.test(log))
  })
  noSecretsLogged(t, sk)
})
