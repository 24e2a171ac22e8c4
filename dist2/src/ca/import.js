import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SidekeyError } from '../errors.js';
import { writeAtomically } from './authority.js';
import { writePrivate } from '../credentials/private-file.js';
import { CA_FILES } from './files.js';
/**
 * Copy an existing CA (`--ca-from`, a mounted Kubernetes Secret) into the certs directory with
 * the key at mode 0600, before the CA is loaded.
 *
 * A Secret volume's files belong to root and, for a non-root container without an fsGroup, must be
 * readable by others (0444) or sidekey could not read them at all; `loadCA` refuses a key readable
 * by others, rightly for a key on a disk (issue #18: the chart's existing-CA layout crash-looped).
 * Copying keeps that one rule for every key sidekey loads, instead of an exception for root-owned
 * read-only files that would also pass a careless `chmod 444` on a laptop. The certs directory
 * in a pod is a memory-backed emptyDir only the sidekey container mounts. Copied again at every
 * start, so a rotated Secret takes effect on the next restart.
 */
export async function importCa(fromDir, certsDir) {
    let cert;
    let key;
    try {
        ;
        [cert, key] = await Promise.all([readFile(join(fromDir, CA_FILES.cert)), readFile(join(fromDir, CA_FILES.key))]);
    }
    catch (cause) {
        throw new SidekeyError('SIDEKEY_ERR_CA', `cannot read ${CA_FILES.cert} and ${CA_FILES.key} in --ca-from ${fromDir} (${cause.code ?? 'error'})`, { cause });
    }
    try {
        await mkdir(certsDir, { recursive: true, mode: 0o700 });
        await writePrivate(join(certsDir, CA_FILES.key), key);
        await writeAtomically(join(certsDir, CA_FILES.cert), cert);
    }
    catch (cause) {
        throw new SidekeyError('SIDEKEY_ERR_CA', `cannot copy the CA from --ca-from ${fromDir} into --certs ${certsDir} (${cause.code ?? 'error'})`, { cause });
    }
}
//# sourceMappingURL=import.js.map