import t from 'tap';
import { PolicyInvalidError } from '../../src/errors.js';
import { compilePolicy } from '../../src/policy/load.js';
// Policy validation for the just-in-time credential types: each broken definition is refused
// with the file, the line and a message naming what is wrong.
const policy = (credentials) => `version: v1
credentials:
${credentials}
routes:
  - name: r
    host: api.test
    credential: c
`;
function problems(text) {
    try {
        compilePolicy([{ file: 'p.yaml', text }]);
    }
    catch (e) {
        if (e instanceof PolicyInvalidError)
            return e.problems.map(({ line, path, message }) => ({ line, path, message }));
        throw e;
    }
    return [];
}
const cases = [
    ['client credentials without client_id', '  c:\n    type: oauth2-client-credentials\n    token_endpoint: https://idp.test/token\n', { line: 4, path: /credentials\.c/, message: /client_id is required/ }],
    ['both issuer and token_endpoint', '  c:\n    type: oauth2-client-credentials\n    issuer: https://idp.test\n    token_endpoint: https://idp.test/token\n    client_id: x\n    client_secret: { env: S }\n', { line: 4, path: /credentials\.c/, message: /exactly one of issuer/ }],
    ['basic auth without a secret', '  c:\n    type: oauth2-client-credentials\n    token_endpoint: https://idp.test/token\n    client_id: x\n', { line: 4, path: /credentials\.c/, message: /client_secret_basic needs client_secret/ }],
    ['private_key_jwt with a secret', '  c:\n    type: oauth2-client-credentials\n    token_endpoint: https://idp.test/token\n    client_id: x\n    client_auth: private_key_jwt\n    private_key: { file: k.pem }\n    client_secret: { env: S }\n', { line: 9, path: /client_secret/, message: /takes no client_secret/ }],
    ['a field another type takes', '  c:\n    type: jwt\n    audience: https://a.test\n    env: X\n', { line: 6, path: /credentials\.c\.env/, message: /jwt credentials do not take env/ }],
    ['token exchange whose subject is not a jwt credential', '  s:\n    type: static\n    env: S\n  c:\n    type: oauth2-token-exchange\n    token_endpoint: https://idp.test/token\n    subject_token: { credential: s }\n', { line: 9, path: /subject_token/, message: /not a jwt credential/ }],
    ['a subject with two sources', '  c:\n    type: oauth2-token-exchange\n    token_endpoint: https://idp.test/token\n    subject_token: { file: /t, env: T }\n', { line: 6, path: /subject_token/, message: /exactly one of file, env or credential/ }],
    ['refresh_at out of range', '  c:\n    type: jwt\n    audience: https://a.test\n    refresh_at: 1.5\n', { line: 6, path: /refresh_at/, message: /must be < 1/ }],
    ['token endpoint that is not a URL', '  c:\n    type: oauth2-client-credentials\n    token_endpoint: idp.test/token\n    client_id: x\n    client_secret: { env: S }\n', { line: 5, path: /token_endpoint/, message: /not an http\(s\) URL/ }],
    ['unknown type', '  c:\n    type: kerberos\n', { line: 4, path: /credentials\.c\.type/, message: /must be one of/ }],
];
for (const [name, credentials, expected] of cases) {
    t.test(name, async (t) => {
        const found = problems(policy(credentials));
        t.ok(found.length > 0, 'refused');
        t.notOk(found.some((p) => /no credential named/.test(p.message)), 'a broken credential is reported once, not again at each route using it');
        t.ok(found.some((p) => p.line === expected.line && expected.path.test(p.path) && expected.message.test(p.message)), `expected line ${expected.line} ${expected.path} ${expected.message}; got ${JSON.stringify(found)}`);
    });
}
t.test('valid definitions of every type compile, and secret variables are listed for sidekey run', async (t) => {
    const compiled = compilePolicy([
        {
            file: 'p.yaml',
            text: `version: v1
credentials:
  minted: { type: jwt, audience: https://idp.test }
  cc: { type: oauth2-client-credentials, issuer: https://idp.test, client_id: x, client_secret: { env: CC_SECRET }, scopes: [a, b] }
  tx: { type: oauth2-token-exchange, token_endpoint: https://idp.test/token, subject_token: { credential: minted }, audience: https://api.test }
  st: { type: static, env: STATIC_KEY }
routes:
  - { name: a, host: a.test, credential: cc }
  - { name: b, host: b.test, credential: tx }
  - { name: c, host: c.test, credential: minted }
`,
        },
    ]);
    t.same([...compiled.credentials.keys()].sort(), ['cc', 'minted', 'st', 'tx']);
    t.same([...compiled.secretEnvNames].sort(), ['CC_SECRET', 'STATIC_KEY']);
    t.equal(compiled.routes[1].credential.type, 'oauth2-token-exchange');
});
//# sourceMappingURL=credential-policy.test.js.map