import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
/**
 * `node net-probe.js tcp|udp HOST PORT`: try to reach HOST:PORT and print what happened: `open`
 * (TCP connected; UDP got its datagram echoed back), `refused` (a reset or an ICMP unreachable,
 * what a REJECT rule answers) or `timeout`. Tests run it as a chosen user inside a network
 * namespace (`ip netns exec ... setpriv ...`) to see what packet-filter rules let through.
 */
const TIMEOUT_MS = 3000;
function probeTcp(host, port) {
    return new Promise((resolve) => {
        const socket = connect({ host, port, timeout: TIMEOUT_MS });
        socket.once('connect', () => resolve('open'));
        socket.once('timeout', () => resolve('timeout'));
        socket.once('error', (err) => resolve(err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' ? 'refused' : `error ${err.code}`));
    });
}
function probeUdp(host, port) {
    return new Promise((resolve) => {
        const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
        const timer = setTimeout(() => resolve('timeout'), TIMEOUT_MS);
        const done = (what) => {
            clearTimeout(timer);
            resolve(what);
        };
        socket.once('message', () => done('open'));
        // A connected UDP socket hears of an ICMP unreachable (and a locally refused send) as an error.
        socket.once('error', (err) => done(err.code === 'ECONNREFUSED' || err.code === 'EPERM' ? 'refused' : `error ${err.code}`));
        socket.connect(port, host, () => socket.send('ping', (err) => (err ? done('refused') : undefined)));
    });
}
const [kind, host, port] = process.argv.slice(2);
const answer = await (kind === 'udp' ? probeUdp : probeTcp)(host, Number(port));
console.log(answer);
process.exit(0);
//# sourceMappingURL=net-probe.js.map