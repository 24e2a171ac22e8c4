import { MintedJwtProvider } from '../jwt.js';
/** Lifetime of a minted JWT when the definition does not set one. */
const DEFAULT_LIFETIME_S = 300;
/** A JWT sidekey mints for the calling workload. */
export const buildJwt = (name, def, ctx, fingerprint) => {
    const { runtime } = ctx;
    return new MintedJwtProvider(name, { audience: def.audience, lifetimeS: def.lifetime_s ?? DEFAULT_LIFETIME_S, refreshAt: def.refresh_at }, runtime, runtime.cache, fingerprint);
};
//# sourceMappingURL=jwt.js.map