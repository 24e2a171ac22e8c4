import { execFile, spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { pollFor } from './poll.js';
import { SECRETS } from './sidekey.js';
/**
 * A network namespace standing for a pod: a veth pair whose far end is "the internet" (this host),
 * IPv4 and IPv6 addresses on either end, loopback up, and optionally the pod's resolv.conf
 * (`ip netns exec` mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf). Removed at teardown.
 */
const run = promisify(execFile);
/** `host` and `pod` are addresses with their prefix length (`10.213.0.1/30`, `fd00::1/64`). */
export async function podNamespace(t, name, addresses, resolvConf) {
    const sh = (cmd) => run(cmd[0], cmd.slice(1));
    const exec = (cmd) => run('ip', ['netns', 'exec', name, ...cmd]);
    // nodad: an IPv6 address usable at once, without duplicate address detection's wait.
    const addr = (address, dev) => ['ip', ...(address.includes(':') ? ['-6'] : []), 'addr', 'add', address, 'dev', dev, ...(address.includes(':') ? ['nodad'] : [])];
    await sh(['ip', 'netns', 'add', name]);
    t.teardown(async () => {
        await sh(['ip', 'netns', 'del', name]).catch(() => undefined);
        await sh(['ip', 'link', 'del', `${name}h`]).catch(() => undefined);
        await rm(`/etc/netns/${name}`, { recursive: true, force: true });
    });
    await sh(['ip', 'link', 'add', `${name}h`, 'type', 'veth', 'peer', 'name', `${name}n`]);
    await sh(['ip', 'link', 'set', `${name}n`, 'netns', name]);
    for (const a of addresses.host)
        await sh(addr(a, `${name}h`));
    await sh(['ip', 'link', 'set', `${name}h`, 'up']);
    for (const a of addresses.pod)
        await exec(addr(a, `${name}n`));
    await exec(['ip', 'link', 'set', `${name}n`, 'up']);
    await exec(['ip', 'link', 'set', 'lo', 'up']);
    if (resolvConf !== undefined) {
        await mkdir(`/etc/netns/${name}`, { recursive: true });
        await writeFile(`/etc/netns/${name}/resolv.conf`, resolvConf);
    }
    return { name, exec };
}
/** Start `sidekey start ARGS` inside the namespace (`runAs`: setpriv arguments, or none for root); resolves once it says it started. */
export async function startSidekeyIn(t, ns, runAs, args) {
    const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
    const sidekey = spawn('ip', ['netns', 'exec', ns.name, ...runAs, process.execPath, cli, 'start', ...args], {
        env: { ...process.env, TEST_OPENAI_KEY: SECRETS.OPENAI },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    sidekey.stdout.on('data', (d) => (logs += d.toString()));
    sidekey.stderr.on('data', (d) => (logs += d.toString()));
    t.teardown(() => void sidekey.kill('SIGKILL'));
    await pollFor(() => logs, (l) => l.includes('"event":"started"') || sidekey.exitCode !== null, 20_000, 100);
    return { logs: () => logs };
}
/** A directory with `up.pem` holding the upstreams' CA and `policies/p.yaml`: the static `openai` credential (SECRETS.OPENAI) and `route`. */
export async function sidekeyFiles(dir, route, upstreamCaPem) {
    await mkdir(`${dir}/policies`, { recursive: true });
    await writeFile(`${dir}/up.pem`, upstreamCaPem);
    await writeFile(`${dir}/policies/p.yaml`, `version: v1\ncredentials:\n  openai: { type: static, env: TEST_OPENAI_KEY }\nroutes:\n  - ${route}\n`);
}
//# sourceMappingURL=netns.js.map