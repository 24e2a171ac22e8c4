import t from 'tap';
import { basicAuth } from '../helpers/tunnels.js';
import { h2Request, h2ThroughProxy } from '../helpers/h2.js';
import { MCP_HOST, startMcpSidekey } from '../helpers/mcp-sidekey.js';
import { startStatelessMcpUpstream } from '../helpers/mcp-stateless.js';
import { SECRETS } from '../helpers/sidekey.js';
import { upstreamTrust } from '../helpers/upstream.js';
// #16 with #15: an agent that speaks HTTP/2 inside the tunnel gets the same per-tool policy as on
// HTTP/1.1 (each h2 stream runs the same stages), and a refused call is the same JSON-RPC error.
t.test('MCP over HTTP/2: decided per tool, refused in JSON-RPC terms', async (t) => {
    const trust = await upstreamTrust();
    const server = await startStatelessMcpUpstream(trust, MCP_HOST);
    t.teardown(() => server.close());
    const { sk, url } = await startMcpSidekey(t, server, trust, '      stateless: true\n      tools:\n        - name: search_issues\n');
    const session = await h2ThroughProxy(Number(new URL(sk.proxyUrl).port), `${MCP_HOST}:${server.port}`, { auth: basicAuth('agent', sk.runTokens.mint('agent').token), ca: sk.ca.certPem });
    t.teardown(() => session.close());
    const call = async (id, tool) => {
        const args = tool === 'search_issues' ? { query: 'bug' } : { repo: 'acme/site' };
        const r = await h2Request(session, { ':method': 'POST', ':authority': `${MCP_HOST}:${server.port}`, ':path': new URL(url).pathname, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': tool }, JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: args } }));
        const text = r.body.toString();
        const json = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
        return { status: r.status, body: JSON.parse(json) };
    };
    const allowed = await call(1, 'search_issues');
    // The stateless server refuses a call without its _meta envelope for its own reasons: what
    // matters here is that sidekey let it through, with the credential.
    t.equal(allowed.body.id, 1, 'an allowed tool reaches the server, which answers its id');
    t.equal(server.seen.at(-1)?.headers.authorization, `Bearer ${SECRETS.GITHUB}`, 'with the credential injected');
    const denied = await call(2, 'delete_repo');
    t.equal(denied.status, 200, 'a denied tool: HTTP 200 with a JSON-RPC error');
    t.equal(denied.body.id, 2, 'answering its id');
    t.match(denied.body.error, { code: -32003, data: { sidekey_error: 'SIDEKEY_ERR_MCP_DENIED' } });
    t.notOk(server.called.some((c) => c.name === 'delete_repo'), 'the server never ran it');
    const lines = sk.sink.audits.filter((a) => a.mcp_tool === 'delete_repo' || a.mcp_tool === 'search_issues');
    t.ok(lines.length >= 2 && lines.every((a) => a.protocol === 'h2'), 'both calls audited, as HTTP/2 streams');
});
//# sourceMappingURL=mcp-h2.test.js.map