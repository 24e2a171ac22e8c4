import t from 'tap';
import { foldHeaders, rawHeadersHaveBody, requestHasBody } from '../../src/http/message.js';
import { formatAuthority, hostHeader } from '../../src/policy/host.js';
// The HTTP message facts every stage reads alike: one has-body rule (the forwarder, the guard,
// the method-override check, the upgrade check and the SigV4 signer used to answer differently),
// one header fold, one authority formatter.
t.test('a request has a body when Transfer-Encoding says so or Content-Length is above zero', async (t) => {
    const cases = [
        [{}, false],
        [{ 'content-length': '0' }, false],
        [{ 'content-length': '00' }, false],
        [{ 'content-length': '1' }, true],
        [{ 'content-length': '120' }, true],
        [{ 'transfer-encoding': 'chunked' }, true],
        [{ 'transfer-encoding': 'gzip, chunked' }, true],
        [{ 'content-type': 'application/json' }, false],
    ];
    for (const [headers, expected] of cases) {
        t.equal(requestHasBody(headers), expected, JSON.stringify(headers));
        const raw = Object.entries(headers).flatMap(([n, v]) => [n.toUpperCase(), v]);
        t.equal(rawHeadersHaveBody(raw), expected, `raw ${JSON.stringify(raw)}`);
    }
});
t.test('headers fold into one value per lower-case name, joined with ", "', async (t) => {
    const folded = foldHeaders(['Accept', 'a/b', 'X-Many', '1', 'x-many', '2', 'X-MANY', '3', '__proto__', 'p', 'Proxy-Authorization', 'Basic secret'], new Set(['proxy-authorization']));
    t.same(Object.entries(folded), [['accept', 'a/b'], ['x-many', '1, 2, 3'], ['__proto__', 'p']]);
    t.equal(Object.getPrototypeOf(folded), null, 'no prototype: __proto__ is just a name');
    t.equal(folded['proxy-authorization'], undefined, 'a skipped name is left out');
    t.same(Object.entries(foldHeaders([])), []);
});
t.test('authorities and Host headers keep IPv6 brackets', async (t) => {
    const cases = [
        ['api.example', 443, 'https', 'api.example', 'api.example:443'],
        ['api.example', 8443, 'https', 'api.example:8443', 'api.example:8443'],
        ['api.example', 80, 'http', 'api.example', 'api.example:80'],
        ['api.example', 443, 'http', 'api.example:443', 'api.example:443'],
        ['10.0.0.1', 80, 'http', '10.0.0.1', '10.0.0.1:80'],
        ['::1', 8080, 'http', '[::1]:8080', '[::1]:8080'],
        ['::1', 443, 'https', '[::1]', '[::1]:443'],
        ['2001:db8::5', 80, 'http', '[2001:db8::5]', '[2001:db8::5]:80'],
    ];
    for (const [host, port, scheme, header, authority] of cases) {
        t.equal(hostHeader({ host, port }, scheme), header, `${scheme} ${host} ${port}`);
        t.equal(formatAuthority({ host, port }), authority);
    }
});
//# sourceMappingURL=http-message.test.js.map