import { isIP } from 'node:net';
const NAT_CHAIN = 'SIDEKEY_OUTPUT';
const FILTER_CHAIN = 'SIDEKEY_EGRESS';
/** The steps, IPv4 first, in the order they must run. */
export function transparentRules(r) {
    return [...natRules(r), ...filterRules(r, 'ipv4'), ...filterRules(r, 'ipv6')];
}
/** The step as a shell line (what `sidekey iptables` prints). */
export function formatStep(step, binaries) {
    const binary = binaries[step.family];
    const line = [binary, ...step.args].join(' ');
    return step.orElse === undefined ? line : `${line} 2>/dev/null || ${[binary, ...step.orElse].join(' ')}`;
}
function sidekeyOwner(r) {
    // Both ids: an agent that shares sidekey's group, or is given its user id with another group, is still redirected.
    return ['-m', 'owner', '--uid-owner', String(r.uid), '--gid-owner', String(r.gid)];
}
/** Create the chain, or empty it when a previous run left it. */
function freshChain(family, table, chain) {
    return { family, args: [...table, '-N', chain], orElse: [...table, '-F', chain] };
}
/** Jump from a built-in chain to ours, unless the jump is already there. */
function jumpOnce(family, table, from, match, chain) {
    return { family, args: [...table, '-C', from, ...match, '-j', chain], orElse: [...table, '-A', from, ...match, '-j', chain] };
}
function natRules(r) {
    const nat = ['-t', 'nat'];
    const add = (...rule) => ({ family: 'ipv4', args: [...nat, '-A', NAT_CHAIN, ...rule] });
    return [
        freshChain('ipv4', nat, NAT_CHAIN),
        add(...sidekeyOwner(r), '-j', 'RETURN'),
        add('-d', '127.0.0.0/8', '-j', 'RETURN'),
        ...r.redirects.map(({ from, to }) => add('-p', 'tcp', '--dport', String(from), '-j', 'REDIRECT', '--to-ports', String(to))),
        jumpOnce('ipv4', nat, 'OUTPUT', ['-p', 'tcp'], NAT_CHAIN),
    ];
}
function filterRules(r, family) {
    const add = (...rule) => ({ family, args: ['-A', FILTER_CHAIN, ...rule] });
    const v6 = family === 'ipv6';
    const resetTcp = ['-j', 'REJECT', '--reject-with', 'tcp-reset'];
    const steps = [
        freshChain(family, [], FILTER_CHAIN),
        add(...sidekeyOwner(r), '-j', 'RETURN'),
        // Loopback, which is also where the nat rules (run first) sent the redirected connections.
        add('-o', 'lo', '-j', 'RETURN'),
        add('-d', v6 ? '::1/128' : '127.0.0.0/8', '-j', 'RETURN'),
        // Replies on connections others opened to the agent (its own outbound ones never got past here),
        // and the redirected connections (REDIRECT is a destination NAT).
        add('-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED,DNAT', '-j', 'RETURN'),
        // The kernel's own neighbour discovery and multicast listener reports have no socket, hence no
        // owner: refused, IPv6 would stop working for sidekey too.
        ...(v6 ? ['router-solicitation', 'neighbour-solicitation', 'neighbour-advertisement', '143'].map((type) => add('-p', 'ipv6-icmp', '--icmpv6-type', type, '-j', 'RETURN')) : []),
    ];
    if (r.blockOtherEgress) {
        for (const ns of r.nameservers.filter((a) => a.includes(':') === v6)) {
            steps.push(add('-d', ns, '-p', 'udp', '--dport', '53', '-j', 'RETURN'), add('-d', ns, '-p', 'tcp', '--dport', '53', '-j', 'RETURN'));
        }
        steps.push(add('-p', 'tcp', ...resetTcp), add('-j', 'REJECT'));
    }
    else {
        for (const { from } of r.redirects) {
            if (v6)
                steps.push(add('-p', 'tcp', '--dport', String(from), ...resetTcp));
            steps.push(add('-p', 'udp', '--dport', String(from), '-j', 'REJECT'));
        }
    }
    steps.push(jumpOnce(family, [], 'OUTPUT', [], FILTER_CHAIN));
    return steps;
}
/** The nameserver addresses of a resolv.conf (resolv.conf(5)): IP addresses only, zone suffixes removed. */
export function nameserversOf(resolvConf) {
    const found = [];
    for (const line of resolvConf.split('\n')) {
        const address = /^\s*nameserver\s+([^\s%#;]+)/.exec(line)?.[1];
        if (address !== undefined && isIP(address) !== 0 && !found.includes(address))
            found.push(address);
    }
    return found;
}
//# sourceMappingURL=iptables-rules.js.map