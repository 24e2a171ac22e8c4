import { createHash } from 'node:crypto';
import { buildAwsWebIdentity } from './builders/aws.js';
import { buildAzureWorkloadIdentity } from './builders/azure.js';
import { buildDelegated } from './builders/delegated.js';
import { buildGcpWorkloadIdentity } from './builders/gcp.js';
import { buildJwt } from './builders/jwt.js';
import { buildClientCredentials, buildTokenExchange } from './builders/oauth2.js';
import { buildStatic } from './builders/static.js';
import { buildVault } from './builders/vault.js';
/** One builder per credential type. */
const builders = {
    static: buildStatic,
    'oauth2-client-credentials': buildClientCredentials,
    'oauth2-token-exchange': buildTokenExchange,
    'oauth2-authorization-code': buildDelegated,
    jwt: buildJwt,
    'aws-web-identity': buildAwsWebIdentity,
    'gcp-workload-identity': buildGcpWorkloadIdentity,
    'azure-workload-identity': buildAzureWorkloadIdentity,
    vault: buildVault,
};
/**
 * Build the provider for one credential definition, or report why not (returns null). The policy
 * schema has already checked which fields the definition's type takes; its type's builder checks
 * how the fields go together.
 */
export function buildCredential(name, def, ctx) {
    // Cache keys carry it: an edited definition does not reuse the tokens of the old one.
    const fingerprint = createHash('sha256').update(JSON.stringify(def)).digest('base64url').slice(0, 12);
    return buildAs(def.type, def, ctx, name, fingerprint);
}
/** The builder of `type` on a definition of that type (generic so the compiler pairs the two). */
function buildAs(type, def, ctx, name, fingerprint) {
    return builders[type](name, def, ctx, fingerprint);
}
//# sourceMappingURL=build.js.map