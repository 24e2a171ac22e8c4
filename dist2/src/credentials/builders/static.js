import { EnvSecretProvider, FileSecretProvider } from '../static.js';
import { exactlyOne, secretFile } from './context.js';
/** A static secret from one of sidekey's environment variables or a file. */
export const buildStatic = (name, def, ctx) => {
    const source = exactlyOne({ env: def.env, file: def.file });
    if (source === null) {
        ctx.problem(null, 'a static credential takes exactly one of env or file');
        return null;
    }
    if (source.key === 'file')
        return new FileSecretProvider(name, secretFile(source.value, ctx));
    ctx.secretEnv(source.value);
    return new EnvSecretProvider(name, source.value);
};
//# sourceMappingURL=static.js.map