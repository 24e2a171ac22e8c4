import { SidekeyError } from '../errors.js';
import { EnvSource, FileSource } from './secret-source.js';
/**
 * A static secret sidekey holds: read from its source on every use (a file is re-checked at most
 * once a second, so a rotated Kubernetes Secret is picked up), header-safe (CR/LF stripped), and
 * fail closed: an unset variable or unreadable file is SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE, never an
 * old value and never an empty header.
 */
export class StaticSecretProvider {
    name;
    source;
    from;
    type = 'static';
    constructor(name, source, from) {
        this.name = name;
        this.source = source;
        this.from = from;
    }
    async obtain() {
        try {
            return { secret: await this.source.read(true), source: this.from };
        }
        catch (cause) {
            throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${this.name}": ${cause.message}`, { cause });
        }
    }
}
/** A static secret in one of sidekey's environment variables (never copied to the agent). */
export class EnvSecretProvider extends StaticSecretProvider {
    envName;
    constructor(name, envName) {
        super(name, new EnvSource(envName), 'env');
        this.envName = envName;
    }
}
/** A static secret in a file. */
export class FileSecretProvider extends StaticSecretProvider {
    path;
    constructor(name, path) {
        super(name, new FileSource(path), 'file');
        this.path = path;
    }
}
//# sourceMappingURL=static.js.map