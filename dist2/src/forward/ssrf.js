import { lookup } from 'node:dns/promises';
import { BlockList, isIP, SocketAddress } from 'node:net';
import { SidekeyError } from '../errors.js';
/**
 * Address ranges an agent must not reach through sidekey unless a route names them: loopback,
 * RFC 1918 private, link-local (169.254.169.254 is every cloud's metadata service), CGNAT,
 * "this network", documentation, benchmarking, multicast and reserved ranges, and the IPv6 forms
 * that embed an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo), which would otherwise
 * smuggle any of the above past an IPv4-only check.
 */
const BLOCKED = [
    ['0.0.0.0', 8, 'ipv4', 'this-network'],
    ['10.0.0.0', 8, 'ipv4', 'private'],
    ['100.64.0.0', 10, 'ipv4', 'cgnat'],
    ['127.0.0.0', 8, 'ipv4', 'loopback'],
    ['169.254.0.0', 16, 'ipv4', 'link-local'],
    ['172.16.0.0', 12, 'ipv4', 'private'],
    ['192.0.0.0', 24, 'ipv4', 'reserved'],
    ['192.0.2.0', 24, 'ipv4', 'documentation'],
    ['192.88.99.0', 24, 'ipv4', 'reserved'],
    ['192.168.0.0', 16, 'ipv4', 'private'],
    ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
    ['198.51.100.0', 24, 'ipv4', 'documentation'],
    ['203.0.113.0', 24, 'ipv4', 'documentation'],
    ['224.0.0.0', 4, 'ipv4', 'multicast'],
    ['240.0.0.0', 4, 'ipv4', 'reserved'],
    ['::', 128, 'ipv6', 'unspecified'],
    ['::1', 128, 'ipv6', 'loopback'],
    ['::ffff:0:0', 96, 'ipv6', 'ipv4-mapped'],
    ['::', 96, 'ipv6', 'ipv4-compatible'],
    ['64:ff9b::', 96, 'ipv6', 'nat64'],
    ['64:ff9b:1::', 48, 'ipv6', 'nat64'],
    ['100::', 64, 'ipv6', 'discard'],
    ['2001::', 32, 'ipv6', 'teredo'],
    ['2001:db8::', 32, 'ipv6', 'documentation'],
    ['2002::', 16, 'ipv6', '6to4'],
    ['fc00::', 7, 'ipv6', 'unique-local'],
    ['fe80::', 10, 'ipv6', 'link-local'],
    ['fec0::', 10, 'ipv6', 'site-local'],
    ['ff00::', 8, 'ipv6', 'multicast'],
];
const blockLists = BLOCKED.map(([network, prefix, type, label]) => {
    const list = new BlockList();
    list.addSubnet(network, prefix, type);
    return { list, type, label };
});
/**
 * Every blocked range of a family in one list: one check answers the common case (a public
 * address). One list per family, because BlockList matches IPv4 addresses against IPv6 rules as
 * IPv4-mapped addresses, and ::ffff:0:0/96 would then block every IPv4 address.
 */
const anyBlocked = { ipv4: new BlockList(), ipv6: new BlockList() };
for (const [network, prefix, type] of BLOCKED)
    anyBlocked[type].addSubnet(network, prefix, type);
/** Classes of recently seen addresses: the same few upstream addresses recur on every request. */
const classCache = new Map();
/** The blocked class an address falls in ("loopback", "link-local", ...), or null when public. */
export function blockedClass(address) {
    const cached = classCache.get(address);
    if (cached !== undefined)
        return cached;
    const cls = classify(address);
    if (classCache.size >= 4096)
        classCache.clear();
    classCache.set(address, cls);
    return cls;
}
function classify(address) {
    const family = isIP(address);
    if (family === 0)
        return 'invalid';
    const type = family === 4 ? 'ipv4' : 'ipv6';
    // Parse the address once; BlockList.check would parse a string again for every list.
    const parsed = new SocketAddress({ address, family: type });
    if (!anyBlocked[type].check(parsed))
        return null;
    for (const { list, type: t, label } of blockLists) {
        if (t === type && list.check(parsed))
            return label;
    }
    return 'blocked';
}
/** The system resolver (getaddrinfo, so /etc/hosts applies as it does for every other client). */
export const systemResolver = (host) => lookup(host, { all: true, verbatim: true });
/**
 * Where to connect: an address and port the SSRF guard approved. Only `resolveChecked` makes one
 * (the class is not exported as a value, and its private member makes the type nominal), and
 * `dialChecked` dials nothing else.
 */
class Checked {
    address;
    port;
    constructor(address, port) {
        this.address = address;
        this.port = port;
    }
}
/**
 * Resolve once, check every address, and return the one to connect to (docs/architecture.md, rule 6). The
 * forwarder connects to exactly this address, so a second DNS answer (rebinding) is never used.
 * If any answer is blocked the destination is refused, rather than hoping the good one is chosen.
 * `connectTo` redirects the connection (like curl --connect-to); the redirected address is checked
 * like any other.
 */
export async function resolveChecked(host, port, route, resolver, connectTo) {
    const target = connectTo ?? { host, port };
    const addresses = await resolveAll(target.host, resolver);
    const blocked = firstBlocked(addresses, route);
    if (blocked !== null) {
        throw new SidekeyError('SIDEKEY_ERR_DESTINATION_BLOCKED', `blocked address ${blocked.address}: ${host} resolves to a ${blocked.kind} address, which sidekey refuses unless a route names it; name ${blocked.address} in the route's \`addresses\` if this is intended`);
    }
    return new Checked(addresses[0], target.port);
}
/** Every address `host` stands for: itself when it is one, else what `resolver` answers (SIDEKEY_ERR_DNS when nothing). */
export async function resolveAll(host, resolver) {
    if (isIP(host) !== 0)
        return [host];
    let addresses;
    try {
        addresses = (await resolver(host)).map((a) => a.address);
    }
    catch (cause) {
        throw new SidekeyError('SIDEKEY_ERR_DNS', `cannot resolve ${host} (${cause.code ?? 'error'})`, { cause });
    }
    if (addresses.length === 0)
        throw new SidekeyError('SIDEKEY_ERR_DNS', `cannot resolve ${host} (no addresses)`);
    return addresses;
}
/** The first of `addresses` the guard blocks that `route` does not name, with its class; null when none. */
export function firstBlocked(addresses, route) {
    for (const address of addresses) {
        const kind = blockedClass(address);
        if (kind !== null && !routeNamesAddress(route, address))
            return { address, kind };
    }
    return null;
}
/** Per route, the answers of its `addresses` list for addresses already checked. */
const routeAnswers = new WeakMap();
/** True when `route` allows `address` although the guard would block it: its literal address, or its `addresses` list. */
function routeNamesAddress(route, address) {
    if (route === null)
        return false;
    if (route.literalAddress && route.host.pattern === address)
        return true;
    if (route.addresses === null)
        return false;
    let answers = routeAnswers.get(route);
    if (answers === undefined)
        routeAnswers.set(route, (answers = new Map()));
    let named = answers.get(address);
    if (named === undefined) {
        named = route.addresses.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
        if (answers.size < 1024)
            answers.set(address, named);
    }
    return named;
}
//# sourceMappingURL=ssrf.js.map