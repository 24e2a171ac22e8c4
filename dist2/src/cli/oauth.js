import { setTimeout as sleep } from 'node:timers/promises';
import { configFrom } from '../config.js';
import { adminCall, cliUser, failed } from './admin-client.js';
import { parse } from './args.js';
const USAGE = 'usage: sidekey oauth list [--json] | connect NAME [--wait 600] | revoke NAME   [--admin HOST:PORT] [--certs DIR]';
/** How often `connect` asks whether the person has finished. */
const POLL_MS = 1000;
/**
 * `sidekey oauth ...`: the delegated grants of the running sidekey. `connect` prints the link a
 * person opens in a browser (on any machine that reaches sidekey's admin listener) and waits until
 * the authorization finishes; the tokens stay in sidekey, this command never sees them.
 */
export async function oauth(argv) {
    const { flags, positionals } = parse(argv, ['admin', 'certs', 'home', 'wait'], ['json']);
    const config = configFrom({ admin: flags.admin, certs: flags.certs, home: flags.home });
    const [action, name] = positionals;
    const by = `cli:${cliUser()}`;
    if (action === 'list') {
        const { status, body } = await adminCall(config, 'GET', '/v1/oauth/grants');
        if (status !== 200)
            return failed(status, body);
        const grants = (body.grants ?? []);
        if (flags.json === true)
            console.log(JSON.stringify(grants, null, 2));
        else if (grants.length === 0)
            console.log('no delegated credential (type oauth2-authorization-code) in the policy');
        else
            for (const g of grants)
                console.log(`${g.credential}  ${g.status}${g.problem ? ` (${g.problem})` : ''}  ${g.provider}  scopes: ${(g.status === 'not-connected' ? g.requested_scopes : g.scopes).join(' ') || '-'}${g.connected_by ? `  connected by ${g.connected_by} at ${g.connected_at}` : ''}`);
        return 0;
    }
    if (action === 'connect' && name !== undefined) {
        const { status, body } = await adminCall(config, 'POST', `/v1/oauth/grants/${encodeURIComponent(name)}/connect`, { by });
        if (status !== 201)
            return failed(status, body);
        const scopes = body.scopes.join(' ') || "the provider's default";
        console.log(`Connect "${name}" at ${String(body.provider)} (scopes: ${scopes}).\nOpen this link in a browser (it works once, for 10 minutes):\n\n  ${String(body.url)}\n\nWaiting for the sign-in to finish...`);
        const waitMs = Number(flags.wait ?? 600) * 1000;
        const deadline = Date.now() + (Number.isFinite(waitMs) && waitMs > 0 ? waitMs : 600_000);
        while (Date.now() < deadline) {
            await sleep(POLL_MS);
            const flow = await adminCall(config, 'GET', `/v1/oauth/flows/${String(body.flow)}`);
            if (flow.status !== 200)
                return failed(flow.status, flow.body);
            if (flow.body.status === 'connected') {
                console.log(`connected ${name}: sidekey holds the grant`);
                return 0;
            }
            if (flow.body.status === 'failed') {
                console.error(`sidekey: not connected: ${String(flow.body.problem)}`);
                return 1;
            }
        }
        console.error('sidekey: nobody finished the sign-in in time; run connect again');
        return 1;
    }
    if (action === 'revoke' && name !== undefined) {
        const { status, body } = await adminCall(config, 'DELETE', `/v1/oauth/grants/${encodeURIComponent(name)}`, { by });
        if (status !== 200)
            return failed(status, body);
        console.log(`revoked ${name}${body.at_provider === true ? ', also at the provider' : body.at_provider === false ? '; the provider did not confirm its revocation' : ' (the provider has no revocation endpoint)'}`);
        return 0;
    }
    console.error(USAGE);
    return 2;
}
//# sourceMappingURL=oauth.js.map