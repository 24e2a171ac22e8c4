import { GcpImpersonationProvider } from '../cloud/gcp.js';
import { JWT_TOKEN_TYPE, TokenExchangeProvider } from '../oauth2.js';
import { TokenEndpoint } from '../token-endpoint.js';
import { projectedToken, transportOf } from './context.js';
/** Google's STS and IAM Credentials endpoints, and the scope every Google API accepts. */
const GCP_STS = 'https://sts.googleapis.com/v1/token';
const GCP_IAM = 'https://iamcredentials.googleapis.com';
const GCP_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** Google workload identity federation: the projected token exchanged at Google's STS, then a service account impersonated if one is named. */
export const buildGcpWorkloadIdentity = (name, def, ctx, fingerprint) => {
    const { cache } = ctx.runtime;
    const transport = transportOf(def.timeout_ms, ctx);
    const scopes = def.scopes ?? [GCP_SCOPE];
    const endpoint = new TokenEndpoint(name, { tokenEndpoint: def.sts_endpoint ?? GCP_STS }, { method: 'none', clientId: null }, transport);
    // Google STS (RFC 8693): the federated token is only good for impersonation or for APIs that
    // accept federated identities; with a service account it is exchanged once more.
    const federated = new TokenExchangeProvider(name, endpoint, {
        scopes,
        audience: def.audience,
        resource: null,
        params: {},
        refreshAt: def.refresh_at,
        subject: { kind: 'file', source: projectedToken(def.token_file, ctx), tokenType: JWT_TOKEN_TYPE },
        actor: null,
        requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
    }, cache, fingerprint);
    if (def.service_account === undefined)
        return federated;
    const impersonation = { serviceAccount: def.service_account, scopes, lifetimeS: def.lifetime_s ?? 3600, iamEndpoint: def.iam_endpoint ?? GCP_IAM, refreshAt: def.refresh_at };
    return new GcpImpersonationProvider(name, federated, impersonation, transport, cache, fingerprint);
};
//# sourceMappingURL=gcp.js.map