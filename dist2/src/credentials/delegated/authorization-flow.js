import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { SidekeyError } from '../../errors.js';
import { bearerOnly } from './grants.js';
/** How long a person has from Connect to coming back from the provider. */
const FLOW_TTL_MS = 10 * 60_000;
/** How long the CLI can still read how a flow ended. */
const STATUS_TTL_MS = 15 * 60_000;
/** The redirect URI registered with providers: exact (OAuth 2.1), on sidekey's admin listener as its issuer URL names it. */
export function redirectUriOf(issuer) {
    return `${issuer}/oauth/callback`;
}
/** The name of the cookie that binds a browser to one flow (scoped to the callback path). */
export function bindingCookie(flow) {
    return `sidekey_oauth_${flow.replaceAll('-', '')}`;
}
/**
 * Authorization code with PKCE (RFC 7636, S256 only) as OAuth 2.1 has it: the exact redirect URI
 * on sidekey's admin listener, a state that is random, single-use and bound to the browser that
 * started the flow (a cookie set by sidekey's own one-time link), and no implicit grant
 * (`response_type=code` only). The code is exchanged at sidekey; the tokens never reach the
 * browser. Pending flows live in the state store, so the browser may come back to any replica.
 */
export class AuthorizationFlows {
    grants;
    store;
    constructor(grants, store) {
        this.grants = grants;
        this.store = store;
    }
    /** Start connecting `client` for `by`; the person continues at `beginPath`. */
    async start(client, by, redirectUri) {
        const { authorization, resource } = await client.server.endpoints();
        const flow = randomUUID();
        const state = token();
        const verifier = token();
        const binding = token();
        const url = new URL(authorization);
        const query = {
            ...client.params,
            response_type: 'code',
            client_id: (await client.endpoint.clientId()) ?? '',
            redirect_uri: redirectUri,
            state,
            code_challenge: sha256(verifier),
            code_challenge_method: 'S256',
        };
        if (client.scopes.length > 0)
            query.scope = client.scopes.join(' ');
        if (resource !== null)
            query.resource = resource;
        for (const [name, value] of Object.entries(query))
            url.searchParams.set(name, value);
        const pending = { flow, credential: client.name, verifier, redirectUri, by, binding: sha256(binding) };
        const beginKey = token();
        await this.store.putExpiring(`oauth-state:${state}`, await this.grants.vault.sealFlow(JSON.stringify(pending)), FLOW_TTL_MS);
        await this.store.putExpiring(`oauth-begin:${beginKey}`, await this.grants.vault.sealFlow(JSON.stringify({ flow, binding, authorizationUrl: url.toString() })), FLOW_TTL_MS);
        await this.#status({ flow, credential: client.name, status: 'pending', problem: null });
        return { flow, beginPath: `/oauth/begin?key=${beginKey}`, scopes: client.scopes, provider: client.server.provider };
    }
    /** Open the one-time link (once): the browser gets the binding cookie and goes on to the provider. */
    async open(beginKey) {
        const sealed = /^[\w-]{43}$/.test(beginKey) ? await this.store.takeExpiring(`oauth-begin:${beginKey}`) : null;
        if (sealed === null)
            throw callbackRefusal('this Connect link is unknown, expired or was already opened; start Connect again');
        const begin = JSON.parse(await this.grants.vault.openFlow(sealed));
        return { cookieName: bindingCookie(begin.flow), cookieValue: begin.binding, authorizationUrl: begin.authorizationUrl };
    }
    /**
     * The redirect back from the provider: check the state (known, unused, unexpired) and that this
     * browser started it, then exchange the code. `lookup` finds the credential in the policy in force.
     */
    async complete(query, cookie, lookup) {
        const state = query.get('state') ?? '';
        const key = `oauth-state:${state}`;
        const unknown = 'the state is unknown, expired or was already used (a replayed or forged callback); start Connect again';
        // Read first: a browser that did not start the flow (someone who learnt the state from a URL)
        // is refused without spending the state, so it cannot spoil the person's own callback.
        const peeked = /^[\w-]{43}$/.test(state) ? await this.store.getExpiring(key) : null;
        if (peeked === null)
            throw callbackRefusal(unknown);
        const pending = JSON.parse(await this.grants.vault.openFlow(peeked));
        const presented = cookie(bindingCookie(pending.flow));
        if (presented === null || !sameText(sha256(presented), pending.binding))
            throw callbackRefusal('this browser did not start this authorization (the state belongs to another session)');
        // Then taken: a state (and so a callback URL with its code) is good once, on any replica.
        if ((await this.store.takeExpiring(key)) === null)
            throw callbackRefusal(unknown);
        const fail = async (problem) => {
            await this.#status({ flow: pending.flow, credential: pending.credential, status: 'failed', problem });
            return callbackRefusal(problem);
        };
        const client = lookup(pending.credential);
        if (client === null)
            throw await fail(`credential "${pending.credential}" is no longer a delegated credential in the policy`);
        const { resource, issuer, issParameter } = await client.server.endpoints();
        // RFC 9207 (mix-up defence): one redirect URI serves every credential's authorization server, so
        // a response must say it comes from the server this state was started at; otherwise a hostile
        // server could have the person consent at an honest one and receive that code at its own token
        // endpoint. Checked before the response's error or code is used (section 2.4).
        const iss = query.get('iss');
        if (issuer !== null && iss !== null && iss !== issuer)
            throw await fail(`the response comes from another authorization server than ${issuer}, where this authorization was started (RFC 9207 iss mismatch: a mix-up)`);
        if (issuer !== null && iss === null && issParameter)
            throw await fail(`${issuer} promises an iss parameter (RFC 9207) and the response has none`);
        const error = query.get('error');
        if (error !== null)
            throw await fail(`the provider answered ${/^[\w.-]{1,64}$/.test(error) ? error : 'an error'} instead of a code`);
        const code = query.get('code');
        if (code === null || code === '')
            throw await fail('the provider sent no code');
        const form = { grant_type: 'authorization_code', code, redirect_uri: pending.redirectUri, code_verifier: pending.verifier };
        if (resource !== null)
            form.resource = resource;
        let answer;
        try {
            answer = bearerOnly(client.name, await client.endpoint.requestGrant(form));
        }
        catch (err) {
            throw await fail(`the code exchange failed: ${err.message}`);
        }
        await this.grants.connected(client, answer, pending.by);
        const done = { flow: pending.flow, credential: client.name, status: 'connected', problem: null };
        await this.#status(done);
        return done;
    }
    /** How a flow stands (the CLI polls this), or null when it is unknown or long over. */
    async status(flow) {
        if (!/^[0-9a-f-]{36}$/.test(flow))
            return null;
        const raw = await this.store.getExpiring(`oauth-flow:${flow}`);
        return raw === null ? null : JSON.parse(raw);
    }
    async #status(status) {
        await this.store.putExpiring(`oauth-flow:${status.flow}`, JSON.stringify(status), STATUS_TTL_MS);
    }
}
function callbackRefusal(problem) {
    return new SidekeyError('SIDEKEY_ERR_OAUTH_CALLBACK', problem);
}
/** 32 random bytes as base64url (43 characters): states, PKCE verifiers (RFC 7636 section 4.1), link keys. */
function token() {
    return randomBytes(32).toString('base64url');
}
function sha256(text) {
    return createHash('sha256').update(text).digest('base64url');
}
function sameText(a, b) {
    return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
//# sourceMappingURL=authorization-flow.js.map