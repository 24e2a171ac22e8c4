import { randomUUID } from 'node:crypto';
import { jose } from './jose.js';
import { SIGNING_ALG } from './signing-keys.js';
/**
 * A short-lived JWT sidekey signs for the calling workload: `iss` is sidekey's issuer URL, `sub`
 * the workload, `aud` the destination's audience. Upstreams or identity providers verify it with
 * the JWKS sidekey serves at `/.well-known/jwks.json` on its admin listener.
 */
export class MintedJwtProvider {
    name;
    settings;
    runtime;
    cache;
    fingerprint;
    type = 'jwt';
    constructor(name, settings, runtime, cache, fingerprint) {
        this.name = name;
        this.settings = settings;
        this.runtime = runtime;
        this.cache = cache;
        this.fingerprint = fingerprint;
    }
    async obtain(workload) {
        const token = await this.cache.get(this.#key(workload), () => this.mint(workload), this.settings.refreshAt);
        return { secret: token.value, source: token.source };
    }
    invalidate(workload, secret) {
        return this.cache.invalidate(this.#key(workload), secret);
    }
    cached(workload) {
        return this.cache.holds(this.#key(workload));
    }
    /** Sign a fresh token for `workload` (also the subject token of a token exchange). */
    async mint(workload) {
        const { kid, key } = await this.runtime.keys.current();
        const now = Math.floor(Date.now() / 1000);
        const exp = now + this.settings.lifetimeS;
        const value = await new (jose().SignJWT)({})
            .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: 'JWT' })
            .setIssuer(this.runtime.issuer)
            .setSubject(workload ?? 'anonymous')
            .setAudience(this.settings.audience)
            .setIssuedAt(now)
            .setNotBefore(now - 5)
            .setExpirationTime(exp)
            .setJti(randomUUID())
            .sign(key);
        return { value, expiresAt: exp * 1000 };
    }
    #key(workload) {
        return `jwt|${this.name}|${this.fingerprint}|${workload ?? ''}|${this.settings.audience}`;
    }
}
//# sourceMappingURL=jwt.js.map