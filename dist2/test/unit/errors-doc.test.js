import { readFile } from 'node:fs/promises';
import t from 'tap';
import { REGENERATE_COMMAND, renderErrorsDoc } from '../../scripts/errors-doc.js';
// docs/errors.md is generated from the error registry; a hand edit or a new code without a
// regenerated page must fail here, not drift.
t.test('docs/errors.md is what the registry renders', async (t) => {
    const committed = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    t.equal(committed, renderErrorsDoc(), `docs/errors.md is stale: run \`${REGENERATE_COMMAND}\` and commit the result`);
});
t.test('the rendering: one row per code, in registry order, with pipes escaped', async (t) => {
    const page = renderErrorsDoc({
        SIDEKEY_ERR_FIRST: { status: 400, meaning: 'Send `a | b` once.' },
        SIDEKEY_ERR_SECOND: { status: 503, meaning: 'Retry later.' },
    });
    const rows = page.split('\n').filter((line) => line.startsWith('| `'));
    t.same(rows, [
        '| `SIDEKEY_ERR_FIRST` | 400 | Send `a \\| b` once. |',
        '| `SIDEKEY_ERR_SECOND` | 503 | Retry later. |',
    ]);
    t.ok(page.includes('| code | status | meaning |'), 'the table has its header');
    t.ok(page.endsWith(' |\n'), 'the page ends with the last row and one newline');
});
//# sourceMappingURL=errors-doc.test.js.map