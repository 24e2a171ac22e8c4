import { SidekeyError } from '../errors.js';
import { bindingCookie, redirectUriOf as redirectUri } from '../credentials/delegated/authorization-flow.js';
import { DelegatedGrantProvider } from '../credentials/delegated/provider.js';
import { APPROVER_NAME } from './approvals-api.js';
import { readJson, send } from './json.js';
export const OAUTH_ROUTES = [
    { method: 'GET', path: '/v1/oauth/grants', access: 'admin', handle: listGrants },
    { method: 'POST', path: '/v1/oauth/grants/:name/connect', access: 'admin', handle: connect },
    { method: 'DELETE', path: '/v1/oauth/grants/:name', access: 'admin', handle: revoke },
    { method: 'GET', path: '/v1/oauth/flows/:flow', access: 'admin', handle: flowStatus },
    { method: 'GET', path: '/oauth/begin', access: 'public', handle: begin },
    { method: 'GET', path: '/oauth/callback', access: 'public', handle: callback },
];
/** The delegated credentials of the policy in force. */
function delegated(ctx) {
    return [...ctx.policy.current.credentials.values()].filter((c) => c instanceof DelegatedGrantProvider).map((c) => c.client);
}
function lookup(ctx, name) {
    const provider = ctx.policy.current.credentials.get(name);
    return provider instanceof DelegatedGrantProvider ? provider.client : null;
}
function named(ctx, { params }) {
    const client = lookup(ctx, params.name);
    if (client === null)
        throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', `no delegated credential "${params.name.slice(0, 64)}" (type oauth2-authorization-code) in the policy in force`);
    return client;
}
async function listGrants(ctx, { res }) {
    send(res, 200, { grants: await Promise.all(delegated(ctx).map((c) => ctx.credentials.grants.summary(c))), redirect_uri: redirectUri(ctx.credentials.issuer) });
}
/** Who is connecting or revoking: the console's signed-in name, `cli:USER`, or `admin`. */
async function actor(req) {
    const by = (await readJson(req)).by;
    return typeof by === 'string' && APPROVER_NAME.test(by) ? by : 'admin';
}
async function connect(ctx, call) {
    const client = named(ctx, call);
    const started = await ctx.credentials.flows.start(client, await actor(call.req), redirectUri(ctx.credentials.issuer));
    send(call.res, 201, { flow: started.flow, url: `${ctx.credentials.issuer}${started.beginPath}`, path: started.beginPath, scopes: started.scopes, provider: started.provider, redirect_uri: redirectUri(ctx.credentials.issuer) });
}
async function revoke(ctx, call) {
    const client = named(ctx, call);
    const { atProvider } = await ctx.credentials.grants.revoke(client, await actor(call.req));
    send(call.res, 200, { credential: client.name, revoked: true, at_provider: atProvider });
}
async function flowStatus(ctx, { res, params }) {
    const status = await ctx.credentials.flows.status(params.flow);
    if (status === null)
        throw new SidekeyError('SIDEKEY_ERR_NOT_FOUND', 'no such authorization in progress (unknown or long over)');
    send(res, 200, status);
}
/** The one-time link: bind this browser to the flow with a cookie only the callback path receives, then go to the provider. */
async function begin(ctx, { res, url }) {
    const opened = await ctx.credentials.flows.open(url.searchParams.get('key') ?? '');
    // SameSite=Lax: the provider's redirect back is a top-level GET from another site, which Lax lets carry the cookie.
    const cookie = `${opened.cookieName}=${opened.cookieValue}; Path=/oauth/callback; Max-Age=600; HttpOnly; SameSite=Lax${ctx.credentials.issuer.startsWith('https:') ? '; Secure' : ''}`;
    res.writeHead(302, { location: opened.authorizationUrl, 'set-cookie': cookie, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
    res.end();
}
async function callback(ctx, { req, res, url }) {
    const cookies = parseCookies(req.headers.cookie);
    try {
        const done = await ctx.credentials.flows.complete(url.searchParams, (name) => cookies.get(name) ?? null, (name) => lookup(ctx, name));
        page(res, 200, `Connected ${done.credential}`, `sidekey now holds this account for the credential "${done.credential}". You can close this window.`, bindingCookie(done.flow));
    }
    catch (err) {
        const e = err instanceof SidekeyError ? err : new SidekeyError('SIDEKEY_ERR_INTERNAL', 'internal error');
        page(res, e.status, 'Not connected', `${e.message} (${e.code})`, null, e.code);
    }
}
function parseCookies(header) {
    const out = new Map();
    for (const part of (header ?? '').split(';')) {
        const i = part.indexOf('=');
        if (i > 0)
            out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
    }
    return out;
}
/** A small page for the person's browser (text only; the provider's words are never markup here). */
function page(res, status, title, text, clearCookie, code) {
    const escape = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    res.writeHead(status, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        'referrer-policy': 'no-referrer',
        ...(code !== undefined ? { 'x-sidekey-error': code } : {}),
        ...(clearCookie !== null ? { 'set-cookie': `${clearCookie}=; Path=/oauth/callback; Max-Age=0; HttpOnly; SameSite=Lax` } : {}),
    });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sidekey: ${escape(title)}</title></head><body><h1 id="result">${escape(title)}</h1><p id="detail">${escape(text)}</p><p><a href="/console">Back to the sidekey console</a></p></body></html>`);
}
//# sourceMappingURL=oauth-api.js.map