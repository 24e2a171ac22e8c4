import { VaultProvider } from '../cloud/vault.js';
import { exactlyOne, projectedToken, secretSource, transportOf } from './context.js';
/** Where Kubernetes mounts the pod's own service-account token (Vault's Kubernetes auth default). */
const KUBERNETES_SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
/** A secret read from Vault: a KV v2 field or a dynamic secret, after a Kubernetes or AppRole login. */
export const buildVault = (name, def, ctx, fingerprint) => {
    const auth = vaultAuth(def.auth, ctx);
    const { secret: s } = def;
    const engine = exactlyOne({ kv2: s.kv2, path: s.path });
    if (engine === null) {
        ctx.problem('secret', 'give exactly one of kv2 { mount, path } or path (a dynamic secret)');
        return null;
    }
    const secret = engine.key === 'kv2' ? { engine: 'kv2', mount: engine.value.mount ?? 'secret', path: engine.value.path, field: s.field } : { engine: 'dynamic', path: engine.value, field: s.field };
    const settings = { address: def.address, namespace: def.namespace ?? null, auth, secret, kvRefreshS: def.kv_refresh_s ?? 300, refreshAt: def.refresh_at };
    return new VaultProvider(name, settings, transportOf(def.timeout_ms, ctx), ctx.runtime.cache, fingerprint);
};
function vaultAuth(a, ctx) {
    if (a.method === 'kubernetes')
        return { method: 'kubernetes', mount: a.mount ?? 'kubernetes', role: a.role, jwt: projectedToken(a.token_file ?? KUBERNETES_SA_TOKEN, ctx) };
    return { method: 'approle', mount: a.mount ?? 'approle', roleId: secretSource(a.role_id, ctx), secretId: secretSource(a.secret_id, ctx) };
}
//# sourceMappingURL=vault.js.map