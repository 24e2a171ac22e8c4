import { unavailableSources } from '../credentials/availability.js';
import { orderDecidedRoutes } from '../policy/lint.js';
/**
 * What is wrong in a policy that loaded: each credential source that cannot be read now (its
 * requests would be refused), and each pair of overlapping routes of different files that decide
 * differently, where only the files' name order picks the winner.
 */
export async function startWarnings(policy, env = process.env) {
    const warnings = [];
    for (const u of await unavailableSources(policy, env)) {
        warnings.push({
            event: 'credential_unavailable',
            fields: { credential: u.credential, [u.source.kind === 'env' ? 'variable' : 'file']: u.source.name },
            message: `credential "${u.credential}" cannot be obtained: ${u.problem}; requests that need it will be refused`,
        });
    }
    for (const { first, second } of orderDecidedRoutes(policy)) {
        warnings.push({
            event: 'route_order_decides',
            fields: { route: first.name, at: `${first.file}:${first.line}`, other: second.name, other_at: `${second.file}:${second.line}` },
            message: `routes "${first.name}" (${first.file}:${first.line}) and "${second.name}" (${second.file}:${second.line}) overlap and decide differently; "${first.name}" wins only because its file's name sorts first`,
        });
    }
    return warnings;
}
/**
 * The start-up report: each warning as a log line, for log pipelines (the `started` line already
 * carries the addresses), and on a terminal a short summary for a person too (where to point
 * clients, the console and metrics, the warnings, what to run next).
 */
export function reportStart(at, warnings, out) {
    for (const w of warnings)
        out.log.warn({ event: w.event, ...w.fields }, w.message);
    if (out.tty)
        out.write(humanSummary(at, warnings));
}
/** The summary a person reads on a terminal (no colour: it must read the same in a pasted issue). */
function humanSummary(at, warnings) {
    const lines = [
        '',
        `sidekey is running${at.reportOnly ? ' in report-only mode (refusals are logged, not enforced)' : ''} with ${at.routes} route(s)`,
        `  proxy    ${at.proxyUrl}`,
        `  console  ${at.adminUrl}/console`,
        `  metrics  ${at.adminUrl}/metrics`,
        ...(at.logFile === null ? [] : [`  log      ${at.logFile}`]),
        ...warnings.map((w) => `  warning: ${w.message}`),
        'next:',
        '  sidekey run -- YOUR_AGENT_COMMAND     run an agent through it (sandboxed, with a run token)',
        '  sidekey explain GET https://HOST/PATH  what would happen to a request, and why',
        `  sidekey audit --follow               each request as it happens, readable${at.logFile === null ? ' (pipe the log in: sidekey start | sidekey audit)' : ''}`,
        '',
    ];
    return `${lines.join('\n')}\n`;
}
//# sourceMappingURL=start-report.js.map