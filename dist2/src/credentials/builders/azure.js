import { ClientCredentialsProvider } from '../oauth2.js';
import { TokenEndpoint } from '../token-endpoint.js';
import { projectedToken, transportOf } from './context.js';
/** Microsoft Entra ID's public-cloud authority. */
const DEFAULT_AUTHORITY = 'https://login.microsoftonline.com';
/** Microsoft Entra workload identity federation: a client credentials grant whose client assertion is the projected token. */
export const buildAzureWorkloadIdentity = (name, def, ctx, fingerprint) => {
    const authority = (def.authority ?? DEFAULT_AUTHORITY).replace(/\/$/, '');
    const endpoint = new TokenEndpoint(name, { tokenEndpoint: `${authority}/${def.tenant_id}/oauth2/v2.0/token` }, { method: 'federated_token', clientId: def.client_id, token: projectedToken(def.token_file, ctx) }, transportOf(def.timeout_ms, ctx));
    return new ClientCredentialsProvider(name, endpoint, { scopes: def.scopes, audience: null, resource: null, params: {}, refreshAt: def.refresh_at }, ctx.runtime.cache, fingerprint);
};
//# sourceMappingURL=azure.js.map