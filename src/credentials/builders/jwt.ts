import type { JwtCredentialV1 } from '../../policy/schema.js'
import { MintedJwtProvider } from '../jwt.js'
import type { CredentialBuilder } from './context.js'

/** Lifetime of a minted JWT when the definition does not set one. */
const DEFAULT_LIFETIME_S = 300

/** A JWT sidekey mints for the calling workload. */
export const buildJwt: CredentialBuilder<JwtCredentialV1> = (name, def, ctx, fingerprint) => {
  const { runtime } = ctx
  return new MintedJwtProvider(name, { audience: def.audience, lifetimeS: def.lifetime_s ?? DEFAULT_LIFETIME_S, refreshAt: def.refresh_at }, runtime, runtime.cache, fingerprint)
}
