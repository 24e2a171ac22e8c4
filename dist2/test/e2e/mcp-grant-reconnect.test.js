import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { startStatelessMcpUpstream } from '../helpers/mcp-stateless.js';
import { startTestSidekey } from '../helpers/sidekey.js';
import { upstreamTrust } from '../helpers/upstream.js';
// #16 with #17: an MCP route whose credential is a person's delegated grant that nobody connected
// (or that was revoked, or refused at refresh) fails closed, and the agent's MCP client hears it as
// a JSON-RPC error naming SIDEKEY_ERR_GRANT_RECONNECT, not as a transport failure; the MCP server
// is never called.
const HOST = 'mcp.accounts.test';
t.test('a delegated grant that is not connected: a JSON-RPC error saying a person must reconnect', async (t) => {
    const trust = await upstreamTrust();
    const server = await startStatelessMcpUpstream(trust, HOST);
    t.teardown(() => server.close());
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  accounts:
    type: oauth2-authorization-code
    authorization_endpoint: https://as.accounts.test/authorize
    token_endpoint: https://as.accounts.test/token
    client_id: sidekey
    client_secret: { env: TEST_GITHUB_TOKEN }
    scopes: [issues]
routes:
  - name: accounts-mcp
    host: ${HOST}
    ports: [${server.port}]
    addresses: [127.0.0.1]
    paths: [/mcp]
    credential: accounts
    inject: { header: authorization, value: "Bearer {secret}" }
    mcp:
      stateless: true
      tools:
        - name: search_issues
`, { connectTo: { [`${HOST}:${server.port}`]: { host: '127.0.0.1', port: server.port } }, upstreamCaFile: trust.caFile });
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), requestTls: { ca: sk.ca.certPem } });
    t.teardown(() => dispatcher.close());
    // Written by hand: the SDK's client would first ask server/discover, which is refused the same way
    // and which the SDK reports only as a failed version negotiation.
    const res = await request(`https://${HOST}:${server.port}/mcp`, {
        dispatcher,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'search_issues' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'search_issues', arguments: { query: 'x' } } }),
    });
    const answer = (await res.body.json());
    t.equal(res.statusCode, 200, 'HTTP 200: a JSON-RPC error, which the MCP client hands to the model as a tool error');
    t.equal(answer.id, 7, 'answering the request\'s id');
    t.match(answer.error, { code: -32003, data: { sidekey_error: 'SIDEKEY_ERR_GRANT_RECONNECT' } }, 'naming the code an operator acts on');
    t.match(answer.error?.message, /connect/i, 'whose message says a person must connect the account');
    t.equal(server.called.length, 0, 'the MCP server was never called');
    const audit = sk.sink.audits.find((a) => a.error === 'SIDEKEY_ERR_GRANT_RECONNECT');
    t.ok(audit, 'the refusal is audited');
});
//# sourceMappingURL=mcp-grant-reconnect.test.js.map