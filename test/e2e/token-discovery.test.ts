import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { Agent } from 'undici'
import { SidekeyError } from '../../src/errors.js'
import { TokenEndpoint } from '../../src/credentials/token-endpoint.js'
import { startUpstream } from '../helpers/upstream.js'

// Discovering a token endpoint from an issuer's metadata (RFC 8414, then OpenID Connect
// Discovery) goes through the shared provider call, against real servers on loopback: an issuer
// that never answers fails with the provider call's timeout and code, at the first path asked.

const TIMEOUT_MS = 300
const RFC8414 = '/.well-known/oauth-authorization-server'
const OIDC = '/.well-known/openid-configuration'

function endpointFor(t: Test, issuer: string): TokenEndpoint {
  const dispatcher = new Agent()
  t.teardown(() => dispatcher.close())
  return new TokenEndpoint('crm', { issuer }, { method: 'none', clientId: null }, { dispatcher, timeoutMs: TIMEOUT_MS })
}

async function failureOf(promise: Promise<unknown>): Promise<SidekeyError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  )
  if (!('error' in outcome) || !(outcome.error instanceof SidekeyError)) throw new Error(`expected a SidekeyError, got ${JSON.stringify(outcome)}`)
  return outcome.error
}

t.test('an issuer whose metadata endpoint never answers: the provider call times out, and the next path is not tried', async (t) => {
  // Takes the request and never writes a byte back.
  const silent = await startUpstream(() => {})
  t.teardown(() => silent.close())
  const issuer = `http://127.0.0.1:${silent.port}`
  const err = await failureOf(endpointFor(t, issuer).endpoint())
  t.equal(err.code, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE')
  t.equal(err.message, `credential "crm": issuer ${issuer} did not answer within ${TIMEOUT_MS} ms`)
  t.same(silent.seen.map((s) => s.url), [RFC8414])
})

t.test('an issuer nobody listens on: unreachable, with the provider call\'s code', async (t) => {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  const err = await failureOf(endpointFor(t, `http://127.0.0.1:${port}`).endpoint())
  t.equal(err.code, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE')
  t.match(err.message, /^credential "crm": issuer http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\)$/)
})

t.test('metadata missing at the RFC 8414 path is looked for at the OpenID Connect path', async (t) => {
  const idp = await startUpstream((req, res) => {
    if (req.url !== OIDC) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ issuer: `http://127.0.0.1:${idp.port}/`, token_endpoint: `http://127.0.0.1:${idp.port}/token` }))
  })
  t.teardown(() => idp.close())
  const endpoint = endpointFor(t, `http://127.0.0.1:${idp.port}`)
  t.equal(await endpoint.endpoint(), `http://127.0.0.1:${idp.port}/token`)
  t.equal(await endpoint.endpoint(), `http://127.0.0.1:${idp.port}/token`, 'discovered once')
  t.same(idp.seen.map((s) => s.url), [RFC8414, OIDC])
})

t.test('answers that are not metadata at either path: cannot discover', async (t) => {
  const idp = await startUpstream((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end(req.url === RFC8414 ? '<html>sign in</html>' : JSON.stringify({ issuer: 'x' }))
  })
  t.teardown(() => idp.close())
  const issuer = `http://127.0.0.1:${idp.port}`
  const err = await failureOf(endpointFor(t, issuer).endpoint())
  t.equal(err.code, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE')
  t.equal(err.message, `credential "crm": cannot discover the token endpoint of ${issuer}`)
})

t.test('metadata that names another issuer is refused', async (t) => {
  const idp = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ issuer: 'https://elsewhere.test', token_endpoint: 'https://elsewhere.test/token' }))
  })
  t.teardown(() => idp.close())
  const issuer = `http://127.0.0.1:${idp.port}`
  const err = await failureOf(endpointFor(t, issuer).endpoint())
  t.equal(err.message, `credential "crm": discovery at ${issuer} names another issuer`)
})
