import { readFile, stat } from 'node:fs/promises'
import { SidekeyError } from '../errors.js'
import type { CredentialProvider, ObtainedCredential } from './provider.js'

/** How often a file-backed secret is checked for change (mounted Kubernetes Secrets rotate in place). */
const FILE_RECHECK_MS = 1000

/**
 * A static secret from one of sidekey's environment variables. Read on every use so a restart is
 * not the only way to change it, and never copied into the agent's environment (`sidekey run`
 * gives the agent a placeholder for the same name).
 */
export class EnvSecretProvider implements CredentialProvider {
  readonly type = 'static'

  constructor(
    readonly name: string,
    readonly envName: string,
  ) {}

  async obtain(): Promise<ObtainedCredential> {
    const value = process.env[this.envName]
    const secret = value === undefined ? '' : stripLineBreaks(value)
    if (secret === '') {
      throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${this.name}": environment variable ${this.envName} is not set`)
    }
    return { secret, source: 'env' }
  }
}

/**
 * A static secret from a file, re-read when its modification time or size changes (checked at
 * most once a second). CR and LF are stripped, as a trailing newline in a Secret is the commonest
 * way to break a header (envoy generic_impl does the same).
 */
export class FileSecretProvider implements CredentialProvider {
  readonly type = 'static'
  #cached: { secret: string; mtimeMs: number; size: number } | null = null
  #checkedAt = 0

  constructor(
    readonly name: string,
    readonly path: string,
  ) {}

  async obtain(): Promise<ObtainedCredential> {
    const now = Date.now()
    if (this.#cached !== null && now - this.#checkedAt < FILE_RECHECK_MS) {
      return { secret: this.#cached.secret, source: 'file' }
    }
    try {
      const info = await stat(this.path)
      if (this.#cached === null || info.mtimeMs !== this.#cached.mtimeMs || info.size !== this.#cached.size) {
        const secret = stripLineBreaks(await readFile(this.path, 'utf8'))
        if (secret === '') throw new Error('file is empty')
        this.#cached = { secret, mtimeMs: info.mtimeMs, size: info.size }
      }
      this.#checkedAt = now
      return { secret: this.#cached.secret, source: 'file' }
    } catch (cause) {
      // A secret that disappears is gone: do not keep serving the old value (fail closed).
      this.#cached = null
      const why = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message
      throw new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${this.name}": cannot read secret file ${this.path} (${why})`, { cause })
    }
  }
}

function stripLineBreaks(value: string): string {
  return value.replace(/[\r\n]+/g, '').trim()
}
