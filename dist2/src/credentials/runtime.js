import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { Agent } from '../http/undici.js';
import { MemoryStore } from '../state/store.js';
import { AuthorizationFlows } from './delegated/authorization-flow.js';
import { FileValues } from './delegated/file-values.js';
import { GrantVault } from './delegated/grant-vault.js';
import { DelegatedGrants } from './delegated/grants.js';
import { subkey } from './sealed-box.js';
import { SigningKeys } from './signing-keys.js';
import { TokenCache } from './token-cache.js';
import { DiscoveredHosts } from './discovered-hosts.js';
/** Files beside the CA that keep delegated grants for a single sidekey (both mode 0600). */
export const GRANTS_FILE = 'oauth-grants.json';
export const GRANTS_KEY_FILE = 'oauth-grants.key';
/**
 * Where delegated grants are kept: the shared store, sealed with a key derived from the one that
 * seals the shared signing keys (replicas); a local file under a key file of its own (one process);
 * nowhere (every use refused, saying why) when replicas share state without an encryption key.
 */
function grantVault(options, state) {
    if (options.state?.shared !== true)
        return new GrantVault(new FileValues(join(options.certsDir, GRANTS_FILE)), { file: join(options.certsDir, GRANTS_KEY_FILE) });
    const shared = options.sharedKeys ?? null;
    if (shared === null)
        return new GrantVault(state, Buffer.alloc(32), 'delegated OAuth grants are shared between replicas encrypted; set signing_keys.encryption_key_file in the state file');
    return new GrantVault(state, subkey(shared.key, 'sidekey delegated grants v1'));
}
export function createCredentialRuntime(options) {
    const cache = new TokenCache();
    const state = options.state ?? new MemoryStore();
    const grants = new DelegatedGrants(grantVault(options, state), state);
    const discovered = new DiscoveredHosts(options.resolver);
    // One TLS context with the roots, shared by every connection (see forward/upstream.ts); names
    // discovery found are resolved by a lookup that refuses internal addresses.
    const dispatcher = new Agent({ connect: { ...(options.ca ? { secureContext: createSecureContext({ ca: options.ca }) } : {}), lookup: discovered.lookup }, keepAliveTimeout: 30_000 });
    return {
        cache,
        transport: { dispatcher, timeoutMs: options.idpTimeoutMs ?? 10_000, discovered: (url) => discovered.mark(url) },
        keys: new SigningKeys(options.certsDir, undefined, undefined, options.sharedKeys ?? null),
        grants,
        flows: new AuthorizationFlows(grants, state),
        issuer: options.issuer,
        async close() {
            cache.close();
            await dispatcher.close();
        },
    };
}
//# sourceMappingURL=runtime.js.map