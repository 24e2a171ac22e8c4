import { readFile } from 'node:fs/promises';
import t from 'tap';
import { ERROR_CODES, SidekeyError } from '../../src/errors.js';
// Every error code is documented in docs/errors.md with its status (after fastify's
// test/internals/errors.test.js), and the page documents no code that does not exist.
t.test('every error code is in docs/errors.md with its status', async (t) => {
    const readme = await readFile(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
        const row = readme.split('\n').find((line) => line.startsWith(`| \`${code}\` |`));
        t.ok(row, `${code} has a row in the error table of docs/errors.md`);
        t.match(row ?? '', new RegExp(`\\| ${status} \\|`), `${code} is documented with status ${status}`);
    }
    const documented = [...readme.matchAll(/\| `(SIDEKEY_ERR_[A-Z_]+)` \|/g)].map((m) => m[1]);
    t.same(documented.filter((c) => !(c in ERROR_CODES)), [], 'no documented code is unknown');
});
t.test('SidekeyError carries code and status', async (t) => {
    const e = new SidekeyError('SIDEKEY_ERR_NO_ROUTE', 'x');
    t.equal(e.status, 403);
    t.equal(e.code, 'SIDEKEY_ERR_NO_ROUTE');
    t.ok(e instanceof Error);
});
//# sourceMappingURL=errors.test.js.map