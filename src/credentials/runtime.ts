import { join } from 'node:path'
import { createSecureContext } from 'node:tls'
import { Agent } from '../http/undici.js'
import { MemoryStore, type ExpiringValues, type SharedValues, type StoreStatus } from '../state/store.js'
import { AuthorizationFlows } from './delegated/authorization-flow.js'
import { FileValues } from './delegated/file-values.js'
import { GrantVault } from './delegated/grant-vault.js'
import { DelegatedGrants } from './delegated/grants.js'
import { subkey } from './sealed-box.js'
import { SigningKeys, type SharedKeyStore } from './signing-keys.js'
import { TokenCache } from './token-cache.js'
import type { IdpTransport } from './provider-http.js'
import type { Resolver } from '../forward/ssrf.js'
import { DiscoveredHosts } from './discovered-hosts.js'

/**
 * What credential providers share across policy reloads: the token cache (so a reload does not
 * throw away valid tokens), the connection pool to identity providers, the JWT signing keys and
 * sidekey's issuer URL.
 */
export interface CredentialRuntime {
  readonly cache: TokenCache
  readonly transport: IdpTransport
  readonly keys: SigningKeys
  /** The delegated grants people connected, and the authorizations in progress. */
  readonly grants: DelegatedGrants
  readonly flows: AuthorizationFlows
  /** sidekey's issuer URL (`iss` of minted JWTs); set once the admin listener's address is known. */
  issuer: string
  close(): Promise<void>
}

/** Settings of the credential runtime. */
export interface CredentialRuntimeOptions {
  readonly certsDir: string
  readonly issuer: string
  /** PEM roots for identity providers' TLS (the same trust as upstreams). */
  readonly ca?: string[]
  readonly idpTimeoutMs?: number
  /** Share the signing keys through this store, encrypted with this key (many replicas, one JWKS). */
  readonly sharedKeys?: { store: SharedKeyStore; key: Buffer } | null
  /** The state store: pending authorizations and refresh leases, and (shared) the delegated grants. */
  readonly state?: SharedValues & ExpiringValues & StoreStatus
  /** How names found by discovery are resolved and checked (the proxy's resolver; the system's by default). */
  readonly resolver?: Resolver
}

/** Files beside the CA that keep delegated grants for a single sidekey (both mode 0600). */
export const GRANTS_FILE = 'oauth-grants.json'
export const GRANTS_KEY_FILE = 'oauth-grants.key'

/**
 * Where delegated grants are kept: the shared store, sealed with a key derived from the one that
 * seals the shared signing keys (replicas); a local file under a key file of its own (one process);
 * nowhere (every use refused, saying why) when replicas share state without an encryption key.
 */
function grantVault(options: CredentialRuntimeOptions, state: SharedValues): GrantVault {
  if (options.state?.shared !== true) return new GrantVault(new FileValues(join(options.certsDir, GRANTS_FILE)), { file: join(options.certsDir, GRANTS_KEY_FILE) })
  const shared = options.sharedKeys ?? null
  if (shared === null) return new GrantVault(state, Buffer.alloc(32), 'delegated OAuth grants are shared between replicas encrypted; set signing_keys.encryption_key_file in the state file')
  return new GrantVault(state, subkey(shared.key, 'sidekey delegated grants v1'))
}

export function createCredentialRuntime(options: CredentialRuntimeOptions): CredentialRuntime {
  const cache = new TokenCache()
  const state = options.state ?? new MemoryStore()
  const grants = new DelegatedGrants(grantVault(options, state), state)
  const discovered = new DiscoveredHosts(options.resolver)
  // One TLS context with the roots, shared by every connection (see forward/upstream.ts); names
  // discovery found are resolved by a lookup that refuses internal addresses.
  const dispatcher = new Agent({ connect: { ...(options.ca ? { secureContext: createSecureContext({ ca: options.ca }) } : {}), lookup: discovered.lookup }, keepAliveTimeout: 30_000 })
  return {
    cache,
    transport: { dispatcher, timeoutMs: options.idpTimeoutMs ?? 10_000, discovered: (url) => discovered.mark(url) },
    keys: new SigningKeys(options.certsDir, undefined, undefined, options.sharedKeys ?? null),
    grants,
    flows: new AuthorizationFlows(grants, state),
    issuer: options.issuer,
    async close() {
      cache.close()
      await dispatcher.close()
    },
  }
}
