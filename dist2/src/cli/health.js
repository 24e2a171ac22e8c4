import { request } from 'undici';
import { configFrom } from '../config.js';
import { adminUrl } from './admin-client.js';
import { parse } from './args.js';
/** How often `--wait` asks again. */
const WAIT_EVERY_MS = 200;
/**
 * `sidekey health [--ready] [--wait SECONDS]`: exit 0 when the running sidekey answers /healthz
 * (or /readyz) on its admin listener; with --wait, ask again until it does or SECONDS pass. The
 * container image's HEALTHCHECK, and the Helm chart's postStart hold on clusters without native
 * sidecars (the kubelet starts the agent's container only once this returns). The chart's probes
 * are httpGet probes on the health listener instead: this starts a whole Node process.
 */
export async function health(argv) {
    const { flags } = parse(argv, ['admin', 'wait'], ['ready']);
    const config = configFrom({ admin: flags.admin });
    const path = flags.ready === true ? '/readyz' : '/healthz';
    const waitSeconds = typeof flags.wait === 'string' ? Number(flags.wait) : 0;
    if (!Number.isFinite(waitSeconds) || waitSeconds < 0) {
        console.error(`sidekey: --wait "${String(flags.wait)}" is not a number of seconds`);
        return 2;
    }
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
        const code = await askOnce(`${adminUrl(config)}${path}`, path, Date.now() + WAIT_EVERY_MS < deadline);
        if (code === 0 || Date.now() + WAIT_EVERY_MS >= deadline)
            return code;
        await new Promise((resolve) => setTimeout(resolve, WAIT_EVERY_MS));
    }
}
/** One request; `quiet` while more attempts follow (only the last failure is worth a line). */
async function askOnce(url, path, quiet) {
    const fail = (why) => {
        if (!quiet)
            console.error(`sidekey: ${path} ${why}`);
        return 1;
    };
    try {
        const res = await request(url, { signal: AbortSignal.timeout(3000) });
        const text = await res.body.text();
        if (res.statusCode === 200) {
            // Still ready (the last good policy serves), but say so: a person running this should know.
            const stale = staleDetail(text);
            if (stale !== null)
                console.error(`sidekey: ready, but the policy is stale: ${stale}`);
            return 0;
        }
        return fail(`answered ${res.statusCode}: ${text.slice(0, 200)}`);
    }
    catch (err) {
        return fail(`did not answer: ${err.message}`);
    }
}
/** The stale-policy detail of a /readyz answer, or null. */
function staleDetail(text) {
    try {
        const policy = JSON.parse(text).policy;
        return policy?.stale === true && typeof policy.detail === 'string' ? policy.detail : null;
    }
    catch {
        return null;
    }
}
//# sourceMappingURL=health.js.map