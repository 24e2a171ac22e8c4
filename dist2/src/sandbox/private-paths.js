import { join, resolve } from 'node:path';
import { PUBLIC_CA_FILES } from '../ca/files.js';
/**
 * Derive the private paths from the configuration and what was loaded from it, never from a fixed
 * list, so a secret file a policy names is hidden like the certs directory. Relative paths are
 * resolved against this process's working directory, as sidekey itself reads them. `logFile` is
 * where this sidekey writes its log, when that is a file.
 */
export function privatePaths(config, policy, state, logFile = null) {
    const certsDir = resolve(config.certsDir);
    const hide = [
        certsDir,
        resolve(config.policyPath),
        ...policy.files,
        ...policy.secretFiles,
        ...(config.statePath === null ? [] : [resolve(config.statePath)]),
        ...state.secretFiles,
        ...(config.caFromDir === null ? [] : [resolve(config.caFromDir)]),
        ...(logFile === null ? [] : [resolve(logFile)]),
    ];
    const protect = [config.upstreamCaFile, config.publishCaDir].filter((p) => p !== null).map((p) => resolve(p));
    return Object.freeze({
        hide: Object.freeze([...new Set(hide)]),
        show: Object.freeze(PUBLIC_CA_FILES.map((name) => join(certsDir, name))),
        protect: Object.freeze([...new Set(protect)]),
    });
}
//# sourceMappingURL=private-paths.js.map