import { callProvider, jsonOf, providerFailure } from '../provider-http.js';
/**
 * Google Cloud workload identity federation, second step: the federated token from Google's STS
 * (an RFC 8693 exchange of the projected token, done by the wrapped provider) is used to
 * impersonate a service account with IAM Credentials `generateAccessToken`, whose access token is
 * what `*.googleapis.com` routes get. Without a service account the federated token is used as is.
 */
export class GcpImpersonationProvider {
    name;
    federated;
    settings;
    transport;
    cache;
    type = 'gcp-workload-identity';
    #key;
    constructor(name, federated, settings, transport, cache, fingerprint) {
        this.name = name;
        this.federated = federated;
        this.settings = settings;
        this.transport = transport;
        this.cache = cache;
        this.#key = `gcp-sa|${name}|${fingerprint}`;
    }
    async obtain(workload) {
        const token = await this.cache.get(this.#key + (workload ?? ''), () => this.#impersonate(workload), this.settings.refreshAt);
        return { secret: token.value, source: token.source };
    }
    invalidate(workload, secret) {
        return this.cache.invalidate(this.#key + (workload ?? ''), secret);
    }
    cached(workload) {
        return this.cache.holds(this.#key + (workload ?? ''));
    }
    async #impersonate(workload) {
        const federated = (await this.federated.obtain(workload)).secret;
        const url = `${this.settings.iamEndpoint.replace(/\/$/, '')}/v1/projects/-/serviceAccounts/${encodeURIComponent(this.settings.serviceAccount)}:generateAccessToken`;
        const { status, text } = await callProvider(this.transport, this.name, 'IAM Credentials generateAccessToken', url, {
            method: 'POST',
            headers: { authorization: `Bearer ${federated}`, 'content-type': 'application/json', accept: 'application/json' },
            body: JSON.stringify({ scope: this.settings.scopes, lifetime: `${this.settings.lifetimeS}s` }),
        });
        const answer = jsonOf(this.name, 'IAM Credentials', status, text);
        if (status !== 200) {
            // Google's error shape: {"error": {"code": 403, "message": "...", "status": "PERMISSION_DENIED"}}.
            const why = typeof answer.error?.status === 'string' ? ` (${answer.error.status.slice(0, 64)})` : '';
            throw providerFailure(this.name, `IAM Credentials generateAccessToken answered HTTP ${status}${why}`);
        }
        const expiresAt = typeof answer.expireTime === 'string' ? Date.parse(answer.expireTime) : NaN;
        if (typeof answer.accessToken !== 'string' || answer.accessToken === '' || !Number.isFinite(expiresAt)) {
            throw providerFailure(this.name, 'IAM Credentials generateAccessToken answered without accessToken and expireTime');
        }
        return { value: answer.accessToken, expiresAt };
    }
}
//# sourceMappingURL=gcp.js.map