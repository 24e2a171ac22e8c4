import { resolve } from 'node:path'
import type { SecretRefV1 } from '../../policy/schema.js'
import type { CredentialProvider } from '../provider.js'
import type { CredentialRuntime } from '../runtime.js'
import { EnvSource, FileSource, type SecretSource } from '../secret-source.js'
import type { IdpTransport } from '../provider-http.js'

/** Where a credential definition is, and how to report a problem in it. */
export interface BuildContext {
  /** Directory relative file paths are resolved against (the policy file's). */
  readonly baseDir: string
  readonly runtime: CredentialRuntime
  /** Credentials built so far (an exchange may name a jwt credential as its subject). */
  readonly built: ReadonlyMap<string, CredentialProvider>
  /** Report a problem in the definition, at `field` or (null) at the definition itself. */
  problem(field: string | null, message: string): void
  /** Record an environment variable that holds a secret (`sidekey run` hides it from agents). */
  secretEnv(name: string): void
  /** Record a file a secret is read from (`sidekey run`'s sandbox hides it from agents). */
  secretFile(path: string): void
}

/**
 * Builds the provider of one credential type from its definition, or reports why not (and
 * returns null). `fingerprint` changes when the definition does, so cached tokens of an edited
 * definition are not reused.
 */
export type CredentialBuilder<D> = (name: string, def: D, ctx: BuildContext, fingerprint: string) => CredentialProvider | null

/** The one field of `fields` that is set, or null when none or several are. */
export function exactlyOne<R extends Record<string, unknown>>(fields: R): { [K in keyof R]: { key: K; value: NonNullable<R[K]> } }[keyof R] | null {
  const given = Object.entries(fields).filter(([, value]) => value !== undefined)
  if (given.length !== 1) return null
  const [key, value] = given[0] as [keyof R, NonNullable<R[keyof R]>]
  return { key, value }
}

/** Where a secret reference's value is read from; its variable or file is recorded as a secret. */
export function secretSource(ref: SecretRefV1, ctx: BuildContext, alwaysReread = false): SecretSource {
  if (ref.env !== undefined) {
    ctx.secretEnv(ref.env)
    return new EnvSource(ref.env)
  }
  return new FileSource(secretFile(ref.file, ctx), alwaysReread)
}

/** A projected token (Kubernetes service account): it rotates, so the file is read on every use. */
export function projectedToken(path: string, ctx: BuildContext): SecretSource {
  return new FileSource(secretFile(path, ctx), true)
}

/** A secret file's absolute path (relative to the policy file), recorded so the sandbox hides it. */
export function secretFile(path: string, ctx: BuildContext): string {
  const absolute = resolve(ctx.baseDir, path)
  ctx.secretFile(absolute)
  return absolute
}

/** The runtime's transport to identity providers, with the definition's own timeout if it sets one. */
export function transportOf(timeoutMs: number | undefined, ctx: BuildContext): IdpTransport {
  const { transport } = ctx.runtime
  return timeoutMs === undefined ? transport : { ...transport, timeoutMs }
}
