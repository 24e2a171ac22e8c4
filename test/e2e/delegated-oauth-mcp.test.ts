import type { AddressInfo } from 'node:net'
import t from 'tap'
import express from 'express'
import { fetch as undiciFetch, ProxyAgent } from 'undici'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js'
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js'
import { getOAuthProtectedResourceMetadataUrl, mcpAuthMetadataRouter } from '@modelcontextprotocol/sdk/server/auth/router.js'
import { DELEGATED_CLIENT, launchChromium, signInAndConsent, startDelegatedAs } from '../helpers/oidc-delegated.js'
import { startTestSidekey } from '../helpers/sidekey.js'
import { requireTools } from '../helpers/tools.js'

// A remote MCP server from @modelcontextprotocol/sdk, protected by the authorization server the way
// the MCP authorization spec has it: 401 with a WWW-Authenticate challenge naming its protected
// resource metadata (RFC 9728), which names the authorization server (RFC 8414 / OpenID discovery).
// sidekey's delegated credential names only the MCP server's URL: it discovers the rest, registers
// itself as a client (RFC 7591), sends the server's URL as the RFC 8707 resource indicator, and
// holds the grant. The agent's MCP SDK client is configured with no credentials at all.

const ACCOUNT = 'pat@example.test'

requireTools('chromium')

t.test('an MCP server behind OAuth, reached through sidekey with no credentials in the agent', async (t) => {
  const as = await startDelegatedAs({ accessTokenTTL: 60, registration: true })
  t.teardown(() => as.close())
  const app = express()
  const http = app.listen(0, '127.0.0.1')
  await new Promise<void>((r) => http.once('listening', () => r()))
  t.teardown(() => new Promise<void>((r) => http.close(() => r())))
  const mcpUrl = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`)
  const sk = await startTestSidekey(
    t,
    `
version: v1
credentials:
  accounts-mcp:
    type: oauth2-authorization-code
    protected_resource: ${mcpUrl.href}
    scopes: [openid, offline_access, api.read]
    params: { prompt: consent }
routes:
  - name: accounts-mcp
    host: 127.0.0.1
    ports: [${mcpUrl.port}]
    addresses: [127.0.0.1]
    credential: accounts-mcp
    inject: { header: authorization, value: "Bearer {secret}" }
    mcp:
      tools:
        - name: whoami
`,
  )
  as.register(`${sk.adminUrl}/oauth/callback`)
  // The MCP server's side, once the authorization server answers.
  const oauthMetadata = (await (await fetch(`${as.issuer}/.well-known/openid-configuration`)).json()) as Parameters<typeof mcpAuthMetadataRouter>[0]['oauthMetadata']
  app.use(mcpAuthMetadataRouter({ oauthMetadata, resourceServerUrl: mcpUrl, scopesSupported: ['api.read'], resourceName: 'test MCP server' }))
  // `refuseOnce`: the server answers 401 to the next token, as if the provider had revoked it early.
  let refuseOnce = false
  const bearer = requireBearerAuth({
    resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(mcpUrl),
    verifier: {
      async verifyAccessToken(token) {
        if (refuseOnce) {
          refuseOnce = false
          throw new InvalidTokenError('revoked early')
        }
        const claims = await as.verify(token, mcpUrl.href)
        return { token, clientId: String(claims.client_id), scopes: String(claims.scope ?? '').split(' '), expiresAt: Number(claims.exp), resource: mcpUrl, extra: { sub: claims.sub } }
      },
    },
  })
  app.all('/mcp', bearer, express.json(), async (req, res) => {
    const server = new McpServer({ name: 'accounts', version: '1.0.0' })
    server.registerTool('whoami', { description: 'the account this token acts for' }, (extra) => ({ content: [{ type: 'text', text: String(extra.authInfo?.extra?.sub) }] }))
    server.registerTool('admin_wipe', { description: 'no rule allows it' }, () => ({ content: [{ type: 'text', text: 'wiped' }] }))
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined })
    res.on('close', () => void transport.close())
    await server.connect(transport)
    await transport.handleRequest(req, res, req.body)
  })


  t.test('a person connects it in the console; sidekey discovered the server from the MCP server', async (t) => {
    const browser = await launchChromium()
    t.teardown(() => browser.close())
    const page = await browser.newPage()
    await page.goto(`${sk.adminUrl}/console#token=${encodeURIComponent(sk.adminToken)}`)
    await page.fill('#name', 'Pat Person')
    await page.click('#login button')
    await page.locator('#grants tr[data-grant="accounts-mcp"] button[data-action=connect]').click()
    const authorization = page.waitForRequest((r) => new URL(r.url()).searchParams.has('code_challenge'))
    await page.click('#connect-continue')
    const asked = new URL((await authorization).url())
    t.equal(asked.origin, as.issuer, 'the authorization server named by the resource metadata')
    t.equal(asked.searchParams.get('resource'), mcpUrl.href, 'the MCP server is the RFC 8707 resource indicator')
    t.equal(asked.searchParams.get('code_challenge_method'), 'S256')
    t.equal(asked.searchParams.get('response_type'), 'code')
    t.equal(as.events.registrations, 1, 'sidekey registered itself (RFC 7591): the credential names no client')
    t.not(asked.searchParams.get('client_id'), DELEGATED_CLIENT.id)
    t.ok(asked.searchParams.get('client_id'), 'the registered client id')
    await signInAndConsent(page, ACCOUNT)
    await page.waitForURL((u) => u.pathname === '/oauth/callback')
    t.equal(await page.locator('#result').innerText(), 'Connected accounts-mcp')
  })

  t.test("the SDK's client, configured with no credentials, calls a tool as the person", async (t) => {
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('assistant'), proxyTunnel: false })
    const transport = new StreamableHTTPClientTransport(mcpUrl, { fetch: (url, init) => undiciFetch(url, { ...(init as object), dispatcher }) as unknown as Promise<Response> })
    const client = new Client({ name: 'agent', version: '1.0.0' })
    await client.connect(transport)
    t.teardown(() => client.close())
    const tools = await client.listTools()
    t.same(tools.tools.map((x) => x.name), ['whoami'])
    const result = await client.callTool({ name: 'whoami', arguments: {} })
    t.same(result.content, [{ type: 'text', text: ACCOUNT }], 'the MCP server saw the person\'s token, for its own resource')
    t.equal(as.events.registrations, 1, 'one registration, reused for the code exchange')

    // A 401 answered by one refresh and a second send: that answer is filtered as the first would
    // have been (a review found the re-planned response dropped the MCP list filter).
    const refreshes = as.events.grants.filter((g) => g === 'refresh_token').length
    refuseOnce = true
    const again = await client.listTools()
    t.equal(as.events.grants.filter((g) => g === 'refresh_token').length, refreshes + 1, 'the 401 refreshed the grant once')
    t.same(again.tools.map((x) => x.name), ['whoami'], 'the list after the retry is filtered too')
  })

  t.test('the registered client secret and the tokens appear in no log line', async (t) => {
    const client = JSON.parse((await sk.credentials.grants.vault.readSealed('oauth-client:accounts-mcp')).text!) as { clientSecret: string }
    const { record } = await sk.credentials.grants.vault.read('accounts-mcp')
    const secrets = [client.clientSecret, record!.accessToken!, record!.refreshToken!]
    t.ok(secrets.every((x) => typeof x === 'string' && x.length > 10))
    t.same(sk.sink.leaks(secrets), [])
  })
})
