import t from 'tap';
import { absoluteTarget, requestTarget } from '../../src/accept/target.js';
import { parseAuthority } from '../../src/policy/host.js';
function outcome(parse) {
    try {
        const r = parse();
        const query = r.path.slice(r.pathname.length);
        return `${r.scheme} ${r.host} ${r.port} ${r.pathname} ${query === '' ? '-' : query}${r.ambiguity === null ? '' : ` ambiguous ${r.ambiguity.form}`}`;
    }
    catch (err) {
        return err.code ?? `untyped ${err.message}`;
    }
}
/** A CONNECT tunnel to `authority`, TLS started inside it (https) or not (http). */
function tunnel(authority, tls) {
    const parsed = parseAuthority(authority);
    if (parsed === null)
        throw new TypeError(`not an authority: ${authority}`);
    return { id: 'tunnel-1', authority: parsed, caller: { workload: 'agent', via: 'run-token' }, tls };
}
/** The two fields requestTarget reads from a request: its target and its Host header. */
function request(url, host) {
    return { url, headers: host === undefined ? {} : { host } };
}
t.test('absolute-form: scheme, authority and path, each in canonical form', async (t) => {
    const table = [
        { rule: 'scheme and host in lower case, no trailing dot, default port by scheme', cases: [['http://api.test/v1/x', 'http api.test 80 /v1/x -'], ['https://api.test', 'https api.test 443 / -'], ['https://api.test?x=1', 'https api.test 443 / ?x=1'], ['HTTP://API.Test:8080/v1/x?q=1', 'http api.test 8080 /v1/x ?q=1'], ['http://api.test./v1', 'http api.test 80 /v1 -']] },
        { rule: 'explicit ports, leading zeros and an empty port', cases: [['http://api.test:08080/x', 'http api.test 8080 /x -'], ['http://api.test:/x', 'http api.test 80 /x -'], ['https://api.test:443/', 'https api.test 443 / -'], ['http://api.test:65535/', 'http api.test 65535 / -']] },
        { rule: 'IDNA: the host in punycode', cases: [['http://münchen.de/x', 'http xn--mnchen-3ya.de 80 /x -'], ['http://xn--mnchen-3ya.de/x', 'http xn--mnchen-3ya.de 80 /x -']] },
        { rule: 'IPv6 literals: brackets in the target, none in the host decided on', cases: [['http://[::1]:8080/x', 'http ::1 8080 /x -'], ['http://[::1]/x', 'http ::1 80 /x -'], ['https://[::FFFF:127.0.0.1]/x', 'https ::ffff:7f00:1 443 /x -']] },
        { rule: 'the path normalised from the raw text (RFC 3986 section 6.2.2), the query only encoded', cases: [['http://api.test/a/../b', 'http api.test 80 /b -'], ['http://api.test/v1//%61dmin', 'http api.test 80 /v1/admin -'], ['http://api.test/ space', 'http api.test 80 /%20space -'], ['http://api.test/é?é', 'http api.test 80 /%C3%A9 ?%C3%A9']] },
        { rule: 'forms the URL parser would hide are kept and reported', cases: [['http://api.test/a%2fb', 'http api.test 80 /a%2Fb - ambiguous %2F'], ['http://api.test\\x', 'http api.test 80 /x - ambiguous \\']] },
        { rule: 'a fragment never reaches the upstream (RFC 9112 section 3.2)', cases: [['http://api.test/x#frag', 'http api.test 80 /x -'], ['http://api.test#frag', 'http api.test 80 / -'], ['http://api.test?x=1#f', 'http api.test 80 / ?x=1']] },
        { rule: 'the authority ends where the URL parser ends it: what follows is path, not host', cases: [['http://evil.test#@api.test/x', 'http evil.test 80 / -'], ['http://evil.test\\@api.test/x', 'http evil.test 80 /@api.test/x - ambiguous \\'], ['http://@api.test/x', 'http api.test 80 /x -']] },
        { rule: 'userinfo is refused: sidekey injects credentials, an agent never sends its own in the URL', cases: [['http://user:pw@api.test/x', 'SIDEKEY_ERR_BAD_REQUEST'], ['http://user@api.test/x', 'SIDEKEY_ERR_BAD_REQUEST'], ['http://api.test@evil.test/x', 'SIDEKEY_ERR_BAD_REQUEST']] },
        { rule: 'ports outside 1-65535, or not digits', cases: [['http://api.test:0/', 'SIDEKEY_ERR_BAD_REQUEST'], ['http://api.test:65536/', 'SIDEKEY_ERR_BAD_REQUEST'], ['http://api.test:99999/', 'SIDEKEY_ERR_BAD_REQUEST'], ['http://api.test:8a/x', 'SIDEKEY_ERR_BAD_REQUEST']] },
        { rule: 'no host, or not written as scheme://authority', cases: [['http://::1/x', 'SIDEKEY_ERR_BAD_REQUEST'], ['http://[::1/x', 'SIDEKEY_ERR_BAD_REQUEST'], ['http://a b/x', 'SIDEKEY_ERR_BAD_REQUEST'], ['http://api.test%2Fevil/x', 'SIDEKEY_ERR_BAD_REQUEST'], ['http://', 'SIDEKEY_ERR_BAD_REQUEST']] },
        { rule: 'not an absolute URL with //', cases: [['http:api.test/x', 'SIDEKEY_ERR_BAD_REQUEST'], ['http:/api.test/x', 'SIDEKEY_ERR_BAD_REQUEST'], ['http:\\\\api.test\\x', 'SIDEKEY_ERR_BAD_REQUEST'], ['api.test/x', 'SIDEKEY_ERR_BAD_REQUEST'], ['', 'SIDEKEY_ERR_BAD_REQUEST']] },
        { rule: 'schemes other than http and https', cases: [['ftp://api.test/x', 'SIDEKEY_ERR_UNSUPPORTED_SCHEME'], ['ws://api.test/x', 'SIDEKEY_ERR_UNSUPPORTED_SCHEME']] },
    ];
    for (const { rule, cases } of table) {
        for (const [target, expected] of cases) {
            t.equal(outcome(() => absoluteTarget(target)), expected, `${rule}: ${JSON.stringify(target)}`);
            t.equal(outcome(() => requestTarget(request(target, 'ignored.test'), null)), expected, `${JSON.stringify(target)} on the proxy port: the Host header plays no part`);
        }
    }
});
t.test('absolute-form: IPv4 in other notations is the dotted address, whichever path the target takes', async (t) => {
    // A canonical path takes the fast path, any other path the URL parser: both read the same text
    // as the same dotted IPv4 address, so policy never sees a name where the dial sees an address.
    const table = [
        [['http://2130706433/x', 'http 127.0.0.1 80 /x -'], ['http://2130706433/x%2F', 'http 127.0.0.1 80 /x%2F - ambiguous %2F']],
        [['http://0x7f.1/x', 'http 127.0.0.1 80 /x -'], ['http://0x7f.1/x;y', 'http 127.0.0.1 80 /x;y - ambiguous ;']],
        [['http://127.1/', 'http 127.0.0.1 80 / -'], ['http://127.1/%2e', 'http 127.0.0.1 80 / - ambiguous %2E']],
    ];
    for (const [target, expected] of table.flat())
        t.equal(outcome(() => absoluteTarget(target)), expected, target);
});
t.test('the proxy port refuses origin-form: it is not a web server', async (t) => {
    for (const target of ['/', '/v1/x', '//api.test/x'])
        t.equal(outcome(() => requestTarget(request(target, 'api.test'), null)), 'SIDEKEY_ERR_NOT_PROXY_REQUEST', target);
});
t.test('inside a tunnel: the CONNECT authority is the destination, and nothing else may name another', async (t) => {
    const https443 = tunnel('api.test:443', true);
    const https8443 = tunnel('api.test:8443', true);
    const http80 = tunnel('api.test:80', false);
    const v6 = tunnel('[::1]:443', true);
    const table = [
        { rule: 'origin-form, the Host header naming the destination in any canonical spelling', tunnel: https443, cases: [['/v1/x', 'api.test', 'https api.test 443 /v1/x -'], ['/v1/x', 'API.TEST', 'https api.test 443 /v1/x -'], ['/v1/x', 'api.test.', 'https api.test 443 /v1/x -'], ['/v1/x', 'api.test:443', 'https api.test 443 /v1/x -']] },
        { rule: 'origin-form, the path normalised', tunnel: https443, cases: [['/v1/%2fx', 'api.test', 'https api.test 443 /v1/%2Fx - ambiguous %2F']] },
        { rule: 'cleartext inside the tunnel is http', tunnel: http80, cases: [['/v1/x', 'api.test', 'http api.test 80 /v1/x -'], ['/v1/x?q=1#f', 'api.test', 'http api.test 80 /v1/x ?q=1'], ['/a/./b/../c', 'api.test', 'http api.test 80 /a/c -']] },
        { rule: 'a Host header without a port stands for any port (clients leave out the one they think is the default)', tunnel: https8443, cases: [['/v1/x', 'api.test', 'https api.test 8443 /v1/x -'], ['/v1/x', 'api.test:8443', 'https api.test 8443 /v1/x -'], ['/v1/x', 'api.test:80', 'SIDEKEY_ERR_HOST_MISMATCH']] },
        { rule: 'another host, an explicit other port, or no usable Host header: a second destination', tunnel: https443, cases: [['/v1/x', 'api.test:8443', 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', 'evil.test', 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', 'api.test.evil.test', 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', undefined, 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', '', 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', 'api.test:0', 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', 'api.test:abc', 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', 'api.test:443:443', 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', 'api.test, evil.test', 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', 'user@api.test', 'SIDEKEY_ERR_HOST_MISMATCH']] },
        // An IPv6 address in its long spelling is the same host: both are compressed to one text.
        { rule: 'IPv6: the Host header carries the brackets (RFC 9110 section 7.2); without them it is no authority', tunnel: v6, cases: [['/v1/x', '[::1]', 'https ::1 443 /v1/x -'], ['/v1/x', '[::1]:443', 'https ::1 443 /v1/x -'], ['/v1/x', '[::1]:8443', 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', '::1', 'SIDEKEY_ERR_HOST_MISMATCH'], ['/v1/x', '[0:0:0:0:0:0:0:1]', 'https ::1 443 /v1/x -'], ['https://[::1]/x', '[::1]', 'https ::1 443 /x -']] },
        { rule: "absolute-form names the tunnel's host, and its port if it gives one; the tunnel's scheme and port win", tunnel: https443, cases: [['https://api.test/x', 'api.test', 'https api.test 443 /x -'], ['https://api.test:443/x', 'api.test', 'https api.test 443 /x -'], ['http://api.test/x', 'api.test', 'https api.test 443 /x -'], ['https://API.test./x?q', 'api.test', 'https api.test 443 /x ?q']] },
        { rule: "absolute-form without a port takes the tunnel's", tunnel: https8443, cases: [['https://api.test/x', 'api.test', 'https api.test 8443 /x -']] },
        { rule: 'absolute-form naming another host or port, or a Host header that does', tunnel: https443, cases: [['https://api.test:8443/x', 'api.test', 'SIDEKEY_ERR_HOST_MISMATCH'], ['http://api.test:80/x', 'api.test', 'SIDEKEY_ERR_HOST_MISMATCH'], ['https://evil.test/x', 'api.test', 'SIDEKEY_ERR_HOST_MISMATCH'], ['https://api.test/x', 'evil.test', 'SIDEKEY_ERR_HOST_MISMATCH']] },
        { rule: 'userinfo, or a target that is neither origin- nor absolute-form', tunnel: https443, cases: [['https://user@api.test/x', 'api.test', 'SIDEKEY_ERR_BAD_REQUEST'], ['*', 'api.test', 'SIDEKEY_ERR_BAD_REQUEST'], ['x', 'api.test', 'SIDEKEY_ERR_BAD_REQUEST']] },
    ];
    for (const { rule, tunnel: tun, cases } of table) {
        const where = `${tun.authority.host}:${tun.authority.port} (${tun.tls ? 'TLS' : 'cleartext'})`;
        for (const [target, host, expected] of cases)
            t.equal(outcome(() => requestTarget(request(target, host), tun)), expected, `${rule}: ${JSON.stringify(target)} with Host ${JSON.stringify(host)} in a tunnel to ${where}`);
    }
});
t.test('inside a tunnel: a Host header a URL parser would cut is no host at all', async (t) => {
    // Text after a "/", "#", "?" or "\" would be dropped by a URL parser; sidekey refuses the
    // header instead of reading it as the name before it.
    for (const host of ['api.test/evil', 'api.test#x', 'api.test?x', 'api.test\\x']) {
        t.equal(outcome(() => requestTarget(request('/v1/x', host), tunnel('api.test:443', true))), 'SIDEKEY_ERR_HOST_MISMATCH', JSON.stringify(host));
    }
});
//# sourceMappingURL=target.test.js.map