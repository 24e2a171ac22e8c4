/**
 * A person's delegated OAuth grant as a route's credential: one access token per grant (it is the
 * person's, whichever workload policy lets use it), cached and refreshed ahead of expiry by the
 * token cache, one refresh in flight here and, through the grant keeper's lease, across replicas.
 * A grant that is missing, revoked or broken is refused before the cache is asked.
 */
export class DelegatedGrantProvider {
    client;
    grants;
    cache;
    type = 'oauth2-authorization-code';
    retryAfter401 = true;
    #prefix;
    constructor(client, grants, cache, fingerprint) {
        this.client = client;
        this.grants = grants;
        this.cache = cache;
        this.#prefix = `ac|${client.name}|${fingerprint}|`;
    }
    get name() {
        return this.client.name;
    }
    async obtain() {
        await this.grants.assertUsable(this.name);
        const token = await this.cache.get(this.#key(), () => this.grants.accessToken(this.client), this.client.refreshAt);
        return { secret: token.value, source: token.source };
    }
    /** An upstream answered 401 to `secret`: the next request refreshes the grant (once) instead of reusing it. */
    invalidate(_workload, secret) {
        if (!this.cache.invalidate(this.#key(), secret))
            return false;
        this.grants.rejected(secret);
        return true;
    }
    mayInvalidate() {
        return this.cache.mayInvalidate(this.#key());
    }
    cached() {
        return this.cache.holds(this.#key());
    }
    /** The cache key: a grant connected or revoked here starts a new entry, so no token of the old one is served. */
    #key() {
        return this.#prefix + this.grants.epoch(this.name);
    }
}
//# sourceMappingURL=provider.js.map