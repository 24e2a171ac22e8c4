import { SidekeyError } from '../errors.js'
import type { CredentialProvider, ObtainedCredential } from './provider.js'
import { EnvSource, FileSource, type SecretSource } from './secret-source.js'

/**
 * A static secret sidekey holds: read from its source on every use (a file is re-checked at most
 * once a second, so a rotated Kubernetes Secret is picked up), header-safe (CR/LF stripped), and
 * fail closed: an unset variable or unreadable file is SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE, never an
 * old value and never an empty header.
 */
export class StaticSecretProvider implements CredentialProvider {
  readonly type = 'static'

  constructor(
    readonly name: string,
    readonly source: SecretSource,
    private readonly from: 'env' | 'file',
  ) {}

  async obtain(): Promise<ObtainedCredential> {
    try {
      return { secret: await this.source.read(true), source: this.from }
    } catch (cause) {
      throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${this.name}": ${(cause as Error).message}`, { cause })
    }
  }
}

/** A static secret in one of sidekey's environment variables (never copied to the agent). */
export class EnvSecretProvider extends StaticSecretProvider {
  constructor(name: string, readonly envName: string) {
    super(name, new EnvSource(envName), 'env')
  }
}

/** A static secret in a file. */
export class FileSecretProvider extends StaticSecretProvider {
  constructor(name: string, readonly path: string) {
    super(name, new FileSource(path), 'file')
  }
}
