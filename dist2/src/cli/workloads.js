import { configFrom } from '../config.js';
import { parse } from './args.js';
import { adminCall } from './admin-client.js';
/** `sidekey workloads list | quarantine NAME [--reason TEXT] | release NAME` against the running sidekey. */
export async function workloads(argv) {
    const { flags, positionals } = parse(argv, ['admin', 'certs', 'home', 'reason'], ['json']);
    const config = configFrom({ admin: flags.admin, certs: flags.certs, home: flags.home });
    const [action, name] = positionals;
    if (action === 'list') {
        const { body } = await adminCall(config, 'GET', '/v1/workloads');
        const list = (body.workloads ?? []);
        if (flags.json === true)
            console.log(JSON.stringify(list, null, 2));
        else if (list.length === 0)
            console.log('no workloads seen yet');
        else {
            for (const w of list) {
                const state = w.quarantined ? `QUARANTINED (${w.quarantined.reason})` : w.throttled ? `throttled to ${w.throttled.rps}/s until ${w.throttled.until}` : w.learning ? 'learning' : 'normal';
                console.log(`${w.workload.padEnd(24)} ${state.padEnd(40)} ${w.requests} requests, ${w.destinations} destinations`);
            }
        }
        return 0;
    }
    if ((action === 'quarantine' || action === 'release') && name !== undefined) {
        const { status, body } = await adminCall(config, 'POST', `/v1/workloads/${encodeURIComponent(name)}/${action}`, action === 'quarantine' ? { reason: flags.reason } : undefined);
        if (status !== 200) {
            console.error(`sidekey: ${body.error?.message ?? `admin API answered ${status}`}`);
            return 1;
        }
        console.log(action === 'quarantine' ? `${name} quarantined: its requests are refused until released` : `${name} released`);
        return 0;
    }
    console.error('usage: sidekey workloads list [--json] | quarantine NAME [--reason TEXT] | release NAME   [--admin HOST:PORT] [--certs DIR]');
    return 2;
}
//# sourceMappingURL=workloads.js.map