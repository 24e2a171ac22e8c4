import t from 'tap';
import { injectCredential, withoutNames } from '../../src/inject/inject.js';
import { compilePolicy } from '../../src/policy/load.js';
// Credential injection, table-driven: what the agent sent in a route's credential slots is
// removed, then the secret is applied as the route says (header, bearer, basic, query), replacing
// and never appending. Routes come from a compiled policy, so the strip lists are the ones
// sidekey builds at load.
const SECRET = 'sk-secret-1';
const POLICY = compilePolicy([
    {
        file: 'p.yaml',
        text: `
version: v1
credentials:
  key: { type: static, env: TEST_KEY }
  role: { type: aws-web-identity, role_arn: "arn:aws:iam::111122223333:role/a", token_file: /t }
routes:
  - { name: bearer, host: bearer.test, credential: key }
  - { name: header, host: header.test, credential: key, inject: { header: X-Api-Key, value: "{secret}" } }
  - { name: template, host: template.test, credential: key, inject: { header: x-token, value: "Token {secret}.{secret}" } }
  - { name: basic, host: basic.test, credential: key, inject: { basic: { username: user, password: "{secret}" } } }
  - { name: basic-user, host: basic-user.test, credential: key, inject: { basic: { username: "{secret}" } } }
  - { name: query, host: query.test, credential: key, inject: { query: api_key } }
  - { name: strip, host: strip.test, credential: key, strip: [X-Openai-Organization, Cookie] }
  - { name: strip-only, host: strip-only.test, strip: [Cookie] }
  - { name: plain, host: plain.test }
  - { name: sigv4, host: s3.amazonaws.com, credential: role }
`,
    },
]);
function route(name) {
    const r = POLICY.routes.find((x) => x.name === name);
    if (r === undefined)
        throw new TypeError(`no route ${name}`);
    return r;
}
/** The request as forwarded (`path` then `name: value` per header), or the error code. */
function inject(name, path, headers, secret = SECRET) {
    const out = { path, headers: [...headers] };
    try {
        injectCredential(out, route(name), secret);
    }
    catch (err) {
        return err.code ?? `untyped ${err.message}`;
    }
    const lines = [out.path];
    for (let i = 0; i < out.headers.length; i += 2)
        lines.push(`${out.headers[i]}: ${out.headers[i + 1]}`);
    return lines.join(' | ');
}
const basic = (pair) => `Basic ${Buffer.from(pair).toString('base64')}`;
t.test('the strip list each route gets at load', async (t) => {
    const table = [
        ['bearer', ['authorization']],
        ['header', ['x-api-key']],
        ['basic', ['authorization']],
        ['query', []],
        ['strip', ['x-openai-organization', 'cookie', 'authorization']],
        ['strip-only', ['cookie']],
        ['plain', []],
        ['sigv4', ['authorization', 'x-amz-date', 'x-amz-security-token']],
    ];
    for (const [name, strip] of table)
        t.same(route(name).strip, strip, name);
});
t.test('header, bearer and basic injection replace what the agent sent, never append', async (t) => {
    const table = [
        { rule: 'the default is a bearer token; the agent\'s placeholder goes, in any case and however often sent', route: 'bearer', path: '/v1/x', headers: ['Authorization', 'Bearer sk-placeholder', 'AUTHORIZATION', 'Bearer again', 'Accept', '*/*'], forwarded: `/v1/x | Accept: */* | authorization: Bearer ${SECRET}` },
        { rule: 'a named header: only that slot is emptied (its name lower-cased), the agent\'s Authorization stays', route: 'header', path: '/v1/x', headers: ['x-api-key', 'agent', 'X-API-KEY', 'agent2', 'Authorization', 'Bearer keep'], forwarded: `/v1/x | Authorization: Bearer keep | x-api-key: ${SECRET}` },
        { rule: 'a template may use the secret more than once', route: 'template', path: '/', headers: [], forwarded: `/ | x-token: Token ${SECRET}.${SECRET}` },
        { rule: 'basic: user:secret in base64 replaces the agent\'s Authorization', route: 'basic', path: '/', headers: ['Authorization', basic('agent:guess'), 'X-Other', '1'], forwarded: `/ | X-Other: 1 | authorization: ${basic(`user:${SECRET}`)}` },
        { rule: 'basic with only a username template: the password is the secret too', route: 'basic-user', path: '/', headers: [], forwarded: `/ | authorization: ${basic(`${SECRET}:${SECRET}`)}` },
        { rule: 'an empty secret is injected as it is', route: 'header', path: '/', headers: ['X-Api-Key', 'agent'], secret: '', forwarded: '/ | x-api-key: ' },
    ];
    for (const c of table)
        t.equal(inject(c.route, c.path, c.headers, c.secret), c.forwarded, c.rule);
});
t.test('query injection: the parameter is set once, the agent\'s own copies removed', async (t) => {
    // The query is rebuilt with URLSearchParams, so the agent's other parameters come out in
    // application/x-www-form-urlencoded form: %20 becomes +, a name without "=" gains one.
    const table = [
        ['no query: one is added', '/v1/x', `/v1/x?api_key=${SECRET}`],
        ['an empty query', '/v1/x?', `/v1/x?api_key=${SECRET}`],
        ['every copy the agent sent is removed, the rest keep their order', '/x?a=1&api_key=agent&b=2&api_key=again', `/x?a=1&b=2&api_key=${SECRET}`],
        ['other parameters are re-encoded', '/x?q=a%20b+c&flag&t=~', `/x?q=a+b+c&flag=&t=%7E&api_key=${SECRET}`],
        ['the secret is form-encoded', '/x', '/x?api_key=a+b%26c%3Dd%2F%C3%A9', 'a b&c=d/é'],
    ];
    for (const [rule, path, forwarded, secret] of table)
        t.equal(inject('query', path, ['Accept', '*/*'], secret), `${forwarded} | Accept: */*`, rule);
});
t.test('strip lists apply with or without a credential; nothing else is touched', async (t) => {
    const sent = ['Cookie', 'c=1', 'X-OpenAI-Organization', 'org', 'Authorization', 'Bearer agent', 'Accept', 'a'];
    t.equal(inject('strip', '/x', sent), `/x | Accept: a | authorization: Bearer ${SECRET}`, 'named headers and the credential slot, in any case');
    t.equal(inject('strip-only', '/x', sent), '/x | X-OpenAI-Organization: org | Authorization: Bearer agent | Accept: a', 'a route without a credential still strips');
    t.equal(inject('plain', '/x', sent), '/x | Cookie: c=1 | X-OpenAI-Organization: org | Authorization: Bearer agent | Accept: a', 'a route with no strip list forwards every header');
    t.equal(inject('sigv4', '/x', ['Authorization', 'AWS4-HMAC-SHA256 placeholder', 'X-Amz-Date', '20260101T000000Z', 'X-Amz-Content-Sha256', 'UNSIGNED-PAYLOAD']), '/x | X-Amz-Content-Sha256: UNSIGNED-PAYLOAD', 'sigv4: the SDK\'s signature goes; signing adds the real one later');
});
t.test('a secret that cannot be a header value fails closed instead of being sent mangled', async (t) => {
    const table = [
        ['CR, LF, NUL or a character beyond latin1 is refused', [['sk-bad\r\nX-Evil: 1', 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE'], ['sk-nul\0', 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE'], ['sk-€', 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE']]],
        ['tab and obs-text are field-value bytes (RFC 9110 section 5.5)', [['sk-é', '/ | authorization: Bearer sk-é'], ['sk-tab\there', '/ | authorization: Bearer sk-tab\there']]],
    ];
    for (const [rule, cases] of table)
        for (const [secret, forwarded] of cases)
            t.equal(inject('bearer', '/', [], secret), forwarded, `${rule}: ${JSON.stringify(secret)}`);
    // Basic carries the secret in base64, which any bytes survive.
    t.equal(inject('basic', '/', [], 'sk-bad\r\n€'), `/ | authorization: ${basic('user:sk-bad\r\n€')}`);
    t.equal(inject('query', '/', [], 'sk-bad\r\n'), '/?api_key=sk-bad%0D%0A');
});
t.test('withoutNames: a copy without the named headers', async (t) => {
    const headers = ['A', '1', 'b', '2', 'a', '3'];
    t.same(withoutNames(headers, ['a']), ['b', '2']);
    t.same(withoutNames(headers, ['A']), ['b', '2'], 'names to drop in any case');
    t.same(withoutNames(['X_Api_Key', '1', 'x-api_key', '2', 'X-Api-Key', '3', 'X-Other', '4'], ['x-api-key']), ['X-Other', '4'], 'and with _ for -, as CGI-style servers read names');
    const copy = withoutNames(headers, []);
    t.same(copy, headers);
    t.not(copy, headers, 'always a new array');
});
//# sourceMappingURL=inject.test.js.map