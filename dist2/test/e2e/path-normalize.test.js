import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import { filterStream } from '../../src/http/chunk-filter.js';
import { bodyOverrideFilter, methodOverride, refuseBodyOverride } from '../../src/accept/method-override.js';
import { absoluteTarget, requestTarget } from '../../src/accept/target.js';
import { SidekeyError } from '../../src/errors.js';
import { decideRequest, explainRequest } from '../../src/policy/decide.js';
import { compilePolicy } from '../../src/policy/load.js';
import { PathMatcher } from '../../src/policy/match.js';
import { normalizeGlob, normalizePath } from '../../src/policy/path.js';
import { PolicyInvalidError } from '../../src/errors.js';
// Unit tests, table-driven: the path normaliser (RFC 3986 section 6.2.2 and the forms it refuses),
// path globs, the decision on ambiguous paths and method overrides, and the override detectors.
t.test('normalizePath: normal form and ambiguity, form by form', async (t) => {
    // [raw target, normalised path with query, ambiguous form or null]
    const table = [
        ['/v1/models', '/v1/models', null],
        ['/v1/%61dmin/x', '/v1/admin/x', null],
        ['/v1/%41DMIN', '/v1/ADMIN', null],
        ['/%7euser/%2D%5F', '/~user/-_', null],
        ['/a%3a%40b', '/a%3A%40b', null],
        ['/caf%c3%a9', '/caf%C3%A9', null],
        ['/café', '/caf%C3%A9', null],
        ['/a b"<>^`{|}[]', '/a%20b%22%3C%3E%5E%60%7B%7C%7D%5B%5D', null],
        ['/a/./b/../c', '/a/c', null],
        ['/a/b/..', '/a/', null],
        ['/a/.', '/a/', null],
        ['/../../etc', '/etc', null],
        ['/v1//admin///x', '/v1/admin/x', null],
        ['//v1/x', '/v1/x', null],
        ['/a//../b', '/b', null],
        ['/a/', '/a/', null],
        ['/', '/', null],
        ['/a?x=1&y=%2F#frag', '/a?x=1&y=%2F', null],
        ['/a#frag', '/a', null],
        ['/a?q=a b<c>', '/a?q=a%20b%3Cc%3E', null],
        ['/a?_=/../x', '/a?_=/../x', null],
        // Forms with no single meaning: kept (encoded), reported.
        ['/v1/admin%2Fx', '/v1/admin%2Fx', '%2F'],
        ['/v1/admin%2fx', '/v1/admin%2Fx', '%2F'],
        ['/v1/admin%5cx', '/v1/admin%5Cx', '%5C'],
        ['/v1/admin\\x', '/v1/admin/x', '\\'],
        ['/v1/%2e%2e/admin', '/admin', '%2E'],
        ['/v1/.%2E/admin', '/admin', '%2E'],
        ['/v1/file%2Etxt', '/v1/file.txt', '%2E'],
        ['/v1/admin;x=1/y', '/v1/admin;x=1/y', ';'],
        ['/v1/x/..;/admin', '/v1/x/..;/admin', ';'],
        ['/v1/x%3B/y', '/v1/x%3B/y', '%3B'],
        ['/v1/admin%00.json', '/v1/admin%00.json', '%00'],
        ['/v1/a%0d%0ab', '/v1/a%0D%0Ab', '%0D'],
        ['/v1/a%7f', '/v1/a%7F', '%7F'],
        ['/v1/a\x01b', '/v1/a%01b', '%01'],
        ['/v1/%2561dmin', '/v1/%2561dmin', '%2561'],
        ['/v1/%25%32%66', '/v1/%252f', '%252f'],
        ['/v1/%%32%66', '/v1/%252f', '%'],
        ['/v1/100%', '/v1/100%25', '%'],
        ['/v1/%zz', '/v1/%25zz', '%'],
        ['/v1/%c0%af', '/v1/%C0%AF', '%C0%AF'],
        ['/v1/%C0%AE%C0%AE/admin', '/v1/%C0%AE%C0%AE/admin', '%C0%AE%C0%AE'],
        ['/v1/%e9t%e9', '/v1/%E9t%E9', '%E9'],
        ['/v1/%F0%9F%98%80', '/v1/%F0%9F%98%80', null],
    ];
    for (const [raw, normal, form] of table) {
        const n = normalizePath(raw);
        t.equal(n.pathname + n.search, normal, `${JSON.stringify(raw)} -> ${normal}`);
        t.equal(n.ambiguity?.form ?? null, form, `${JSON.stringify(raw)}: ambiguity ${form}`);
        const again = normalizePath(n.pathname + n.search);
        t.equal(again.pathname + again.search, normal, `${JSON.stringify(raw)}: normalising twice changes nothing`);
    }
});
t.test('requestTarget: the fast path agrees with the normaliser, in and out of tunnels', async (t) => {
    const req = (url, host = 'api.test') => ({ url, headers: { host } });
    const tunnel = { id: 't', authority: { host: 'api.test', port: 443 }, caller: { workload: 'w', via: 'run-token' }, tls: true };
    const paths = ['/v1/models', '/v1/a-b_c.d~e/!$&\'()*+,=:@', '/v1/x?a=1&b=[x]|{y}', '/', '/a/', '/v1/%61dmin', '/v1//x', '/v1/./x', '/v1/x/..', '/v1/a;b', '/v1/a|b', '/a?b=%zz'];
    for (const p of paths) {
        const n = normalizePath(p);
        const expected = { path: n.pathname + n.search, pathname: n.pathname, ambiguity: n.ambiguity?.form ?? null };
        const outside = requestTarget(req(`http://api.test${p}`), null);
        t.same({ path: outside.path, pathname: outside.pathname, ambiguity: outside.ambiguity?.form ?? null }, expected, `absolute-form ${p}`);
        const inside = requestTarget(req(p), tunnel);
        t.same({ path: inside.path, pathname: inside.pathname, ambiguity: inside.ambiguity?.form ?? null }, expected, `in a tunnel ${p}`);
    }
    // The authority ends where the URL parser ends it; the raw path keeps what the parser would hide.
    t.match(absoluteTarget('http://api.test\\v1%2e%2e/x'), { host: 'api.test', pathname: '/v1../x', ambiguity: { form: '\\' } });
    t.match(absoluteTarget('http://API.test:80?x=1'), { host: 'api.test', port: 80, path: '/?x=1' });
    t.match(absoluteTarget('https://api.test/a#f'), { port: 443, path: '/a' });
    t.throws(() => absoluteTarget('http:api.test/x'), { code: 'SIDEKEY_ERR_BAD_REQUEST' });
    t.throws(() => absoluteTarget('ftp://api.test/x'), { code: 'SIDEKEY_ERR_UNSUPPORTED_SCHEME' });
    t.match(requestTarget(req('https://api.test/v1/%2fx'), tunnel), { port: 443, ambiguity: { form: '%2F' } }, 'absolute-form inside a tunnel, no explicit port');
    t.throws(() => requestTarget(req('https://api.test:8443/x'), tunnel), { code: 'SIDEKEY_ERR_HOST_MISMATCH' });
});
t.test('normalizeGlob: globs in the same normal form, or a problem', async (t) => {
    t.same(normalizeGlob('/v1/%61dmin/**'), { glob: '/v1/admin/**' });
    t.same(normalizeGlob('/v1/caf%c3%a9/*'), { glob: '/v1/caf%C3%A9/*' });
    t.same(normalizeGlob('/v1/admin/'), { glob: '/v1/admin/' });
    for (const [glob, problem] of [
        ['/v1/a%2Fb/**', /"%2F".*could never match/],
        ['/v1/a;b', /";".*could never match/],
        ['/v1/../admin/**', /empty or dot segment.*write "\/admin\/\*\*"/],
        ['/v1//admin', /empty or dot segment.*write "\/v1\/admin"/],
        ['/v1/x?y=1', /never the query/],
    ]) {
        const n = normalizeGlob(glob);
        t.ok('problem' in n && problem.test(n.problem), `${glob}: ${JSON.stringify(n)}`);
    }
});
t.test('PathMatcher: /x/** matches /x; deny rules match any case and trailing slash, allow rules exact', async (t) => {
    const allow = new PathMatcher(['/v1/**', '/exact', '/a/**/b']);
    const deny = new PathMatcher(['/v1/admin/**', '/v1/users/*/delete', '/v1/keys/'], { broad: true });
    const table = [
        [allow, '/v1', true],
        [allow, '/v1/', true],
        [allow, '/v1/x/y', true],
        [allow, '/v1x', false],
        [allow, '/V1/x', false],
        [allow, '/exact', true],
        [allow, '/exact/', false],
        [allow, '/a/b', true],
        [allow, '/a/x/y/b', true],
        [allow, '/a/xb', false],
        [deny, '/v1/admin', true],
        [deny, '/v1/admin/', true],
        [deny, '/v1/admin/x', true],
        [deny, '/V1/ADMIN/x', true],
        [deny, '/v1/Admin', true],
        [deny, '/v1/administrator', false],
        [deny, '/v1/users/7/delete', true],
        [deny, '/v1/users/7/DELETE/', true],
        [deny, '/v1/users/7/8/delete', false],
        [deny, '/v1/keys', true],
        [deny, '/V1/KEYS/', true],
    ];
    for (const [m, path, want] of table)
        t.equal(m.matches(path), want, `${m.explain()} ${path}`);
    t.ok(new PathMatcher(['/v1/**']).covers(new PathMatcher(['/v1'])), '/v1/** covers /v1');
});
const POLICY = compilePolicy([
    {
        file: 'p.yaml',
        text: `
version: v1
routes:
  - { name: no-admin, host: api.test, paths: ["/v1/admin/**"], action: deny }
  - { name: no-deletes, host: api.test, methods: [DELETE], action: deny }
  - { name: api, host: api.test, paths: ["/v1/**"] }
  - { name: mixed-deny, host: mixed.test, paths: ["/v1/admin/**"], action: deny }
  - { name: mixed-allow, host: mixed.test }
  - { name: gitlab, host: gitlab.test }
  - { name: cel-path, host: cel.test, conditions: { cel: ["!request.path.startsWith('/admin')"] } }
  - { name: lenient-no-deletes, host: lenient.test, methods: [DELETE], action: deny }
  - { name: lenient-posts, host: lenient.test, methods: [POST] }
  - { name: lenient, host: lenient.test, methods: [GET, PUT, PATCH], method_override: true }
`,
    },
]);
t.test('decideRequest: ambiguous paths refused where any route for the destination reads paths', async (t) => {
    const decide = (host, raw, method = 'GET') => {
        const n = normalizePath(raw);
        const d = decideRequest(POLICY, { workload: 'w', host, port: 443, method, path: n.pathname, ambiguity: n.ambiguity });
        return d.code ?? d.reason;
    };
    const table = [
        ['api.test', '/v1/%61dmin/x', 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['api.test', '/v1/admin%2Fx', 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['api.test', '/v1/x/..;/admin/x', 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['api.test', '/v1//admin/x', 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['api.test', '/V1/ADMIN/x', 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['api.test', '/v1/admin/.', 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['api.test', '/v1/admin', 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['api.test', '/V1/models', 'SIDEKEY_ERR_NO_ROUTE'],
        ['api.test', '/v1/models', 'route-allows'],
        // The allow route reads no path, but the deny route on the same host does.
        ['mixed.test', '/v1/admin%2Fx', 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['mixed.test', '/v1/Admin/x', 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['mixed.test', '/anything/else', 'route-allows'],
        // No route reads paths: an encoded slash is data (GitLab project ids), forwarded as is.
        ['gitlab.test', '/api/v4/projects/group%2Fproject', 'route-allows'],
        // A CEL condition that reads the path counts as reading paths.
        ['cel.test', '/admin%2Fx', 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
    ];
    for (const [host, raw, want] of table)
        t.equal(decide(host, raw), want, `${host}${raw}`);
    const anonymous = normalizePath('/v1/admin%2Fx');
    t.equal(decideRequest(POLICY, { workload: null, host: 'api.test', port: 443, method: 'GET', path: anonymous.pathname, ambiguity: anonymous.ambiguity }).reason, 'anonymous-not-allowed', 'authentication is asked for first (report-only never lets it through)');
    const { decision, trace } = explainRequest(POLICY, { workload: 'w', host: 'api.test', port: 443, method: 'GET', path: '/v1/admin%2Fx', ambiguity: normalizePath('/v1/admin%2Fx').ambiguity });
    t.equal(decision.reason, 'ambiguous-path', 'explain gives the same decision');
    t.ok(trace.length > 0);
});
t.test('decideRequest: a method override is decided on both methods', async (t) => {
    const facts = (host, method, override) => ({ workload: 'w', host, port: 443, method, path: '/v1/x', override: override === null ? null : { method: override, via: 'header X-HTTP-Method-Override' } });
    const table = [
        ['api.test', 'POST', 'DELETE', 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['api.test', 'POST', 'PUT', 'SIDEKEY_ERR_METHOD_OVERRIDE'],
        ['api.test', 'POST', null, 'route-allows'],
        ['lenient.test', 'POST', 'PUT', 'route-allows'],
        ['lenient.test', 'POST', 'DELETE', 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['lenient.test', 'DELETE', 'GET', 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['lenient.test', 'POST', 'HEAD', 'SIDEKEY_ERR_NO_ROUTE'],
    ];
    for (const [host, method, override, want] of table) {
        const d = decideRequest(POLICY, facts(host, method, override));
        t.equal(d.code ?? d.reason, want, `${host} ${method} as ${override}`);
    }
    t.equal(decideRequest(POLICY, facts('lenient.test', 'POST', 'PUT')).route?.name, 'lenient', 'the route that allows the overridden method decides');
});
t.test('policy: method_override applies to allow routes; bad globs are policy problems', async (t) => {
    const err = (text) => {
        try {
            compilePolicy([{ file: 'p.yaml', text }]);
        }
        catch (e) {
            return e;
        }
        throw new Error('policy loaded');
    };
    t.match(err('version: v1\nroutes:\n  - { name: a, host: a.test, action: deny, method_override: true }\n').problems, [{ path: 'routes[0].method_override', message: /allow only/ }]);
    t.match(err('version: v1\nroutes:\n  - name: a\n    host: a.test\n    paths: ["/ok/**", "/v1/a%2Fb"]\n').problems, [{ line: 5, path: 'routes[0].paths[1]', message: /"%2F"/ }]);
});
t.test('methodOverride: headers and query parameters servers read', async (t) => {
    const table = [
        [['X-HTTP-Method-Override', 'DELETE'], '/x', 'DELETE'],
        [['x-http-method', 'delete'], '/x', 'DELETE'],
        [['X-Method-Override', ' PUT '], '/x', 'PUT'],
        [[], '/x?_method=DELETE', 'DELETE'],
        [[], '/x?a=1&_METHOD=patch', 'PATCH'],
        [[], '/x?%5Fmethod=DELETE', 'DELETE'],
        [[], '/x?_%6Dethod=DELETE', 'DELETE'],
        [[], '/x?.method=DELETE', 'DELETE'],
        [[], '/x?+_method=DELETE', 'DELETE'],
        [[], '/x?_method[]=DELETE', 'DELETE'],
        [[], '/x?method=DELETE', null],
        [[], '/x?_methods=DELETE', null],
        [['X-Forwarded-Method', 'DELETE'], '/x?q=_method', null],
        [['X-HTTP-Method-Override', 'DELETE'], '/x?_method=delete', 'DELETE'],
    ];
    for (const [headers, path, want] of table)
        t.equal(methodOverride(headers, path)?.method ?? null, want, `${headers.join(': ')} ${path}`);
    t.throws(() => methodOverride(['X-HTTP-Method-Override', 'DELETE'], '/x?_method=PUT'), { code: 'SIDEKEY_ERR_METHOD_OVERRIDE' }, 'two methods');
    t.throws(() => methodOverride(['X-HTTP-Method-Override', 'DELETE, PUT'], '/x'), { code: 'SIDEKEY_ERR_METHOD_OVERRIDE' }, 'a list');
    t.throws(() => methodOverride(['X-HTTP-Method', ''], '/x'), { code: 'SIDEKEY_ERR_METHOD_OVERRIDE' }, 'empty');
});
t.test('body override filter: a _method field in a form, multipart or JSON body, across chunks', async (t) => {
    const run = async (contentType, body, chunk = 7) => {
        const headers = [...(contentType === null ? [] : ['Content-Type', contentType]), 'Content-Length', String(Buffer.byteLength(body))];
        const filter = bodyOverrideFilter(headers);
        if (filter === null)
            return { refused: false, passed: body };
        const parts = [];
        for (let i = 0; i < body.length; i += chunk)
            parts.push(Buffer.from(body.slice(i, i + chunk), 'latin1'));
        const out = [];
        try {
            await pipeline(Readable.from(parts), filterStream(filter), new Writable({ write: (c, _enc, done) => (out.push(c), done()) }));
        }
        catch (err) {
            t.type(err, SidekeyError);
            t.equal(err.code, 'SIDEKEY_ERR_METHOD_OVERRIDE');
            t.notOk(Buffer.concat(out).toString('latin1') === body, 'the whole body was never passed on');
            return { refused: true, passed: Buffer.concat(out).toString('latin1') };
        }
        return { refused: false, passed: Buffer.concat(out).toString('latin1') };
    };
    const form = 'application/x-www-form-urlencoded';
    const refused = [
        [form, '_method=DELETE'],
        [form, 'a=1&_method=DELETE'],
        [form, 'a=1;_method=DELETE'],
        [form, 'a=1&%5Fmethod=DELETE'],
        [form, 'a=1&_%6d%65thod=DELETE'],
        [form, 'a=1&_METHOD=DELETE'],
        [form, 'a=1&.method=DELETE'],
        [form, 'a=1&_method[]=DELETE'],
        [form, 'a=1&_method'],
        [`${form}; charset=utf-8`, `${'pad='.padEnd(100_000, 'x')}&_method=DELETE`],
        [null, 'a=1&_method=DELETE'],
        ['multipart/form-data; boundary=XyZ', '--XyZ\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--XyZ--\r\n'],
        ['multipart/form-data; boundary=XyZ', '--XyZ\r\ncontent-disposition: form-data; name=_method\r\n\r\nDELETE\r\n--XyZ--\r\n'],
        ['application/json', '{"_method":"DELETE"}'],
        ['application/json', '{"a": [1, 2], "_method" : "DELETE"}'],
        ['application/json', '{"\\u005fmethod":"DELETE"}'],
        ['application/json', '{"_\\u006D\\u0065thod":"DELETE"}'],
        ['application/vnd.api+json', `{"data": "${'x'.repeat(70_000)}", "_method": "DELETE"}`],
        // Over-matching on purpose: the string "_method" as a value is refused too, since whatever
        // whitespace may stand between a key and its ":" cannot be held back in a stream.
        ['application/json', '{"method":"DELETE","note":"_method"}'],
    ];
    for (const [type, body] of refused) {
        for (const chunk of [1, 5, 64, 1 << 20])
            t.ok((await run(type, body, chunk)).refused, `refused (${chunk}-byte chunks): ${type} ${body.slice(-60)}`);
    }
    const passed = [
        [form, 'a=1&method=DELETE'],
        [form, 'a=1&x_method=DELETE'],
        [form, 'a=1&_methods=1'],
        [form, 'note=use%20the%20_method%20field'],
        ['multipart/form-data; boundary=XyZ', '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f.html"\r\n\r\n<input name="method">\r\n--XyZ--\r\n'],
        ['application/json', '{"text":"say \\"_method\\""}'],
        ['text/plain', '_method=DELETE'],
        ['application/octet-stream', '{"_method":"DELETE"}'],
    ];
    for (const [type, body] of passed) {
        for (const chunk of [1, 5, 64])
            t.same(await run(type, body, chunk), { refused: false, passed: body }, `passed whole (${chunk}-byte chunks): ${type} ${body}`);
    }
    t.equal(bodyOverrideFilter(['Content-Type', form]), null, 'no body, no filter');
    t.equal(bodyOverrideFilter(['Content-Type', form, 'Content-Length', '0']), null, 'an empty body, no filter');
    t.throws(() => refuseBodyOverride(['Content-Type', 'application/json', 'Content-Length', '20'], Buffer.from('{"_method":"DELETE"}')), { code: 'SIDEKEY_ERR_METHOD_OVERRIDE' });
    t.doesNotThrow(() => refuseBodyOverride(['Content-Type', 'application/json', 'Content-Length', '18'], Buffer.from('{"method":"DELETE"}')));
});
//# sourceMappingURL=path-normalize.test.js.map