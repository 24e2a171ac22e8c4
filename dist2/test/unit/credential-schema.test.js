import t from 'tap';
import { PolicyInvalidError } from '../../src/errors.js';
import { compilePolicy } from '../../src/policy/load.js';
const ARN = 'arn:aws:iam::123456789012:role/agent';
/** `builds`: the provider type the valid definition builds, where it is not the definition's own. */
const table = [
    {
        type: 'static',
        valid: { type: 'static', env: 'API_KEY' },
        broken: [
            { def: { type: 'static', env: 'API_KEY', audience: 'https://a.test' }, path: 'credentials.c.audience', message: /^static credentials do not take audience$/ },
            { def: { type: 'static', env: '1-KEY' }, path: 'credentials.c.env', message: /must match pattern/ },
        ],
    },
    {
        type: 'oauth2-client-credentials',
        valid: { type: 'oauth2-client-credentials', token_endpoint: 'https://idp.test/token', client_id: 'agent', client_secret: { env: 'CLIENT_SECRET' } },
        broken: [
            { def: { type: 'oauth2-client-credentials', token_endpoint: 'https://idp.test/token', client_id: 'agent', client_secret: { env: 'S' }, subject_token: { file: '/t' } }, path: 'credentials.c.subject_token', message: /^oauth2-client-credentials credentials do not take subject_token$/ },
            { def: { type: 'oauth2-client-credentials', token_endpoint: 'https://idp.test/token', client_secret: { env: 'S' } }, path: 'credentials.c', message: /^client_id is required for oauth2-client-credentials$/ },
        ],
    },
    {
        type: 'oauth2-token-exchange',
        valid: { type: 'oauth2-token-exchange', issuer: 'https://idp.test', subject_token: { file: '/var/run/token' }, audience: 'https://api.test' },
        broken: [
            { def: { type: 'oauth2-token-exchange', issuer: 'https://idp.test', subject_token: { file: '/t' }, role_arn: ARN }, path: 'credentials.c.role_arn', message: /^oauth2-token-exchange credentials do not take role_arn$/ },
            { def: { type: 'oauth2-token-exchange', issuer: 'https://idp.test', audience: 'https://api.test' }, path: 'credentials.c', message: /^subject_token is required for oauth2-token-exchange$/ },
        ],
    },
    {
        type: 'jwt',
        valid: { type: 'jwt', audience: 'https://api.test', lifetime_s: 120 },
        broken: [
            { def: { type: 'jwt', audience: 'https://api.test', token_endpoint: 'https://idp.test/token' }, path: 'credentials.c.token_endpoint', message: /^jwt credentials do not take token_endpoint$/ },
            { def: { type: 'jwt', audience: 'https://api.test', lifetime_s: 5 }, path: 'credentials.c.lifetime_s', message: /must be >= 30/ },
        ],
    },
    {
        type: 'aws-web-identity',
        valid: { type: 'aws-web-identity', role_arn: ARN, token_file: '/var/run/token', sts_region: 'eu-west-1' },
        broken: [
            { def: { type: 'aws-web-identity', role_arn: ARN, token_file: '/t', scopes: ['s3'] }, path: 'credentials.c.scopes', message: /^aws-web-identity credentials do not take scopes$/ },
            { def: { type: 'aws-web-identity', role_arn: 'arn:aws:iam::agent', token_file: '/t' }, path: 'credentials.c.role_arn', message: /must match pattern/ },
        ],
    },
    {
        type: 'gcp-workload-identity',
        valid: { type: 'gcp-workload-identity', audience: '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/k', token_file: '/var/run/token', service_account: 'agent@project.iam.gserviceaccount.com' },
        broken: [
            { def: { type: 'gcp-workload-identity', audience: '//iam.googleapis.com/x', token_file: '/t', client_id: 'agent' }, path: 'credentials.c.client_id', message: /^gcp-workload-identity credentials do not take client_id$/ },
            { def: { type: 'gcp-workload-identity', audience: '//iam.googleapis.com/x' }, path: 'credentials.c', message: /^token_file is required for gcp-workload-identity$/ },
        ],
    },
    {
        type: 'azure-workload-identity',
        valid: { type: 'azure-workload-identity', tenant_id: 'contoso.onmicrosoft.com', client_id: 'agent', token_file: '/var/run/token', scopes: ['https://graph.microsoft.com/.default'] },
        // Entra federation is a client credentials grant with the projected token as its assertion.
        builds: 'oauth2-client-credentials',
        broken: [
            { def: { type: 'azure-workload-identity', tenant_id: 't', client_id: 'agent', token_file: '/t', scopes: ['x'], issuer: 'https://idp.test' }, path: 'credentials.c.issuer', message: /^azure-workload-identity credentials do not take issuer$/ },
            { def: { type: 'azure-workload-identity', tenant_id: 't', client_id: 'agent', token_file: '/t' }, path: 'credentials.c', message: /^scopes is required for azure-workload-identity$/ },
        ],
    },
    {
        type: 'vault',
        valid: { type: 'vault', address: 'https://vault.test', auth: { method: 'kubernetes', role: 'agent' }, secret: { kv2: { path: 'agents/openai' }, field: 'api_key' } },
        broken: [
            { def: { type: 'vault', address: 'https://vault.test', auth: { method: 'kubernetes', role: 'agent' }, secret: { path: 'db/creds/ro', field: 'password' }, token_file: '/t' }, path: 'credentials.c.token_file', message: /^vault credentials do not take token_file$/ },
            { def: { type: 'vault', address: 'https://vault.test', auth: { method: 'kubernetes', role: 'agent' }, secret: { path: 'db/creds/ro', field: 'password' }, kv_refresh_s: 1 }, path: 'credentials.c.kv_refresh_s', message: /must be >= 10/ },
        ],
    },
];
/** A policy file with one credential `c` (JSON is YAML). */
function policyWith(def) {
    return `version: v1\ncredentials:\n  c: ${JSON.stringify(def)}\n`;
}
function problemsOf(def) {
    try {
        compilePolicy([{ file: 'p.yaml', text: policyWith(def) }]);
        return [];
    }
    catch (e) {
        if (e instanceof PolicyInvalidError)
            return e.problems;
        throw e;
    }
}
t.test('every credential type has a row', async (t) => {
    const types = table.map((row) => row.type);
    t.same(new Set(types).size, types.length, 'one row per type');
    for (const row of table)
        t.equal(row.valid.type, row.type, `${row.type}: the valid definition is of its row's type`);
});
for (const { type, valid, builds, broken } of table) {
    t.test(type, async (t) => {
        const policy = compilePolicy([{ file: 'p.yaml', text: policyWith(valid) }]);
        t.equal(policy.credentials.get('c')?.type, builds ?? type, 'the valid definition builds its type\'s provider');
        for (const { def, path, message } of broken) {
            const problems = problemsOf(def);
            t.equal(problems.length, 1, `${JSON.stringify(def)}: one problem, got ${JSON.stringify(problems)}`);
            t.match(problems[0], { file: 'p.yaml', line: 3, path, message }, `${path} ${message}`);
        }
    });
}
t.test('a field no credential type takes is reported as unknown, not as another type\'s', async (t) => {
    t.match(problemsOf({ type: 'jwt', audience: 'https://api.test', audiance: 'x' }), [{ path: 'credentials.c.audiance', message: /^unknown property/ }]);
});
t.test('an issuer is an http(s) URL without query or fragment (RFC 8414 section 2), with or without a path', async (t) => {
    for (const issuer of ['https://idp.test/tenant?x=1', 'https://idp.test/#f', 'https://[idp.test']) {
        t.match(problemsOf({ type: 'oauth2-token-exchange', issuer, subject_token: { file: '/t' } }), [{ path: 'credentials.c.issuer', message: /is not an http\(s\) URL without query or fragment$/ }], `token exchange: ${issuer}`);
        t.match(problemsOf({ type: 'oauth2-authorization-code', issuer }), [{ path: 'credentials.c.issuer', message: /is not an http\(s\) URL without query or fragment$/ }], `authorization code: ${issuer}`);
    }
    t.same(problemsOf({ type: 'oauth2-token-exchange', issuer: 'https://idp.test/realms/agents', subject_token: { file: '/t' } }), [], 'an issuer with a path');
    t.same(problemsOf({ type: 'oauth2-authorization-code', issuer: 'https://idp.test/realms/agents' }), [], 'an authorization code issuer with a path');
});
//# sourceMappingURL=credential-schema.test.js.map