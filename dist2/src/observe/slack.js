import { visible } from '../approvals/visible.js';
import { bracketed } from '../policy/host.js';
/**
 * A webhook event as a Slack incoming-webhook message (`{"text": ...}`, which Slack, Mattermost,
 * Rocket.Chat and Teams' Slack-compatible connectors accept), for webhooks set with
 * `format: slack`. Agent-controlled text is escaped as Slack asks (`&`, `<`, `>`), so a path cannot
 * become a link or an `<!channel>` mention, and made visible as the console shows it.
 */
export function slackMessage(event) {
    const e = (event ?? {});
    if (e.type === 'approval_requested' && typeof e.approval === 'object' && e.approval !== null)
        return { text: approvalText(e.approval) };
    const fields = Object.entries(e)
        .filter(([k, v]) => k !== 'event' && k !== 'type' && v !== null && v !== undefined)
        .map(([k, v]) => `${k}: ${escaped(typeof v === 'string' ? v : JSON.stringify(v))}`);
    return { text: `:rotating_light: sidekey ${escaped(String(e.type ?? e.event ?? 'event'))}\n${fields.join('\n')}` };
}
function approvalText(a) {
    const port = a.port === 443 || a.port === 80 ? '' : `:${String(a.port)}`;
    const target = `${String(a.method)} ${bracketed(String(a.host))}${port}${String(a.path)}`;
    const asynchronous = a.mode === 'async' ? ' The agent was told to send it again; it goes through once approved.' : ' The request is held until then.';
    return [
        `:raised_hand: sidekey: workload *${escaped(String(a.workload ?? 'anonymous'))}* asks to send \`${escaped(clip(target))}\` (route \`${escaped(String(a.route))}\`).`,
        `Why: ${escaped(String(a.why))}. Body: ${String(a.body_bytes)} bytes.`,
        `Decide before ${String(a.expires)} in the console or with \`sidekey approvals approve ${String(a.id)}\` / \`sidekey approvals deny ${String(a.id)}\`.${asynchronous}`,
    ].join('\n');
}
/** Slack's three escapes, after control and bidirectional characters are made visible. */
function escaped(text) {
    return visible(text).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
function clip(text) {
    return text.length > 500 ? `${text.slice(0, 500)}...` : text;
}
//# sourceMappingURL=slack.js.map