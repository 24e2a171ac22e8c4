/** `npm run docs:errors`: writes `docs/errors.md` from the error registry. */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { renderErrorsDoc } from './errors-doc.js';
// Compiled to dist/scripts/, two levels below the repository root.
const target = fileURLToPath(new URL('../../docs/errors.md', import.meta.url));
await writeFile(target, renderErrorsDoc());
console.log(`wrote ${target}`);
//# sourceMappingURL=write-errors-doc.js.map