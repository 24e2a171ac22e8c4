import t from 'tap';
import { blockedClass, resolveChecked } from '../../src/forward/ssrf.js';
import { compilePolicy } from '../../src/policy/load.js';
t.test('address classes', async (t) => {
    const table = [
        ['127.0.0.1', 'loopback'], ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['192.168.1.1', 'private'],
        ['169.254.169.254', 'link-local'], ['100.64.0.1', 'cgnat'], ['0.0.0.0', 'this-network'], ['224.0.0.1', 'multicast'],
        ['::1', 'loopback'], ['::', 'unspecified'], ['::ffff:127.0.0.1', 'ipv4-mapped'], ['::ffff:8.8.8.8', 'ipv4-mapped'],
        ['64:ff9b::a9fe:a9fe', 'nat64'], ['fe80::1', 'link-local'], ['fc00::1', 'unique-local'], ['2002:7f00:1::', '6to4'],
        ['8.8.8.8', null], ['93.184.216.34', null], ['2606:4700::1111', null], ['not-an-ip', 'invalid'],
    ];
    for (const [address, cls] of table)
        t.equal(blockedClass(address), cls, address);
});
t.test('resolve once, refuse any blocked answer unless the route names it', async (t) => {
    const policy = compilePolicy([
        {
            file: 'p.yaml',
            text: `version: v1
routes:
  - { name: open, host: api.test }
  - { name: internal, host: svc.test, addresses: [10.0.0.0/8] }
  - { name: literal, host: 10.9.9.9 }
`,
        },
    ]);
    const [open, internal, literal] = policy.routes;
    const answers = { 'api.test': ['93.184.216.34'], 'rebind.test': ['93.184.216.34', '127.0.0.1'], 'svc.test': ['10.1.1.1'] };
    const resolver = async (host) => {
        if (!(host in answers))
            throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
        return answers[host].map((address) => ({ address, family: 4 }));
    };
    t.same(await resolveChecked('api.test', 443, open, resolver), { address: '93.184.216.34', port: 443 });
    await t.rejects(resolveChecked('rebind.test', 443, open, resolver), { code: 'SIDEKEY_ERR_DESTINATION_BLOCKED' }, 'one private answer among public ones refuses');
    await t.rejects(resolveChecked('svc.test', 443, open, resolver), { code: 'SIDEKEY_ERR_DESTINATION_BLOCKED' });
    t.same(await resolveChecked('svc.test', 443, internal, resolver), { address: '10.1.1.1', port: 443 }, 'the route names the range');
    t.same(await resolveChecked('10.9.9.9', 80, literal, resolver), { address: '10.9.9.9', port: 80 }, 'a route naming the literal address');
    await t.rejects(resolveChecked('nowhere.test', 443, open, resolver), { code: 'SIDEKEY_ERR_DNS' });
    await t.rejects(resolveChecked('api.test', 443, open, resolver, { host: '169.254.169.254', port: 80 }), { code: 'SIDEKEY_ERR_DESTINATION_BLOCKED' }, 'a connect-to target is checked too');
});
//# sourceMappingURL=ssrf.test.js.map