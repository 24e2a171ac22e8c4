/**
 * Renders `docs/errors.md` from the error registry, so the page an agent's operator reads and the
 * codes sidekey answers with cannot drift apart. `write-errors-doc.ts` writes it to disk;
 * `test/unit/errors-doc.test.ts` fails when the committed page differs from this rendering.
 */
import { ERROR_CODES } from '../src/errors.js';
/** The command that regenerates the page, named wherever a stale page is reported. */
export const REGENERATE_COMMAND = 'npm run docs:errors';
/** A table cell: a `|` in the text would end the cell early. */
function cell(text) {
    return text.replaceAll('|', '\\|');
}
/** The whole Markdown page for `codes` (the registry by default), ending in one newline. */
export function renderErrorsDoc(codes = ERROR_CODES) {
    const rows = Object.entries(codes).map(([code, { status, meaning }]) => `| \`${code}\` | ${status} | ${cell(meaning)} |`);
    return [
        '# Error codes',
        '',
        `<!-- Generated from ERROR_CODES in src/errors.ts by \`${REGENERATE_COMMAND}\`: edit the registry, not this page. -->`,
        '',
        'Every refusal answers with the status below, the header `x-sidekey-error: CODE`, a status line',
        'that says why (`403 sidekey: MESSAGE (CODE)`: for a refused CONNECT it is all most clients print)',
        'and a JSON body `{"error","code","message","reason","request_id"}`, where `error` is the same line',
        'as one string (`sidekey: MESSAGE (CODE)`, what clients such as npm print) and the other fields hold',
        'its parts. Where there is something to change, the message says what (the route to add, the',
        "variable to set in sidekey's environment, the address to name in a route's `addresses`).",
        '',
        '| code | status | meaning |',
        '| --- | --- | --- |',
        ...rows,
        '',
    ].join('\n');
}
//# sourceMappingURL=errors-doc.js.map