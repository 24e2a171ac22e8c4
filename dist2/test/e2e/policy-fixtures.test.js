import { join } from 'node:path';
import t from 'tap';
import { PolicyInvalidError } from '../../src/errors.js';
import { applyReportOnly, decideConnect, decideRequest } from '../../src/policy/decide.js';
import { loadPolicyPath } from '../../src/policy/load.js';
// Table-driven policy tests over YAML fixtures (test/fixtures/policies): broken files are refused
// with file, line and message; decisions on a valid set carry the expected fixed reasons.
const FIXTURES = join(process.cwd(), 'test/fixtures/policies');
const broken = [
    ['yaml-syntax.yaml', 5, '', /^YAML syntax: Flow sequence .* end with a \]$/],
    ['no-version.yaml', 1, 'version', /version is required/],
    ['version-v2.yaml', 1, 'version', /unsupported version "v2"/],
    ['typo.yaml', 4, 'routes[0].hots', /unknown property/],
    ['bad-host.yaml', 4, 'routes[0].host', /not a host name/],
    ['unknown-credential.yaml', 5, 'routes[0].credential', /no credential named "nope"/],
    ['env-and-file.yaml', 4, 'credentials.c', /exactly one of env or file/],
    ['inject-without-credential.yaml', 5, 'routes[0].inject', /inject needs a credential/],
    ['tunnel-with-paths.yaml', 5, 'routes[0].action', /cannot match methods or paths/],
    ['bad-cidr.yaml', 5, 'routes[0].addresses[0]', /not an IP address or CIDR/],
    ['template-without-secret.yaml', 8, 'routes[0].inject.value', /must contain \{secret\}/],
    ['port-out-of-range.yaml', 5, 'routes[0].ports', /list of port numbers/],
    ['upgrades-h2c.yaml', 5, 'routes[0].upgrades[1]', /must be one of websocket/],
    ['upgrades-on-tunnel.yaml', 6, 'routes[0].upgrades', /upgrades applies to action allow only/],
    ['approval-retry-without-async.yaml', 6, 'routes[0].approval.retry_after_s', /goes with mode: async/],
    ['delegated-token-endpoint-alone.yaml', 4, 'credentials.person.authorization_endpoint', /give authorization_endpoint too/],
    ['delegated-registration-with-secret.yaml', 4, 'credentials.person.client_id', /registers itself dynamically/],
    ['delegated-resource-secret-unpinned.yaml', 4, 'credentials.person.issuer', /give the issuer it is registered at/],
];
for (const [file, line, path, message] of broken) {
    t.test(`broken: ${file}`, async (t) => {
        const err = await loadPolicyPath(join(FIXTURES, 'broken', file)).then(() => null, (e) => e);
        t.type(err, PolicyInvalidError);
        const problems = err.problems;
        t.ok(problems.some((p) => p.file.endsWith(file) && p.line === line && p.path === path && message.test(p.message)), `want ${file}:${line} ${path} ${message}; got ${JSON.stringify(problems)}`);
    });
}
t.test('a duplicate route name across two files names the second file and line', async (t) => {
    const err = (await loadPolicyPath(join(FIXTURES, 'broken-pair')).catch((e) => e));
    t.match(err.problems, [{ file: /b\.yaml$/, line: 5, path: 'routes[1].name', message: /used twice/ }]);
});
t.test('a directory with one broken file loads nothing (all files are reported together)', async (t) => {
    const err = (await loadPolicyPath(join(FIXTURES, 'broken')).catch((e) => e));
    t.type(err, PolicyInvalidError);
    t.ok(new Set(err.problems.map((p) => p.file)).size >= broken.length, 'every broken file is reported in one pass');
});
t.test('upgrades: refused by default on a route with a credential, WebSocket allowed on one without', async (t) => {
    const policy = await loadPolicyPath(join(FIXTURES, 'valid'));
    t.same(policy.routes.find((r) => r.name === 'openai').upgrades, []);
    t.same(policy.routes.find((r) => r.name === 'internal-read').upgrades, ['websocket']);
});
t.test('decisions over the valid set', async (t) => {
    const policy = await loadPolicyPath(join(FIXTURES, 'valid'));
    t.equal(policy.routes.length, 4);
    const req = (over) => ({ workload: 'researcher', host: 'api.openai.com', port: 443, method: 'POST', path: '/v1/chat/completions', ...over });
    const table = [
        ['allowed workload, path and port', {}, 'route-allows', 'openai'],
        ['other allowed workload', { workload: 'writer' }, 'route-allows', 'openai'],
        ['workload not on the route', { workload: 'intruder' }, 'workload-not-allowed', null],
        ['anonymous caller', { workload: null }, 'anonymous-not-allowed', null],
        ['path outside the glob', { path: '/v2/x' }, 'no-route', null],
        ['another port', { port: 8443 }, 'no-route', null],
        ['wildcard subdomain, deny by method', { host: 'a.internal.example', method: 'DELETE', path: '/api/x/items' }, 'route-denies', 'no-deletes'],
        ['wildcard, deeper subdomain, allowed read', { host: 'a.b.internal.example', method: 'GET', path: '/api/7/items/9' }, 'route-allows', 'internal-read'],
        ['* stays within one segment', { host: 'a.internal.example', method: 'GET', path: '/api/7/x/items' }, 'no-route', null],
        ['wildcard never matches the apex', { host: 'internal.example', method: 'GET', path: '/api/7/items' }, 'no-route', null],
        ['method not on the route', { host: 'a.internal.example', method: 'POST', path: '/api/7/items' }, 'no-route', null],
        ['tunnel route over plain HTTP', { host: 'pypi.org', port: 80, method: 'GET', path: '/simple/' }, 'route-tunnels', 'pypi'],
        ['tunnel route admits anonymous', { host: 'pypi.org', port: 443, workload: null }, 'route-tunnels', 'pypi'],
    ];
    for (const [name, over, reason, route] of table) {
        const d = decideRequest(policy, req(over));
        t.equal(d.reason, reason, name);
        t.equal(d.route?.name ?? null, route, `${name}: route`);
    }
    t.match(decideConnect(policy, { workload: 'researcher', host: 'api.openai.com', port: 443 }), { action: 'intercept', reason: 'intercept-for-inspection' });
    t.match(decideConnect(policy, { workload: 'x', host: 'pypi.org', port: 443 }), { action: 'tunnel', reason: 'route-tunnels' });
    t.match(decideConnect(policy, { workload: 'x', host: 'a.internal.example', port: 443 }), { action: 'intercept' }, 'a method-limited deny is decided per request');
    t.match(decideConnect(policy, { workload: 'x', host: 'evil.example', port: 443 }), { action: 'deny', reason: 'no-route', code: 'SIDEKEY_ERR_NO_ROUTE' });
    t.match(applyReportOnly(decideRequest(policy, req({ path: '/v2/x' }))), { action: 'allow', reason: 'no-route', reportOnly: true, route: null });
    t.match(applyReportOnly(decideRequest(policy, req({ host: 'a.internal.example', method: 'DELETE', path: '/api/x/items' }))), { action: 'allow', reason: 'route-denies', reportOnly: true, route: { name: 'no-deletes' } });
    t.match(applyReportOnly(decideRequest(policy, req({ workload: null }))), { action: 'deny', reason: 'anonymous-not-allowed' }, 'authentication stays enforced');
});
//# sourceMappingURL=policy-fixtures.test.js.map