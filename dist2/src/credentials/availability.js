import { FileSource } from './secret-source.js';
/**
 * Whether one source can be read now, checked as sidekey reads it: a variable that is set and not
 * blank, a file this process can read that is not empty. Null when it can; the problem otherwise.
 */
export async function sourceProblem(source, env = process.env) {
    if (source.kind === 'env') {
        return (env[source.name] ?? '').trim() === '' ? `variable ${source.name} is not set in sidekey's environment` : null;
    }
    // Read as a request would read it (FileSource): an empty file is as unusable as a missing one.
    try {
        await new FileSource(source.name, true).read();
        return null;
    }
    catch (err) {
        const code = err.cause?.code;
        return code === undefined ? `file ${source.name} is empty` : `file ${source.name} cannot be read (${code})`;
    }
}
/**
 * Every source of every credential in `policy` that cannot be read now: a request that needs one
 * would be refused (SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE). `sidekey start` warns of each; explain
 * says it for the credential it names.
 */
export async function unavailableSources(policy, env = process.env) {
    const out = [];
    for (const [credential, sources] of policy.credentialSources) {
        for (const source of sources) {
            const problem = await sourceProblem(source, env);
            if (problem !== null)
                out.push({ credential, source, problem });
        }
    }
    return out;
}
//# sourceMappingURL=availability.js.map