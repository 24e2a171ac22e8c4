import t from 'tap';
import { parseRedirects } from '../../src/cli/iptables.js';
import { formatStep, nameserversOf, transparentRules } from '../../src/cli/iptables-rules.js';
import { configFrom } from '../../src/config.js';
import { agentSecurityProblems } from '../../src/kube/agent-security.js';
// Transparent mode's pure parts, table-driven: the rules for each choice, resolv.conf, the
// redirected-port lists of `sidekey iptables` and `sidekey start`, and the agent checks the
// webhook makes. transparent-escape.test.ts runs the rules for real.
const BASE = { uid: 10001, gid: 10001, redirects: [{ from: 443, to: 15443 }, { from: 8443, to: 15444 }], blockOtherEgress: true, nameservers: ['10.96.0.10', 'fd00:10:96::a'] };
const lines = (r) => transparentRules(r).map((s) => formatStep(s, { ipv4: 'iptables', ipv6: 'ip6tables' }));
t.test('the rules for each choice', async (t) => {
    const block = lines(BASE);
    t.ok(block.includes('iptables -t nat -A SIDEKEY_OUTPUT -m owner --uid-owner 10001 --gid-owner 10001 -j RETURN'), 'sidekey is excluded by user and group id together');
    t.ok(block.includes('iptables -t nat -A SIDEKEY_OUTPUT -p tcp --dport 8443 -j REDIRECT --to-ports 15444'), 'one REDIRECT per port, to its own listener');
    t.notOk(block.some((l) => l.startsWith('ip6tables -t nat')), 'IPv6 is refused, never redirected');
    t.same(block.filter((l) => /--dport 53/.test(l)), [
        'iptables -A SIDEKEY_EGRESS -d 10.96.0.10 -p udp --dport 53 -j RETURN',
        'iptables -A SIDEKEY_EGRESS -d 10.96.0.10 -p tcp --dport 53 -j RETURN',
        'ip6tables -A SIDEKEY_EGRESS -d fd00:10:96::a -p udp --dport 53 -j RETURN',
        'ip6tables -A SIDEKEY_EGRESS -d fd00:10:96::a -p tcp --dport 53 -j RETURN',
    ], 'DNS only to the nameservers, each in its family');
    t.same(block.filter((l) => l.includes('||')), [
        'iptables -t nat -N SIDEKEY_OUTPUT 2>/dev/null || iptables -t nat -F SIDEKEY_OUTPUT',
        'iptables -t nat -C OUTPUT -p tcp -j SIDEKEY_OUTPUT 2>/dev/null || iptables -t nat -A OUTPUT -p tcp -j SIDEKEY_OUTPUT',
        'iptables -N SIDEKEY_EGRESS 2>/dev/null || iptables -F SIDEKEY_EGRESS',
        'iptables -C OUTPUT -j SIDEKEY_EGRESS 2>/dev/null || iptables -A OUTPUT -j SIDEKEY_EGRESS',
        'ip6tables -N SIDEKEY_EGRESS 2>/dev/null || ip6tables -F SIDEKEY_EGRESS',
        'ip6tables -C OUTPUT -j SIDEKEY_EGRESS 2>/dev/null || ip6tables -A OUTPUT -j SIDEKEY_EGRESS',
    ], 'chains created or emptied, jumps added once: a second run gives the same rules');
    t.same(block.slice(-3), ['ip6tables -A SIDEKEY_EGRESS -p tcp -j REJECT --reject-with tcp-reset', 'ip6tables -A SIDEKEY_EGRESS -j REJECT', 'ip6tables -C OUTPUT -j SIDEKEY_EGRESS 2>/dev/null || ip6tables -A OUTPUT -j SIDEKEY_EGRESS']);
    const open = lines({ ...BASE, blockOtherEgress: false });
    t.same(open.filter((l) => l.includes('REJECT')), [
        'iptables -A SIDEKEY_EGRESS -p udp --dport 443 -j REJECT',
        'iptables -A SIDEKEY_EGRESS -p udp --dport 8443 -j REJECT',
        'ip6tables -A SIDEKEY_EGRESS -p tcp --dport 443 -j REJECT --reject-with tcp-reset',
        'ip6tables -A SIDEKEY_EGRESS -p udp --dport 443 -j REJECT',
        'ip6tables -A SIDEKEY_EGRESS -p tcp --dport 8443 -j REJECT --reject-with tcp-reset',
        'ip6tables -A SIDEKEY_EGRESS -p udp --dport 8443 -j REJECT',
    ], 'without blockOtherEgress, the redirected ports still cannot be reached over IPv6 or UDP');
    t.notOk(open.some((l) => l.includes('--dport 53')), 'and DNS is not singled out');
});
t.test('nameservers from resolv.conf', async (t) => {
    const table = [
        ['search agents.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n', ['10.96.0.10']],
        ['nameserver fe80::1%eth0\nnameserver 10.0.0.2 # second\n  nameserver\t10.0.0.3\n', ['fe80::1', '10.0.0.2', '10.0.0.3']],
        ['nameserver 10.0.0.2\nnameserver 10.0.0.2\n', ['10.0.0.2']],
        ['# nameserver 10.0.0.9\nnameserver not-an-address\nnameserver 10.0.0\n', []],
        ['', []],
    ];
    for (const [text, expected] of table)
        t.same(nameserversOf(text), expected, JSON.stringify(text));
});
t.test('redirected ports: `sidekey iptables --redirect`', async (t) => {
    t.same(parseRedirects('443:15443,80:15080'), [{ from: 443, to: 15443 }, { from: 80, to: 15080 }]);
    for (const bad of ['', '443', '443:15443,443:15444', '443:15443,8443:15443', '0:15443', '443:70000', '443:15443;80:15080'])
        t.equal(parseRedirects(bad), null, JSON.stringify(bad));
});
t.test('redirected ports: `sidekey start --transparent-http(s)`, one listener per port', async (t) => {
    const c = configFrom({ 'transparent-https': '127.0.0.1:15443,8443=127.0.0.1:15444', 'transparent-http': '80=127.0.0.1:15080' }, {});
    t.same(c.transparentHttps, [{ from: 443, listen: { host: '127.0.0.1', port: 15443 } }, { from: 8443, listen: { host: '127.0.0.1', port: 15444 } }], 'a bare address stands for 443, as before');
    t.same(c.transparentHttp, [{ from: 80, listen: { host: '127.0.0.1', port: 15080 } }]);
    t.same(configFrom({}, {}).transparentHttps, [], 'off by default');
    t.throws(() => configFrom({ 'transparent-https': '443=127.0.0.1:15443', 'transparent-http': '443=127.0.0.1:15080' }, {}), { code: 'SIDEKEY_ERR_CONFIG', message: /port 443 has more than one listener/ });
    t.throws(() => configFrom({ 'transparent-https': '70000=127.0.0.1:15443' }, {}), { message: /70000 is not a port/ });
    t.throws(() => configFrom({ 'transparent-http': '80=nowhere' }, {}), { message: /--transparent-http: "nowhere" is not host:port/ });
});
t.test('agent checks of the webhook: what could get around sidekey', async (t) => {
    const safe = { runAsUser: 1000, runAsNonRoot: true, capabilities: { drop: ['ALL'] } };
    const table = [
        [{ containers: [{ name: 'a', securityContext: safe }] }, []],
        [{ securityContext: { runAsUser: 1000, runAsNonRoot: true }, containers: [{ name: 'a', securityContext: { capabilities: { drop: ['ALL'] } } }] }, []],
        [{ securityContext: { runAsUser: 10001 }, containers: [{ name: 'a', securityContext: { ...safe, runAsUser: undefined } }] }, [/container "a" runs as sidekey's user id 10001/]],
        [{ containers: [{ name: 'a', securityContext: { ...safe, runAsUser: 0 } }] }, [/"a" runs as root/]],
        [{ containers: [{ name: 'a', securityContext: { ...safe, runAsUser: undefined } }] }, [/"a" sets no runAsUser/]],
        [{ containers: [{ name: 'a', securityContext: { ...safe, runAsNonRoot: false } }] }, [/"a" does not set runAsNonRoot: true/]],
        [{ containers: [{ name: 'a', securityContext: { ...safe, capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] } } }] }, [/"a" adds capabilities \(NET_ADMIN\)/]],
        [{ containers: [{ name: 'a', securityContext: { ...safe, privileged: true } }] }, [/"a" is privileged/]],
        [{ initContainers: [{ name: 'setup' }], containers: [{ name: 'a', securityContext: safe }] }, [/"setup" sets no runAsUser/, /"setup" does not set runAsNonRoot/, /"setup" does not drop ALL/]],
    ];
    for (const [spec, expected] of table) {
        const problems = agentSecurityProblems(spec, 10001);
        t.equal(problems.length, expected.length, JSON.stringify(spec));
        expected.forEach((re, i) => t.match(problems[i], re));
    }
});
//# sourceMappingURL=transparent-rules.test.js.map