import { join, resolve } from 'node:path'
import { PUBLIC_CA_FILES } from '../ca/files.js'
import type { Config } from '../config.js'
import type { Policy } from '../policy/types.js'
import type { StateSettings } from '../state/config.js'

/**
 * What `sidekey run`'s sandbox must keep from the agent, as one running sidekey knows it: absolute
 * paths as sidekey reads them (symlinks not yet resolved, so the sandbox can check where they live).
 */
export interface PrivatePaths {
  /** Hidden: the certs directory (CA key, admin token, signing keys, baselines), the policy path and
   * every policy file, the state file, every file a credential, webhook or store reads a secret from,
   * the directory a CA is imported from (`--ca-from`, which holds its key), and a log file of its own
   * (`--log`: every workload's audit lines). */
  readonly hide: readonly string[]
  /** Public files inside a hidden directory that the agent needs, shown read-only: the CA certificate and trust bundle. */
  readonly show: readonly string[]
  /** Not secret, but what sidekey trusts or writes through: the upstream CA file (`--upstream-ca`)
   * and the directory the CA certificate is published to (`--publish-ca`). Read-only to the agent. */
  readonly protect: readonly string[]
}

/**
 * Derive the private paths from the configuration and what was loaded from it, never from a fixed
 * list, so a secret file a policy names is hidden like the certs directory. Relative paths are
 * resolved against this process's working directory, as sidekey itself reads them. `logFile` is
 * where this sidekey writes its log, when that is a file.
 */
export function privatePaths(config: Config, policy: Policy, state: StateSettings, logFile: string | null = null): PrivatePaths {
  const certsDir = resolve(config.certsDir)
  const hide = [
    certsDir,
    resolve(config.policyPath),
    ...policy.files,
    ...policy.secretFiles,
    ...(config.statePath === null ? [] : [resolve(config.statePath)]),
    ...state.secretFiles,
    ...(config.caFromDir === null ? [] : [resolve(config.caFromDir)]),
    ...(logFile === null ? [] : [resolve(logFile)]),
  ]
  const protect = [config.upstreamCaFile, config.publishCaDir].filter((p) => p !== null).map((p) => resolve(p))
  return Object.freeze({
    hide: Object.freeze([...new Set(hide)]),
    show: Object.freeze(PUBLIC_CA_FILES.map((name) => join(certsDir, name))),
    protect: Object.freeze([...new Set(protect)]),
  })
}
