/**
 * Agent-controlled text made safe to show an approver as it is. Control characters (a terminal
 * escape could redraw `sidekey approvals list`, a carriage return overwrite a line), bidirectional
 * overrides and isolates (which reorder what is displayed, "Trojan Source", CVE-2021-42574) and
 * invisible characters are written as `\u{...}`, so what a person reads is what is sent. Newlines
 * and tabs are kept in multi-line text (a body) and escaped elsewhere.
 *
 * Self-contained on purpose: the web console embeds this function's source, so the page and the
 * CLI show text the same way.
 */
export function visible(text, multiline = false) {
    // eslint-disable-next-line no-control-regex
    return text.replace(/[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]/g, (c) => multiline && (c === '\n' || c === '\t') ? c : `\\u{${c.charCodeAt(0).toString(16).padStart(4, '0')}}`);
}
//# sourceMappingURL=visible.js.map