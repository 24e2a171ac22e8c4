import { fetch as undiciFetch, ProxyAgent, request } from 'undici';
import { waitFor } from './poll.js';
import { startTestSidekey } from './sidekey.js';
/** The MCP server's host name as the agent calls it (connected to the loopback stand-in). */
export const MCP_HOST = 'mcp.github.test';
/**
 * Start sidekey with route `github-mcp` to `server` (HTTPS, intercepted; the GitHub token injected
 * as a bearer token unless `credential` is false) whose `mcp:` block is `mcp` (YAML, indented under
 * `mcp:`); `route` adds lines to the route (YAML, indented under it); `reportOnly` starts it in
 * report-only mode.
 */
export async function startMcpSidekey(t, server, trust, mcp, options = {}) {
    const port = server.port;
    const sk = await startTestSidekey(t, `
version: v1
routes:
  - name: github-mcp
    host: ${MCP_HOST}
    paths: [/mcp]
${options.credential === false ? '' : `    credential: github
    inject: { header: authorization, value: "Bearer {secret}" }
`}${options.route ?? ''}    ports: [${port}]
    addresses: [127.0.0.1]
    mcp:
${mcp}
credentials:
  github: { type: static, env: TEST_GITHUB_TOKEN }
`, { connectTo: { [`${MCP_HOST}:${port}`]: { host: '127.0.0.1', port } }, upstreamCaFile: trust.caFile, reportOnly: options.reportOnly ?? false });
    const dispatcher = new ProxyAgent({ uri: sk.proxyUrlFor('agent'), requestTls: { ca: sk.ca.certPem } });
    t.teardown(() => dispatcher.close());
    const admin = async (method, path) => {
        const res = await request(`${sk.adminUrl}${path}`, { method, headers: { authorization: `Bearer ${sk.adminToken}`, 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
        return (await res.body.json());
    };
    return {
        sk,
        dispatcher,
        url: `https://${MCP_HOST}:${port}/mcp`,
        fetch: (url, init) => undiciFetch(String(url), { ...init, dispatcher }),
        nextApproval: () => waitFor('a pending approval', async () => (await admin('GET', '/v1/approvals')).approvals.find((a) => a.status === 'pending'), 10_000, 20),
        decide: async (id, decision) => void (await admin('POST', `/v1/approvals/${id}/${decision}`)),
    };
}
//# sourceMappingURL=mcp-sidekey.js.map