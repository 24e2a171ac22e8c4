import { createSecureContext } from 'node:tls'
import { Agent } from '../http/undici.js'
import { SigningKeys, type SharedKeyStore } from './signing-keys.js'
import { TokenCache } from './token-cache.js'
import type { IdpTransport } from './provider-http.js'

/**
 * What credential providers share across policy reloads: the token cache (so a reload does not
 * throw away valid tokens), the connection pool to identity providers, the JWT signing keys and
 * sidekey's issuer URL.
 */
export interface CredentialRuntime {
  readonly cache: TokenCache
  readonly transport: IdpTransport
  readonly keys: SigningKeys
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
}

export function createCredentialRuntime(options: CredentialRuntimeOptions): CredentialRuntime {
  const cache = new TokenCache()
  // One TLS context with the roots, shared by every connection (see forward/upstream.ts).
  const dispatcher = new Agent({ connect: options.ca ? { secureContext: createSecureContext({ ca: options.ca }) } : {}, keepAliveTimeout: 30_000 })
  return {
    cache,
    transport: { dispatcher, timeoutMs: options.idpTimeoutMs ?? 10_000 },
    keys: new SigningKeys(options.certsDir, undefined, undefined, options.sharedKeys ?? null),
    issuer: options.issuer,
    async close() {
      cache.close()
      await dispatcher.close()
    },
  }
}
