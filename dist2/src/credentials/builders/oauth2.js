import { MintedJwtProvider } from '../jwt.js';
import { ClientCredentialsProvider, JWT_TOKEN_TYPE, TokenExchangeProvider } from '../oauth2.js';
import { metadataUrls, TokenEndpoint } from '../token-endpoint.js';
import { exactlyOne, secretSource, transportOf } from './context.js';
/** OAuth 2.0 client credentials grant: sidekey is the client. */
export const buildClientCredentials = (name, def, ctx, fingerprint) => {
    const endpoint = tokenEndpoint(name, def, ctx);
    if (endpoint === null)
        return null;
    return new ClientCredentialsProvider(name, endpoint, requestSettings(def), ctx.runtime.cache, fingerprint);
};
/** OAuth 2.0 token exchange: a projected token or a minted JWT exchanged for the destination's token. */
export const buildTokenExchange = (name, def, ctx, fingerprint) => {
    const endpoint = tokenEndpoint(name, def, ctx);
    if (endpoint === null)
        return null;
    const subject = exchangeSubject(def.subject_token, 'subject_token', ctx);
    const actor = def.actor_token === undefined ? null : exchangeSubject(def.actor_token, 'actor_token', ctx);
    if (subject === null || (def.actor_token !== undefined && actor === null))
        return null;
    const settings = { ...requestSettings(def), subject, actor, requestedTokenType: def.requested_token_type ?? null };
    return new TokenExchangeProvider(name, endpoint, settings, ctx.runtime.cache, fingerprint);
};
/** The token endpoint client of a grant, or null after reporting what is wrong with it. */
export function tokenEndpoint(name, def, ctx) {
    const where = exactlyOne({ issuer: def.issuer, token_endpoint: def.token_endpoint });
    if (where === null) {
        ctx.problem(null, 'give exactly one of issuer (discovery) or token_endpoint');
        return null;
    }
    const isUrl = /^https?:\/\/[^\s]+$/.test(where.value) && (where.key !== 'issuer' || metadataUrls(where.value) !== null);
    if (!isUrl)
        ctx.problem(where.key, `"${where.value}" is not an http(s) URL${where.key === 'issuer' ? ' without query or fragment' : ''}`);
    const auth = clientAuth(def, ctx);
    if (!isUrl || auth === null)
        return null;
    const source = where.key === 'issuer' ? { issuer: where.value } : { tokenEndpoint: where.value };
    return new TokenEndpoint(name, source, auth, transportOf(def.timeout_ms, ctx));
}
function requestSettings(def) {
    return { scopes: def.scopes ?? [], audience: def.audience ?? null, resource: def.resource ?? null, params: def.params ?? {}, refreshAt: def.refresh_at };
}
/**
 * How sidekey authenticates to the token endpoint: as written, or by what is given (a private key:
 * private_key_jwt; a client_id alone: client_secret_basic; nothing: none). Null after reporting a
 * combination that does not fit.
 */
export function clientAuth(def, ctx) {
    const fail = (field, message) => {
        ctx.problem(field, message);
        return null;
    };
    const clientId = def.client_id ?? null;
    const method = def.client_auth ?? (clientId === null ? 'none' : def.private_key !== undefined ? 'private_key_jwt' : 'client_secret_basic');
    if (method === 'none') {
        if (def.client_secret !== undefined || def.private_key !== undefined)
            return fail('client_auth', 'client_auth none takes no client_secret or private_key');
        return { method, clientId };
    }
    if (clientId === null)
        return fail('client_id', `client_auth ${method} needs client_id`);
    if (method === 'private_key_jwt') {
        if (def.private_key === undefined)
            return fail('private_key', 'private_key_jwt needs private_key');
        if (def.client_secret !== undefined)
            return fail('client_secret', 'private_key_jwt takes no client_secret');
        return { method, clientId, key: secretSource(def.private_key, ctx), keyId: def.key_id ?? null, alg: def.alg ?? 'RS256' };
    }
    if (def.client_secret === undefined)
        return fail('client_secret', `${method} needs client_secret`);
    if (def.private_key !== undefined)
        return fail('private_key', `${method} takes no private_key`);
    return { method, clientId, secret: secretSource(def.client_secret, ctx) };
}
/** The subject (or actor) token of an exchange, or null after reporting what is wrong with it. */
function exchangeSubject(ref, field, ctx) {
    const given = exactlyOne({ file: ref.file, env: ref.env, credential: ref.credential });
    if (given === null) {
        ctx.problem(field, 'give exactly one of file, env or credential');
        return null;
    }
    const tokenType = ref.type ?? JWT_TOKEN_TYPE;
    if (given.key === 'credential') {
        const provider = ctx.built.get(given.value);
        if (!(provider instanceof MintedJwtProvider)) {
            ctx.problem(field, `"${given.value}" is not a jwt credential defined before this one`);
            return null;
        }
        return { kind: 'minted', provider, tokenType };
    }
    // Projected service-account tokens rotate: read the file on every exchange.
    const source = secretSource(given.key === 'env' ? { env: given.value } : { file: given.value }, ctx, true);
    return { kind: 'file', source, tokenType };
}
//# sourceMappingURL=oauth2.js.map