import { resolve } from 'node:path';
import { EnvSource, FileSource } from '../secret-source.js';
/** The one field of `fields` that is set, or null when none or several are. */
export function exactlyOne(fields) {
    const given = Object.entries(fields).filter(([, value]) => value !== undefined);
    if (given.length !== 1)
        return null;
    const [key, value] = given[0];
    return { key, value };
}
/** Where a secret reference's value is read from; its variable or file is recorded as a secret. */
export function secretSource(ref, ctx, alwaysReread = false) {
    if (ref.env !== undefined) {
        ctx.secretEnv(ref.env);
        return new EnvSource(ref.env);
    }
    return new FileSource(secretFile(ref.file, ctx), alwaysReread);
}
/** A projected token (Kubernetes service account): it rotates, so the file is read on every use. */
export function projectedToken(path, ctx) {
    return new FileSource(secretFile(path, ctx), true);
}
/** A secret file's absolute path (relative to the policy file), recorded so the sandbox hides it. */
export function secretFile(path, ctx) {
    const absolute = resolve(ctx.baseDir, path);
    ctx.secretFile(absolute);
    return absolute;
}
/** The runtime's transport to identity providers, with the definition's own timeout if it sets one. */
export function transportOf(timeoutMs, ctx) {
    const { transport } = ctx.runtime;
    return timeoutMs === undefined ? transport : { ...transport, timeoutMs };
}
//# sourceMappingURL=context.js.map