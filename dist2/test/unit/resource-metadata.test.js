import t from 'tap';
import { downgrades, reachesInward } from '../../src/credentials/delegated/authorization-server.js';
import { challengeMetadataUrl, covers } from '../../src/credentials/delegated/resource-metadata.js';
// RFC 9728 as sidekey reads it: where a 401 challenge says the metadata is, and whether metadata
// may describe the URL sidekey asked (metadata for another resource must not be used, section 3.3);
// and where discovered metadata may send sidekey next (never from HTTPS to HTTP, never inward).
t.test('the resource_metadata of a Bearer challenge', async (t) => {
    const rows = [
        ['Bearer error="invalid_token", resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp"', 'https://mcp.test/.well-known/oauth-protected-resource/mcp'],
        ['Bearer resource_metadata=https://mcp.test/.well-known/oauth-protected-resource, scope="read"', 'https://mcp.test/.well-known/oauth-protected-resource'],
        [['Basic realm="x"', 'Bearer RESOURCE_METADATA="http://127.0.0.1:8080/prm"'], 'http://127.0.0.1:8080/prm'],
        ['Bearer error="invalid_token"', null],
        ['Bearer resource_metadata="/relative/path"', null],
        ['Bearer resource_metadata="javascript:alert(1)"', null],
        [undefined, null],
        // Tricky quoting: a resource_metadata= inside another parameter's quoted value, or a longer name, is not the parameter.
        ['Bearer error_description="see resource_metadata=http://evil.test/x"', null],
        ['Bearer error_description="see resource_metadata=\\"http://evil.test/x\\""', null],
        ['Bearer xresource_metadata="http://evil.test/x"', null],
        ['Bearer error_description="a \\"quoted\\", resource_metadata=\\"http://evil.test/\\"", resource_metadata="https://mcp.test/prm"', 'https://mcp.test/prm'],
        ['Bearer resource_metadata="https://mcp.test/a\\"b"', null],
        ['Bearer resource_metadata = "https://mcp.test/spaced"', 'https://mcp.test/spaced'],
    ];
    // undici gives a repeated header as an array.
    for (const [header, want] of rows)
        t.equal(challengeMetadataUrl({ 'www-authenticate': header }), want, JSON.stringify(header));
});
t.test('metadata covers the URL asked only on its origin and path', async (t) => {
    const rows = [
        ['https://mcp.test/mcp', 'https://mcp.test/mcp', true],
        ['https://mcp.test/', 'https://mcp.test/mcp', true],
        ['https://mcp.test', 'https://mcp.test/tools/mcp', true],
        ['https://mcp.test/mcp/', 'https://mcp.test/mcp', true],
        ['https://mcp.test/other', 'https://mcp.test/mcp', false],
        ['https://mcp.test/mcp', 'https://mcp.test/mcpx', false],
        ['https://mcp.test/mcp', 'https://mcp.test/mcp/sub', true],
        ['https://evil.test/mcp', 'https://mcp.test/mcp', false],
        ['http://mcp.test/mcp', 'https://mcp.test/mcp', false],
        ['https://mcp.test:8443/mcp', 'https://mcp.test/mcp', false],
        ['not a url', 'https://mcp.test/mcp', false],
    ];
    for (const [resource, asked, want] of rows)
        t.equal(covers(resource, new URL(asked)), want, `${resource} for ${asked}`);
});
t.test('where discovered metadata may send sidekey: never from HTTPS to plain HTTP, never inward', async (t) => {
    const rules = { downgrades, reachesInward };
    const rows = [
        ['downgrades', 'https://mcp.test/mcp', 'http://as.test', true],
        ['downgrades', 'https://as.test', 'http://as.test/token', true],
        ['downgrades', 'https://as.test', 'HTTP://as.test/token', true],
        ['downgrades', 'https://as.test', 'https://login.as.test/token', false],
        ['downgrades', 'HTTPS://as.test', 'http://as.test/token', true],
        ['downgrades', 'https://as.test', 'not a url', true],
        ['downgrades', 'http://127.0.0.1:8080/mcp', 'http://127.0.0.1:9090', false],
        ['downgrades', 'http://127.0.0.1:8080', 'https://as.test/token', false],
        ['reachesInward', 'https://mcp.test/mcp', 'https://169.254.169.254/latest/meta-data', true],
        ['reachesInward', 'https://mcp.test/mcp', 'https://127.0.0.1:3129/', true],
        ['reachesInward', 'https://as.test', 'https://10.0.0.5/token', true],
        ['reachesInward', 'https://as.test', 'https://[::1]/token', true],
        ['reachesInward', 'https://as.test', 'https://[::ffff:127.0.0.1]/token', true],
        ['reachesInward', 'https://as.test', 'https://localhost/token', true],
        ['reachesInward', 'https://as.test', 'https://login.as.test/token', false],
        ['reachesInward', 'https://as.test', 'https://8.8.8.8/token', false],
        ['reachesInward', 'http://127.0.0.1:8080/mcp', 'http://127.0.0.1:9090', false],
        ['reachesInward', 'http://10.0.0.4', 'http://10.0.0.5/token', false],
    ];
    for (const [rule, namer, named, want] of rows)
        t.equal(rules[rule](namer, named), want, `${rule}: ${namer} naming ${named}`);
});
//# sourceMappingURL=resource-metadata.test.js.map