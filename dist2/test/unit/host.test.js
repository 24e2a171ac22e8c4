import t from 'tap';
import { formatAuthority, normalizeHost, parseAuthority } from '../../src/policy/host.js';
import { HostMatcher } from '../../src/policy/match.js';
t.test('normalizeHost: letter case, trailing dot, IDNA, labels', async (t) => {
    const table = [
        { rule: 'lower case, no trailing dot, no surrounding space', cases: [['api.openai.com', 'api.openai.com'], ['API.OpenAI.com.', 'api.openai.com'], ['  api.test  ', 'api.test']] },
        { rule: 'letters, digits, hyphen and underscore in a label', cases: [['a_b.test', 'a_b.test'], ['-a.test', '-a.test'], ['a-.test', 'a-.test']] },
        { rule: 'IDNA (RFC 5890): Unicode to punycode, punycode kept, case folded', cases: [['münchen.de', 'xn--mnchen-3ya.de'], ['MÜNCHEN.DE', 'xn--mnchen-3ya.de'], ['XN--MNCHEN-3YA.de', 'xn--mnchen-3ya.de'], ['bücher.example.', 'xn--bcher-kva.example'], ['💩.la', 'xn--ls8h.la'], ['xn--ls8h.la', 'xn--ls8h.la']] },
        { rule: 'UTS #46 mapping: compatibility forms and ignored characters resolved', cases: [['ﬁ.test', 'fi.test'], ['exa\u00admple.com', 'example.com']] },
        { rule: 'a label holds 63 characters at most (RFC 1035 section 2.3.4), a name 253', cases: [[`${'x'.repeat(63)}.test`, `${'x'.repeat(63)}.test`], [`${'x'.repeat(64)}.test`, null], [`${'a'.repeat(62)}.`.repeat(4) + 'com', null]] },
        { rule: 'no name, or an empty label', cases: [['', null], [' ', null], ['.', null], ['api.openai.com..', null], ['.api.com', null], ['a..b', null]] },
        { rule: 'characters no host name holds', cases: [['a b.test', null], ['a:b', null], ['a@b.test', null], ['*.test', null], ['a%2fb.test', null], ['a%00b', null], ['a\u0000b', null], ['api.test:443', null], ['ex%61mple.com', null]] },
        { rule: 'a character a URL parser cuts a host at is refused, never read as the name before it', cases: [['a/b', null], ['evil.test/.api.test', null], ['evil.test#.api.test', null], ['evil.test?.api.test', null], ['api.test\\@evil', null]] },
    ];
    for (const { rule, cases } of table)
        for (const [raw, normal] of cases)
            t.equal(normalizeHost(raw), normal, `${rule}: ${JSON.stringify(raw)}`);
});
t.test('normalizeHost: IP addresses', async (t) => {
    const table = [
        { rule: 'dotted IPv4', cases: [['127.0.0.1', '127.0.0.1'], ['127.0.0.1.', '127.0.0.1'], ['１２７.０.０.１', '127.0.0.1'], ['[1.2.3.4]', '1.2.3.4']] },
        // Hex, octal, fewer parts or one number: the dotted address the URL parser, curl and
        // getaddrinfo read them as, so a policy, the Host check and the dial all see one address.
        { rule: 'other IPv4 notations are the address they name', cases: [['0x7f.1', '127.0.0.1'], ['2130706433', '127.0.0.1'], ['127.1', '127.0.0.1'], ['0177.0.0.1', '127.0.0.1'], ['0x7f000001', '127.0.0.1'], ['0', '0.0.0.0']] },
        { rule: 'a numeric last label that is no IPv4 address is no host (no top-level domain is numeric)', cases: [['256.1.1.1', null], ['1.2.3.4.5', null], ['v1.2', null]] },
        { rule: 'IPv6: brackets dropped, one canonical text (RFC 5952 as the URL parser writes it)', cases: [['::1', '::1'], ['[::1]', '::1'], ['[::FFFF:127.0.0.1]', '::ffff:7f00:1'], ['::ffff:7f00:1', '::ffff:7f00:1'], ['[0:0:0:0:0:0:0:1]', '::1'], ['[FE80:0::1]', 'fe80::1']] },
        { rule: 'IPv6 with a zone names an interface of this machine, not a destination', cases: [['[fe80::1%eth0]', null]] },
        { rule: 'IPv6 without its closing bracket', cases: [['[::1', null]] },
    ];
    for (const { rule, cases } of table)
        for (const [raw, normal] of cases)
            t.equal(normalizeHost(raw), normal, `${rule}: ${JSON.stringify(raw)}`);
});
t.test('parseAuthority: host and port of a CONNECT target or a Host header', async (t) => {
    const table = [
        { rule: 'host:port, the host normalised', cases: [[['api.test:443', undefined], 'api.test 443'], [['API.test:08080', undefined], 'api.test 8080'], [['api.test.:443', undefined], 'api.test 443'], [['münchen.de:443', undefined], 'xn--mnchen-3ya.de 443'], [['0x7f.1:80', undefined], '127.0.0.1 80']] },
        { rule: 'a Host header may leave the port out; a CONNECT target (no default) may not', cases: [[['api.test', 80], 'api.test 80'], [['api.test', undefined], null]] },
        { rule: 'ports are 1 to 65535, digits only', cases: [[['api.test:65535', undefined], 'api.test 65535'], [['api.test:0', undefined], null], [['api.test:65536', undefined], null], [['api.test:123456', undefined], null], [['api.test:', undefined], null], [['api.test:-1', undefined], null], [['api.test:+80', undefined], null], [['api.test: 80', undefined], null]] },
        { rule: 'no host, or more than one colon outside brackets', cases: [[['a:b:c', undefined], null], [[':80', undefined], null], [['user@api.test:443', undefined], null]] },
        { rule: 'IPv6 in brackets, with or without a port', cases: [[['[::1]:8443', undefined], '::1 8443'], [['[::1]', 443], '::1 443'], [['[::1]', undefined], null], [['[::1]x', undefined], null], [['[::1]:', undefined], null], [['[::1', undefined], null]] },
        { rule: 'IPv6 without brackets: no authority, or the last group read as the port', cases: [[['::1', undefined], null], [['::1', 443], null], [['::1:8080', undefined], '::1 8080']] },
    ];
    for (const { rule, cases } of table) {
        for (const [[raw, defaultPort], parsed] of cases) {
            const a = parseAuthority(raw, defaultPort);
            t.equal(a === null ? null : `${a.host} ${a.port}`, parsed, `${rule}: ${JSON.stringify(raw)}, default port ${defaultPort}`);
        }
    }
});
t.test('formatAuthority: IPv6 bracketed, so the text parses back to the same authority', async (t) => {
    const table = [
        ['api.test', 443, 'api.test:443'],
        ['127.0.0.1', 80, '127.0.0.1:80'],
        ['::1', 8080, '[::1]:8080'],
        ['::ffff:7f00:1', 443, '[::ffff:7f00:1]:443'],
    ];
    for (const [host, port, text] of table) {
        t.equal(formatAuthority({ host, port }), text);
        t.same(parseAuthority(text), { host, port }, `${text} parses back`);
    }
});
t.test('HostMatcher: exact names, and wildcards for any depth of subdomain but never the apex', async (t) => {
    const wildcard = new HostMatcher('*.Example.COM.');
    const exact = new HostMatcher('API.Example.com');
    const idn = new HostMatcher('*.münchen.de');
    t.equal(wildcard.pattern, '*.example.com');
    t.equal(exact.pattern, 'api.example.com');
    t.equal(idn.pattern, '*.xn--mnchen-3ya.de');
    t.equal(exact.explain(), 'host api.example.com');
    const table = [
        [wildcard, 'a.example.com', true],
        [wildcard, 'a.b.example.com', true],
        [wildcard, 'example.com', false],
        [wildcard, 'aexample.com', false],
        [wildcard, 'a.example.com.evil', false],
        [exact, 'api.example.com', true],
        [exact, 'x.api.example.com', false],
        [idn, 'www.xn--mnchen-3ya.de', true],
        // Matchers compare normalised hosts only: the caller normalises first.
        [exact, 'API.example.com', false],
    ];
    for (const [m, host, want] of table)
        t.equal(m.matches(host), want, `${m.pattern} ${host}`);
    for (const bad of ['*', '*.', 'a..b', '**.x.com', 'x.*.com', '*.*.com', 'a b'])
        t.throws(() => new HostMatcher(bad), TypeError, `${JSON.stringify(bad)} is no host pattern`);
});
t.test('HostMatcher.covers: true only when every host the other matches, this matches too', async (t) => {
    const table = [
        ['*.example.com', '*.a.example.com', true],
        ['*.example.com', 'a.example.com', true],
        ['*.example.com', 'example.com', false],
        ['*.a.example.com', '*.example.com', false],
        ['a.com', 'a.com', true],
        ['a.com', '*.a.com', false],
        ['a.com', 'b.com', false],
    ];
    for (const [mine, other, want] of table)
        t.equal(new HostMatcher(mine).covers(new HostMatcher(other)), want, `${mine} covers ${other}`);
});
//# sourceMappingURL=host.test.js.map