import { createSocket } from 'node:dgram';
import { execFile } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { chartRenderer, podOf } from '../helpers/helm.js';
import { podNamespace, sidekeyFiles, startSidekeyIn } from '../helpers/netns.js';
import { SECRETS } from '../helpers/sidekey.js';
import { requireTools } from '../helpers/tools.js';
import { upstreamTrust } from '../helpers/upstream.js';
requireTools('ip', 'iptables', 'curl', 'go');
// Can the agent get around sidekey in transparent mode? A network namespace stands for the pod,
// with IPv4 and IPv6 on a veth pair to "the internet" (this host), and a resolv.conf naming the
// pod's nameservers (`ip netns exec` mounts /etc/netns/NAME/resolv.conf over /etc/resolv.conf).
// The chart is rendered and its exact commands run there: the iptables init container's command
// as root with only the capabilities its securityContext adds, sidekey's arguments as its user and
// group, and then the agent (the user id of the chart's agent securityContext, and sidekey's user id
// with another group) tries every way out: other ports, IPv6, UDP (QUIC), port 53 of any host.
const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
const probeScript = new URL('../helpers/net-probe.js', import.meta.url).pathname;
/** setpriv arguments that run a process as a container with this securityContext would (user, group, capabilities). */
function asContainer(c) {
    const sc = c.securityContext ?? {};
    if (!(sc.capabilities?.drop ?? []).includes('ALL'))
        throw new Error(`${c.name} does not drop ALL capabilities: this test only maps drop-ALL containers`);
    // The kubelet's default group is the image's (0 here) when runAsGroup is not set.
    return ['setpriv', '--reuid', String(sc.runAsUser ?? 0), '--regid', String(sc.runAsGroup ?? 0), '--clear-groups', '--inh-caps', '-all', '--bounding-set', ['-all', ...(sc.capabilities?.add ?? []).map((cap) => `+${cap.toLowerCase()}`)].join(','), ...(sc.allowPrivilegeEscalation === false ? ['--no-new-privs'] : [])];
}
/** The image's `node /app/dist/src/cli/main.js ...` as this checkout's. */
function localCli(command) {
    if (command[0] !== 'node' || command[1] !== '/app/dist/src/cli/main.js')
        throw new Error(`unexpected command ${command.join(' ')}`);
    return [process.execPath, cli, ...command.slice(2)];
}
t.test('transparent mode leaves the agent no way around sidekey', async (t) => {
    const { render } = await chartRenderer();
    const ports = [
        { port: 443, listenPort: 15443, protocol: 'https' },
        { port: 8443, listenPort: 15444, protocol: 'https' },
        { port: 80, listenPort: 15080, protocol: 'http' },
    ];
    const rendered = async (blockOtherEgress) => podOf((await render({ agent: { image: { repository: 'example/agent' } }, mode: 'transparent', transparent: { ports, blockOtherEgress } })).byKind('Deployment'));
    const pod = await rendered(true);
    const init = pod.initContainers.find((c) => c.name === 'sidekey-iptables');
    const sidekeyContainer = pod.initContainers.find((c) => c.name === 'sidekey');
    const agentContainer = pod.containers.find((c) => c.name === 'agent');
    const initWithoutBlock = (await rendered(false)).initContainers.find((c) => c.name === 'sidekey-iptables');
    // The "pod": 10.213.1.2 and fd00:213:1::2; "the internet": .1 (also the nameserver) and .5.
    const net = { host: '10.213.1.1', other: '10.213.1.5', pod: '10.213.1.2', host6: 'fd00:213:1::1', other6: 'fd00:213:1::5', pod6: 'fd00:213:1::2' };
    const ns = await podNamespace(t, `ske${process.pid}`, { host: [`${net.host}/29`, `${net.other}/29`, `${net.host6}/64`, `${net.other6}/64`], pod: [`${net.pod}/29`, `${net.pod6}/64`] }, `search agents.svc.cluster.local\nnameserver ${net.host}\nnameserver ${net.host6}\noptions ndots:5\n`);
    const inNs = ns.exec;
    // "The internet": HTTPS on the redirected ports, and plain TCP and UDP listeners to be reached (or not).
    const trust = await upstreamTrust();
    const closers = [];
    t.teardown(() => closers.forEach((close) => close()));
    const listenTcp = (server, host, port) => new Promise((resolve, reject) => {
        server.once('error', reject).listen(port, host, () => resolve());
        closers.push(() => server.close());
    });
    const tls = await trust.cert('api.test');
    for (const port of [443, 8443]) {
        const server = createHttpsServer(tls, (req, res) => res.end(JSON.stringify({ injected: req.headers.authorization === `Bearer ${SECRETS.OPENAI}`, port })));
        await listenTcp(server, net.host, port);
    }
    for (const [host, port] of [[net.host, 9443], [net.host, 53], [net.other, 53], [net.host6, 443], [net.host6, 9443], [net.host6, 53], [net.other6, 53]]) {
        await listenTcp(createTcpServer((s) => s.end()), host, port);
    }
    for (const [host, port] of [[net.host, 53], [net.other, 53], [net.host, 443], [net.host6, 443], [net.host6, 53]]) {
        const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
        udp.on('message', (msg, from) => udp.send(msg, from.port, from.address));
        await new Promise((resolve) => udp.bind(port, host, resolve));
        closers.push(() => udp.close());
    }
    /** What `who` (setpriv arguments) reaches with `kind` to host:port, from inside the pod. */
    const probe = async (who, kind, host, port) => (await inNs([...who, process.execPath, probeScript, kind, host, String(port)])).stdout.trim();
    const agent = asContainer(agentContainer);
    const agentAsSidekeyUid = ['setpriv', '--reuid', String(sidekeyContainer.securityContext.runAsUser), '--regid', '0', '--clear-groups', '--bounding-set', '-all'];
    const sidekeyUser = asContainer(sidekeyContainer);
    t.same([agentContainer.securityContext?.runAsUser, sidekeyContainer.securityContext?.runAsUser, sidekeyContainer.securityContext?.runAsGroup], [1000, 10001, 10001], 'the chart\'s agent and sidekey user ids');
    await t.test('without the rules, every way out is open (the probes can see an escape)', async (t) => {
        t.equal(await probe(agent, 'tcp', net.host6, 443), 'open');
        t.equal(await probe(agent, 'tcp', net.other, 53), 'open');
        t.equal(await probe(agent, 'udp', net.host, 443), 'open');
    });
    const applyInit = async (c) => (await inNs([...asContainer(c), ...localCli(c.command)])).stdout;
    const rules = async () => (await Promise.all([inNs(['iptables', '-t', 'nat', '-S']), inNs(['iptables', '-S']), inNs(['ip6tables', '-S'])])).map((r) => r.stdout).join('');
    await t.test('the init container needs NET_ADMIN only', async (t) => {
        t.same(init.securityContext?.capabilities, { drop: ['ALL'], add: ['NET_ADMIN'] });
        const status = (await inNs([...asContainer(init), 'cat', '/proc/self/status'])).stdout;
        t.match(status, /CapEff:\s+0000000000001000\n/, 'the process has CAP_NET_ADMIN (bit 12) and nothing else, NET_RAW (bit 13) included');
    });
    await t.test('without blockOtherEgress: IPv6 and UDP to the redirected ports are refused, other ports open', async (t) => {
        t.match(await applyInit(initWithoutBlock), /outbound TCP 443 -> 15443, 8443 -> 15444, 80 -> 15080 for every user but 10001:10001; IPv6 to those ports refused/);
        t.equal(await probe(agent, 'tcp', net.host6, 443), 'refused', 'IPv6 to 443');
        t.equal(await probe(agent, 'udp', net.host, 443), 'refused', 'UDP 443 (QUIC) over IPv4');
        t.equal(await probe(agent, 'udp', net.host6, 443), 'refused', 'UDP 443 (QUIC) over IPv6');
        t.equal(await probe(agent, 'tcp', net.host6, 9443), 'open', 'another port over IPv6 is allowed, as over IPv4');
        t.equal(await probe(agent, 'tcp', net.host, 9443), 'open');
    });
    let once = '';
    await t.test('with blockOtherEgress, applied twice in the same namespace (the kubelet re-runs init containers)', async (t) => {
        t.match(await applyInit(init), /other egress refused but DNS to 10\.213\.1\.1, fd00:213:1::1/);
        once = await rules();
        t.match(await applyInit(init), /other egress refused/, 'the second run succeeds');
        t.equal(await rules(), once, 'and leaves the same rules, not twice as many');
        t.match(once, /-A OUTPUT -p tcp -j SIDEKEY_OUTPUT\n/);
        t.equal(once.match(/-j SIDEKEY_EGRESS/g)?.length, 2, 'one jump per family');
    });
    // sidekey, as the chart runs it (its arguments, its user and group), with the pod's paths here.
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-escape-'));
    await sidekeyFiles(dir, `{ name: api, host: api.test, ports: [443, 8443], credential: openai, addresses: [${net.host}] }`, trust.caPem);
    await chmod(dir, 0o755);
    for (const d of ['certs', 'ca']) {
        await mkdir(join(dir, d));
        await chown(join(dir, d), 10001, 10001);
    }
    const paths = { '/etc/sidekey/policies': join(dir, 'policies'), '/var/run/sidekey/certs': join(dir, 'certs'), '/etc/sidekey/ca': join(dir, 'ca') };
    const args = sidekeyContainer.args.map((a) => paths[a] ?? a);
    t.equal(args[0], 'start');
    const sidekey = await startSidekeyIn(t, ns, sidekeyUser, [...args.slice(1), '--upstream-ca', join(dir, 'up.pem'), '--connect-to', `api.test:443:${net.host}:443,api.test:8443:${net.host}:8443`]);
    t.match(sidekey.logs(), /"event":"started"/, 'sidekey started in the pod as 10001:10001');
    await copyFile(join(dir, 'ca', 'ca.pem'), join(dir, 'agent-ca.pem'));
    await chmod(join(dir, 'agent-ca.pem'), 0o644);
    const agentCurl = async (url, resolve) => {
        const out = await inNs([...agent, 'curl', '-sS', '--max-time', '10', '--noproxy', '*', '--resolve', resolve, '--cacert', join(dir, 'agent-ca.pem'), '-o', '-', '-w', '\n%{http_code}', url]).catch((err) => ({ stdout: `${err.message}\n0` }));
        const lines = out.stdout.trimEnd().split('\n');
        return { status: Number(lines.pop()), body: lines.join('\n') };
    };
    await t.test('each redirected port reaches its own sidekey listener, which knows the port', async (t) => {
        for (const port of [443, 8443]) {
            const r = await agentCurl(`https://api.test:${port}/v1/models`, `api.test:${port}:${net.host}`);
            t.equal(r.status, 200, r.body);
            t.same(JSON.parse(r.body), { injected: true, port }, `port ${port}: through sidekey (the credential was injected), to the same port upstream`);
        }
        const denied = await agentCurl('https://evil.test:8443/', `evil.test:8443:${net.host}`);
        t.equal(denied.status, 403, 'a denied host on the extra port is refused by sidekey');
    });
    await t.test('the agent\'s user: every other way out is refused', async (t) => {
        const cases = [
            ['tcp', net.host, 9443, 'refused', 'a port that is not redirected'],
            ['tcp', net.host6, 443, 'refused', 'IPv6 to 443'],
            ['tcp', net.host6, 9443, 'refused', 'IPv6 to another port'],
            ['udp', net.host, 443, 'refused', 'UDP 443 (QUIC)'],
            ['udp', net.host6, 443, 'refused', 'UDP 443 over IPv6'],
            ['tcp', net.other, 53, 'refused', 'TCP 53 to a host that is not a nameserver'],
            ['udp', net.other, 53, 'refused', 'UDP 53 to a host that is not a nameserver'],
            ['tcp', net.other6, 53, 'refused', 'TCP 53 over IPv6 to a host that is not a nameserver'],
            ['tcp', net.host, 53, 'open', 'TCP 53 to the pod\'s nameserver'],
            ['udp', net.host, 53, 'open', 'UDP 53 to the pod\'s nameserver'],
            ['udp', net.host6, 53, 'open', 'UDP 53 to the pod\'s IPv6 nameserver'],
            ['tcp', net.host, 443, 'open', 'TCP 443 (to sidekey, redirected)'],
        ];
        const seen = await Promise.all(cases.map(([kind, host, port]) => probe(agent, kind, host, port)));
        cases.forEach(([kind, host, port, expected, what], i) => t.equal(seen[i], expected, `${what} (${kind} ${host} ${port})`));
    });
    await t.test('sidekey\'s user id with another group is the agent; sidekey itself (user and group) is left alone, IPv6 included', async (t) => {
        const cases = [
            [agentAsSidekeyUid, 'tcp', net.host, 9443, 'refused'],
            [agentAsSidekeyUid, 'tcp', net.host6, 443, 'refused'],
            [sidekeyUser, 'tcp', net.host, 9443, 'open'],
            [sidekeyUser, 'tcp', net.host6, 443, 'open'],
            [sidekeyUser, 'udp', net.other, 53, 'open'],
        ];
        for (const [who, kind, host, port, expected] of cases)
            t.equal(await probe([...who], kind, host, port), expected, `${who.slice(1, 5).join(' ')}: ${kind} ${host} ${port}`);
    });
    t.notMatch(sidekey.logs(), new RegExp(SECRETS.OPENAI), 'no secret in sidekey\'s log');
});
t.test('sidekey iptables says what it cannot do, and applies nothing then', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-iptables-'));
    const iptables = (args) => new Promise((resolve) => {
        execFile(process.execPath, [cli, 'iptables', ...args], (err, stdout, stderr) => resolve({ code: err === null ? 0 : err.code ?? null, stdout, stderr }));
    });
    const usage = await iptables(['--redirect', '443']);
    t.equal(usage.code, 2);
    t.match(usage.stderr, /usage: sidekey iptables .*--redirect PORT:LISTENPORT/);
    t.equal((await iptables(['--redirect', '443:15443,443:15444'])).code, 2, 'a port redirected twice');
    const noResolv = await iptables(['--apply', '--block-other-egress', '--resolv-conf', join(dir, 'missing'), '--iptables', '/bin/true', '--ip6tables', '/bin/true']);
    t.equal(noResolv.code, 1);
    t.match(noResolv.stderr, /cannot read .*missing \(ENOENT\): no DNS server would be reachable/);
    await writeFile(join(dir, 'resolv.conf'), 'search cluster.local\n');
    const noNameserver = await iptables(['--block-other-egress', '--resolv-conf', join(dir, 'resolv.conf')]);
    t.equal(noNameserver.code, 0);
    t.match(noNameserver.stderr, /names no nameserver: DNS is refused to every user but sidekey's/);
    t.notMatch(noNameserver.stdout, /--dport 53/);
    const failing = await iptables(['--apply', '--iptables', '/bin/false', '--ip6tables', '/bin/false']);
    t.equal(failing.code, 1);
    t.match(failing.stderr, /^sidekey: \/bin\/false -t nat -N SIDEKEY_OUTPUT 2>\/dev\/null \|\| \/bin\/false -t nat -F SIDEKEY_OUTPUT failed/);
});
//# sourceMappingURL=transparent-escape.test.js.map