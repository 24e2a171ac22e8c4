import { callProvider, providerFailure } from '../provider-http.js';
import { signAws } from './aws-sigv4.js';
/**
 * AWS: temporary credentials from STS AssumeRoleWithWebIdentity with the workload's projected
 * token (the IRSA / EKS pattern), optionally chained into another role with AssumeRole, cached
 * and refreshed before expiry. Routes sign with them (inject/sigv4.ts), so the agent's SDK runs
 * with placeholder keys and never holds a real one.
 */
/** The STS API version every call names. */
const STS_VERSION = '2011-06-15';
export class AwsWebIdentityProvider {
    name;
    settings;
    token;
    transport;
    cache;
    type = 'aws-web-identity';
    #key;
    /** The cached keys, parsed once per STS answer rather than on every request. */
    #parsed = null;
    constructor(name, settings, token, transport, cache, fingerprint) {
        this.name = name;
        this.settings = settings;
        this.token = token;
        this.transport = transport;
        this.cache = cache;
        // One role session for the process: the role, not the workload, is the identity here.
        this.#key = `aws|${name}|${fingerprint}`;
    }
    async obtain() {
        const token = await this.cache.get(this.#key, () => this.#assume(), this.settings.refreshAt);
        if (this.#parsed?.value !== token.value)
            this.#parsed = { value: token.value, aws: JSON.parse(token.value) };
        const { aws } = this.#parsed;
        return { secret: aws.secretAccessKey, source: token.source, aws };
    }
    cached() {
        return this.cache.holds(this.#key);
    }
    async #assume() {
        let identityToken;
        try {
            identityToken = await this.token.read(true);
        }
        catch (cause) {
            throw providerFailure(this.name, `web identity token: ${cause.message}`, cause);
        }
        const first = await this.#sts({ Action: 'AssumeRoleWithWebIdentity', RoleArn: this.settings.roleArn, RoleSessionName: this.settings.sessionName, WebIdentityToken: identityToken, DurationSeconds: String(this.settings.durationS) }, null);
        if (this.settings.chainRoleArn === null)
            return first;
        // Role chaining: AWS caps a chained session at one hour.
        const chained = await this.#sts({ Action: 'AssumeRole', RoleArn: this.settings.chainRoleArn, RoleSessionName: this.settings.sessionName, DurationSeconds: String(Math.min(this.settings.durationS, 3600)) }, JSON.parse(first.value));
        return { value: chained.value, expiresAt: Math.min(first.expiresAt, chained.expiresAt) };
    }
    /** One STS Query API call (POST, form encoded); signed with `as` when given (AssumeRole). */
    async #sts(params, as) {
        const body = new URLSearchParams({ ...params, Version: STS_VERSION }).toString();
        const url = new URL(this.settings.stsEndpoint);
        let headers = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', accept: 'application/xml' };
        if (as !== null) {
            const signed = await signAws({ method: 'POST', url, headers: { ...headers, host: url.host }, body: Buffer.from(body) }, as, { service: 'sts', region: this.settings.stsRegion });
            headers = { ...headers, ...signed };
        }
        const { status, text } = await callProvider(this.transport, this.name, `STS ${params.Action}`, url.toString(), { method: 'POST', headers, body });
        if (status !== 200) {
            // STS errors: <ErrorResponse><Error><Type/><Code/><Message/></Error></ErrorResponse>; the code is safe to repeat.
            const code = xmlValue(text, 'Code');
            throw providerFailure(this.name, `STS ${params.Action} answered HTTP ${status}${code !== null ? ` (${code.slice(0, 64)})` : ''}`);
        }
        const accessKeyId = xmlValue(text, 'AccessKeyId');
        const secretAccessKey = xmlValue(text, 'SecretAccessKey');
        const sessionToken = xmlValue(text, 'SessionToken');
        const expiration = xmlValue(text, 'Expiration');
        const expiresAt = expiration === null ? NaN : Date.parse(expiration);
        if (accessKeyId === null || secretAccessKey === null || sessionToken === null || !Number.isFinite(expiresAt)) {
            throw providerFailure(this.name, `STS ${params.Action} answered without complete Credentials (AccessKeyId, SecretAccessKey, SessionToken, Expiration)`);
        }
        return { value: JSON.stringify({ accessKeyId, secretAccessKey, sessionToken }), expiresAt };
    }
}
/** The text of the first `<name>` element (STS answers are small and flat; entities decoded). */
function xmlValue(xml, name) {
    const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
    if (m === null)
        return null;
    return m[1].replace(/&(lt|gt|quot|apos|amp);/g, (_, e) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]);
}
//# sourceMappingURL=aws.js.map