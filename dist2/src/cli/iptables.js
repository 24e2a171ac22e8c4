import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { DEFAULT_REDIRECTS } from '../kube/sidecar.js';
import { parse } from './args.js';
import { formatStep, nameserversOf, transparentRules } from './iptables-rules.js';
/**
 * `sidekey iptables`: transparent mode's rules (see iptables-rules.ts), printed as shell lines or
 * applied. The chart's init container runs it with `--apply`, as root with NET_ADMIN only (the nft
 * backend of iptables needs no NET_RAW), before any other container of the pod starts; applying
 * twice in the same network namespace gives the same rules.
 */
const USAGE = 'usage: sidekey iptables [--uid N] [--gid N] [--redirect PORT:LISTENPORT,...] [--block-other-egress] [--resolv-conf FILE] [--apply] [--iptables PATH] [--ip6tables PATH]';
/** `443:15443,80:15080` -> redirects; null when malformed or a port is given twice. */
export function parseRedirects(text) {
    const redirects = [];
    for (const entry of text.split(',')) {
        const m = /^\s*([0-9]{1,5}):([0-9]{1,5})\s*$/.exec(entry);
        if (m === null)
            return null;
        const [from, to] = [Number(m[1]), Number(m[2])];
        if ([from, to].some((p) => p < 1 || p > 65535) || redirects.some((r) => r.from === from || r.to === to))
            return null;
        redirects.push({ from, to });
    }
    return redirects;
}
export async function iptables(argv) {
    const { flags } = parse(argv, ['uid', 'gid', 'redirect', 'resolv-conf', 'iptables', 'ip6tables'], ['block-other-egress', 'apply']);
    const id = (v, fallback) => (v === undefined ? fallback : typeof v === 'string' && /^[0-9]{1,10}$/.test(v) ? Number(v) : NaN);
    const uid = id(flags.uid, 10001);
    const gid = id(flags.gid, uid);
    const redirects = parseRedirects(typeof flags.redirect === 'string' ? flags.redirect : DEFAULT_REDIRECTS.map((r) => `${r.port}:${r.listenPort}`).join(','));
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || redirects === null) {
        console.error(USAGE);
        return 2;
    }
    const blockOtherEgress = flags['block-other-egress'] === true;
    const resolvConf = typeof flags['resolv-conf'] === 'string' ? flags['resolv-conf'] : '/etc/resolv.conf';
    let nameservers = [];
    if (blockOtherEgress) {
        try {
            nameservers = nameserversOf(await readFile(resolvConf, 'utf8'));
        }
        catch (err) {
            console.error(`sidekey: cannot read ${resolvConf} (${err.code ?? 'error'}): no DNS server would be reachable`);
            return 1;
        }
        if (nameservers.length === 0)
            console.error(`sidekey: ${resolvConf} names no nameserver: DNS is refused to every user but sidekey's`);
    }
    const binaries = { ipv4: typeof flags.iptables === 'string' ? flags.iptables : 'iptables', ipv6: typeof flags.ip6tables === 'string' ? flags.ip6tables : 'ip6tables' };
    // A kernel booted without IPv6 has no /proc/net/if_inet6 and no ip6tables tables: nothing to go around by.
    const ipv6 = existsSync('/proc/net/if_inet6');
    const steps = transparentRules({ uid, gid, redirects, blockOtherEgress, nameservers }).filter((s) => ipv6 || s.family === 'ipv4');
    if (flags.apply !== true) {
        for (const step of steps)
            console.log(formatStep(step, binaries));
        return 0;
    }
    const run = promisify(execFile);
    for (const step of steps) {
        const binary = binaries[step.family];
        try {
            await run(binary, [...step.args]).catch((err) => {
                if (step.orElse === undefined)
                    throw err;
                return run(binary, [...step.orElse]);
            });
        }
        catch (err) {
            console.error(`sidekey: ${formatStep(step, binaries)} failed: ${err.stderr?.trim() || err.message}`);
            return 1;
        }
    }
    const ports = redirects.map((r) => `${r.from} -> ${r.to}`).join(', ');
    console.log(`transparent mode: outbound TCP ${ports} for every user but ${uid}:${gid}; IPv6 to those ports refused${ipv6 ? '' : ' (no IPv6 here)'}${blockOtherEgress ? `; other egress refused but DNS to ${nameservers.join(', ') || 'no nameserver'}` : ''}`);
    return 0;
}
//# sourceMappingURL=iptables.js.map