/** RFC 8693 section 3 token type for a JWT. */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
function commonForm(s) {
    const form = { ...s.params };
    if (s.scopes.length > 0)
        form.scope = s.scopes.join(' ');
    if (s.audience !== null)
        form.audience = s.audience;
    if (s.resource !== null)
        form.resource = s.resource;
    return form;
}
/** The cache key prefix of a provider (everything but the workload), built once. */
function keyPrefix(kind, name, fingerprint, s) {
    return `${kind}|${name}|${fingerprint}|${s.scopes.join(' ')}|${s.audience ?? ''}|${s.resource ?? ''}|`;
}
/**
 * OAuth 2.0 client credentials grant (RFC 6749 section 4.4): sidekey is the client, the token
 * is cached and refreshed ahead of expiry, and a 401 from the upstream drops it once.
 */
export class ClientCredentialsProvider {
    name;
    endpoint;
    settings;
    cache;
    type = 'oauth2-client-credentials';
    #prefix;
    constructor(name, endpoint, settings, cache, fingerprint) {
        this.name = name;
        this.endpoint = endpoint;
        this.settings = settings;
        this.cache = cache;
        this.#prefix = keyPrefix('cc', name, fingerprint, settings);
    }
    async obtain(workload) {
        const key = this.#prefix + (workload ?? '');
        const token = await this.cache.get(key, () => this.endpoint.requestToken({ grant_type: 'client_credentials', ...commonForm(this.settings) }), this.settings.refreshAt);
        return { secret: token.value, source: token.source };
    }
    invalidate(workload, secret) {
        return this.cache.invalidate(this.#prefix + (workload ?? ''), secret);
    }
    cached(workload) {
        return this.cache.holds(this.#prefix + (workload ?? ''));
    }
}
/**
 * OAuth 2.0 token exchange (RFC 8693): the workload's identity (a Kubernetes projected
 * service-account token, re-read on every exchange because the kubelet rotates it, or a JWT sidekey
 * minted for the workload) is exchanged for an access token for the destination.
 */
export class TokenExchangeProvider {
    name;
    endpoint;
    settings;
    cache;
    type = 'oauth2-token-exchange';
    #prefix;
    constructor(name, endpoint, settings, cache, fingerprint) {
        this.name = name;
        this.endpoint = endpoint;
        this.settings = settings;
        this.cache = cache;
        this.#prefix = keyPrefix('tx', name, fingerprint, settings);
    }
    async obtain(workload) {
        const key = this.#prefix + (workload ?? '');
        const token = await this.cache.get(key, () => this.#exchange(workload), this.settings.refreshAt);
        return { secret: token.value, source: token.source };
    }
    invalidate(workload, secret) {
        return this.cache.invalidate(this.#prefix + (workload ?? ''), secret);
    }
    cached(workload) {
        return this.cache.holds(this.#prefix + (workload ?? ''));
    }
    async #exchange(workload) {
        const form = {
            grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
            ...commonForm(this.settings),
            subject_token: await this.#tokenOf(this.settings.subject, workload),
            subject_token_type: this.settings.subject.tokenType,
        };
        if (this.settings.actor !== null) {
            form.actor_token = await this.#tokenOf(this.settings.actor, workload);
            form.actor_token_type = this.settings.actor.tokenType;
        }
        if (this.settings.requestedTokenType !== null)
            form.requested_token_type = this.settings.requestedTokenType;
        return this.endpoint.requestToken(form);
    }
    async #tokenOf(subject, workload) {
        if (subject.kind === 'minted')
            return (await subject.provider.mint(workload)).value;
        return subject.source.read(true);
    }
}
//# sourceMappingURL=oauth2.js.map