import { configFrom } from '../config.js';
import { visible } from '../approvals/visible.js';
import { formatAuthority } from '../policy/host.js';
import { adminCall, adminUrl, cliUser, failed, readAdminToken } from './admin-client.js';
import { parse } from './args.js';
const USAGE = 'usage: sidekey approvals list [--all] [--json] | approve ID [--for 10m] [--note TEXT] | deny ID [--note TEXT] | console   [--admin HOST:PORT] [--certs DIR]';
/**
 * `sidekey approvals ...` against the running sidekey's admin API (with the admin token from the
 * certs directory, which the agent cannot read).
 */
export async function approvals(argv) {
    const { flags, positionals } = parse(argv, ['admin', 'certs', 'home', 'for', 'note'], ['json', 'all']);
    const config = configFrom({ admin: flags.admin, certs: flags.certs, home: flags.home });
    const [action, id] = positionals;
    if (action === 'list') {
        const { status, body } = await adminCall(config, 'GET', '/v1/approvals');
        if (status !== 200)
            return failed(status, body);
        const list = (body.approvals ?? []).filter((a) => flags.all === true || a.status === 'pending');
        if (flags.json === true)
            console.log(JSON.stringify(list, null, 2));
        else if (list.length === 0)
            console.log(flags.all === true ? 'no approvals yet' : 'nothing waits for approval');
        else
            for (const a of list)
                console.log(describe(a));
        return 0;
    }
    if ((action === 'approve' || action === 'deny') && id !== undefined) {
        const by = `cli:${cliUser()}`;
        const { status, body } = await adminCall(config, 'POST', `/v1/approvals/${encodeURIComponent(id)}/${action}`, { for: flags.for, note: flags.note, by });
        if (status !== 200)
            return failed(status, body);
        const grant = body.grant_until;
        console.log(action === 'approve' ? `approved ${id}${grant ? `; the workload may use this route without asking until ${grant}` : ''}` : `denied ${id}`);
        return 0;
    }
    if (action === 'console') {
        // The token goes in the fragment, which the browser keeps to itself.
        console.log(`${adminUrl(config)}/console#token=${encodeURIComponent(await readAdminToken(config))}`);
        return 0;
    }
    console.error(USAGE);
    return 2;
}
/**
 * One approval as an approver reads it in a terminal: the request line, why it waits, every query
 * parameter with its value, the headers that go upstream (credentials left out) and the whole body
 * (docs/security.md: nothing is cut). Agent-controlled text goes through `visible`.
 */
function describe(a) {
    const lines = [`${a.id}  ${a.status.padEnd(9)} ${visible(a.workload ?? 'anonymous')}  ${a.method} ${formatAuthority(a)}${visible(a.path)}  expires ${a.expires}`, `    why: ${visible(a.why)}`];
    // Records stored by an older sidekey have no query or headers.
    for (const [name, value] of a.query ?? [])
        lines.push(`    query: ${visible(name)} = ${visible(value)}`);
    for (const [name, value] of a.headers ?? [])
        lines.push(`    header: ${visible(name)}: ${visible(value)}`);
    if (a.body != null) {
        const [first, ...rest] = visible(a.body, true).split('\n');
        lines.push(`    body${a.body_encoding === 'base64' ? ' (not UTF-8, as base64)' : ''}: ${first}`, ...rest.map((line) => `          ${line}`));
    }
    return lines.join('\n');
}
//# sourceMappingURL=approvals.js.map