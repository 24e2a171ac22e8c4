import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { MAX_PROVIDER_ANSWER_BYTES } from '../../src/credentials/provider-http.js';
import { GRANTS_KEY_FILE } from '../../src/credentials/runtime.js';
import { systemResolver } from '../../src/forward/ssrf.js';
import { waitFor } from '../helpers/poll.js';
import { startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream } from '../helpers/upstream.js';
// Delegated OAuth under attack, with real sockets. Two hostile parties: the agent behind sidekey
// (it reaches the proxy and the admin listener, without the admin token) and a hostile
// authorization server, MCP server or web page. The authorization server here is a small HTTP
// server the test controls answer by answer (one issuer per credential, `/t/NAME`), so it can be
// honest, lie in its metadata, answer with a huge or non-JSON body, issue a non-Bearer token, or
// play the mix-up attack. The person's browser is played with plain requests: the one-time link
// (its cookie), then the callback the provider would redirect to.
const CLIENT_SECRET = 'hostile-client-secret-4f1a9c';
process.env.HOSTILE_AS_SECRET = CLIENT_SECRET;
const sha256 = (text) => createHash('sha256').update(text).digest('base64url');
const random = (prefix) => `${prefix}-${randomBytes(12).toString('hex')}`;
/** Everything secret the hostile test ever saw pass: codes, verifiers, tokens. None may reach any output. */
const secrets = new Set([CLIENT_SECRET]);
async function startHostileAs() {
    const tenants = new Map();
    let origin = '';
    const as = await startUpstream(async (req, res, body) => {
        // The metadata of issuer /t/NAME is only where RFC 8414 section 3.1 puts it,
        // /.well-known/oauth-authorization-server/t/NAME, not under the issuer's path.
        const asked = (req.url ?? '').split('?')[0];
        if (asked.endsWith('/.well-known/oauth-authorization-server'))
            return void res.writeHead(404).end();
        const m = /^\/t\/([\w-]+)(\/.*)$/.exec(asked.replace(/^\/\.well-known\/oauth-authorization-server(\/t\/[\w-]+)$/, '$1/.well-known/oauth-authorization-server'));
        const tenant = m === null ? undefined : tenants.get(m[1]);
        if (m === null || tenant === undefined)
            return void res.writeHead(404).end();
        const base = `${origin}/t/${m[1]}`;
        if (m[2] === '/.well-known/oauth-authorization-server') {
            if (tenant.silent === true)
                return;
            const metadata = JSON.stringify({ issuer: base, authorization_endpoint: `${base}/authorize`, token_endpoint: `${base}/token`, revocation_endpoint: `${base}/revoke`, code_challenge_methods_supported: ['S256'], ...tenant.metadata });
            // Leading whitespace keeps it valid JSON: only its size is hostile.
            return void res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.concat([Buffer.alloc(tenant.hugeMetadata ?? 0, ' '), Buffer.from(metadata)]));
        }
        if (m[2] === '/token') {
            const form = new URLSearchParams(body);
            tenant.tokenForms.push(form);
            for (const v of [form.get('code'), form.get('code_verifier'), form.get('refresh_token')])
                if (v)
                    secrets.add(v);
            if (tenant.tokenAnswer !== undefined) {
                const a = tenant.tokenAnswer();
                return void res.writeHead(a.status, { 'content-type': a.type }).end(a.body);
            }
            const refused = () => res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
            if (form.get('grant_type') === 'authorization_code') {
                // PKCE as a real server checks it: the verifier must hash to the challenge the code was issued for.
                const challenge = tenant.codes.get(form.get('code') ?? '');
                tenant.codes.delete(form.get('code') ?? '');
                if (challenge === undefined || challenge !== sha256(form.get('code_verifier') ?? ''))
                    return refused();
            }
            else if (form.get('grant_type') !== 'refresh_token')
                return refused();
            else if (tenant.hold !== undefined)
                await tenant.hold;
            const access = random('at');
            const refresh = random('rt');
            secrets.add(access).add(refresh);
            const scope = form.get('grant_type') === 'refresh_token' ? tenant.refreshScope : 'api.read';
            return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: access, refresh_token: refresh, token_type: 'Bearer', expires_in: 3600, scope }));
        }
        if (m[2] === '/revoke')
            tenant.revoked.push(new URLSearchParams(body).get('token') ?? '');
        res.writeHead(200).end();
    });
    origin = `http://127.0.0.1:${as.port}`;
    return {
        as,
        tenants,
        issuer: (name) => `${origin}/t/${name}`,
        /** A code the person's consent would have produced, bound to `challenge`. */
        code(name, challenge) {
            const code = random('code');
            secrets.add(code);
            tenants.get(name).codes.set(code, challenge);
            return code;
        },
    };
}
t.test('delegated OAuth against hostile parties', async (t) => {
    const hostile = await startHostileAs();
    t.teardown(() => hostile.as.close());
    const tenant = (name, extra = {}) => {
        const made = { metadata: {}, refreshScope: 'api.read', codes: new Map(), tokenForms: [], revoked: [], ...extra };
        hostile.tenants.set(name, made);
        return made;
    };
    const plain = tenant('plain', { refreshScope: 'api.read api.write' });
    const mixup = tenant('mixup', { metadata: { authorization_response_iss_parameter_supported: true } });
    const notJson = tenant('notjson', { tokenAnswer: () => ({ status: 200, type: 'text/html', body: `<html>access_token=${random('at-html')}</html>` }) });
    const dpop = tenant('dpop', { tokenAnswer: () => ({ status: 200, type: 'application/json', body: JSON.stringify({ access_token: random('at-dpop'), token_type: 'DPoP', expires_in: 3600 }) }) });
    tenant('huge', { hugeMetadata: 8 * MAX_PROVIDER_ANSWER_BYTES });
    tenant('slow', { silent: true });
    const chal = tenant('chal');
    const race = tenant('race');
    // Written by name, its token endpoint on another name: both resolve to 127.0.0.1 (the test's resolver).
    const inward = tenant('inward');
    // Where a hostile party would like sidekey to send a request (a cloud metadata service, an
    // internal API). It only counts what reaches it.
    const internal = await startUpstream();
    t.teardown(() => internal.close());
    const internalUrl = `http://127.0.0.1:${internal.port}/latest/meta-data/iam/security-credentials/role`;
    // The issuer the operator wrote by name, and the name its metadata gives the token endpoint: both
    // resolve to loopback, where only the first was written by the operator.
    const byNameIssuer = `http://as-by-name.test:${hostile.as.port}/t/inward`;
    inward.metadata = {
        issuer: byNameIssuer,
        authorization_endpoint: `${byNameIssuer}/authorize`,
        revocation_endpoint: `${byNameIssuer}/revoke`,
        token_endpoint: `http://metadata-by-name.test:${internal.port}/latest/meta-data/token`,
    };
    const resolver = async (host) => {
        if (host === 'as-by-name.test' || host === 'metadata-by-name.test')
            return [{ address: '127.0.0.1', family: 4 }];
        return systemResolver(host);
    };
    let answeredOnce = false;
    // The API the grant is for. /revoked answers 401 to every token, with a challenge naming other
    // resource metadata (as if the server had moved the agent somewhere else).
    const api = await startUpstream((req, res) => {
        if (req.url === '/expired-once' && !answeredOnce) {
            answeredOnce = true;
            return void res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end();
        }
        if (req.url === '/revoked')
            return void res.writeHead(401, { 'www-authenticate': `Bearer error="invalid_token", resource_metadata="${internalUrl}"` }).end();
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    t.teardown(() => api.close());
    // An MCP-like protected resource whose challenge names metadata on another origin (SSRF through discovery).
    let rsOrigin = '';
    const rs = await startUpstream((req, res) => {
        if (req.url === '/mcp')
            return void res.writeHead(401, { 'www-authenticate': `Bearer resource_metadata="${internalUrl}"` }).end();
        if (req.url === '/pinned')
            return void res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
        if (req.url === '/.well-known/oauth-protected-resource/pinned')
            return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ resource: `${rsOrigin}/pinned`, authorization_servers: [hostile.issuer('evil')] }));
        if (req.url === '/.well-known/oauth-protected-resource/mcp')
            return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ resource: `${rsOrigin}/mcp`, authorization_servers: [hostile.issuer('chal')] }));
        res.writeHead(404).end();
    });
    t.teardown(() => rs.close());
    rsOrigin = `http://127.0.0.1:${rs.port}`;
    const credential = (name, extra = '', issuer = name) => `  ${name}:
    type: oauth2-authorization-code
    issuer: ${hostile.issuer(issuer)}
    client_id: sidekey-hostile
    client_secret: { env: HOSTILE_AS_SECRET }
    scopes: [api.read]
${extra}`;
    const route = (name) => `  - name: ${name}
    host: ${name}.test
    ports: [${api.port}]
    addresses: [127.0.0.1]
    workloads: [assistant]
    credential: ${name === 'api' ? 'plain' : name}
    inject: { header: authorization, value: "Bearer {secret}" }
`;
    const policy = `
version: v1
credentials:
${['plain', 'mixup', 'notjson', 'dpop', 'huge', 'race'].map((n) => credential(n)).join('')}${credential('slow', '    timeout_ms: 1500\n')}${credential('chal', `    protected_resource: ${rsOrigin}/mcp\n`)}${credential('pinned', `    protected_resource: ${rsOrigin}/pinned\n`, 'chal')}  inward:
    type: oauth2-authorization-code
    issuer: ${byNameIssuer}
    client_id: sidekey-hostile
    client_secret: { env: HOSTILE_AS_SECRET }
    scopes: [api.read]
routes:
${route('api')}${route('race')}`;
    const connectTo = { [`api.test:${api.port}`]: { host: '127.0.0.1', port: api.port }, [`race.test:${api.port}`]: { host: '127.0.0.1', port: api.port } };
    const sk = await startTestSidekey(t, policy, { connectTo, resolver });
    const admin = { authorization: `Bearer ${sk.adminToken}`, 'content-type': 'application/json' };
    /** Every page and answer sidekey gave in this test: none may hold a secret. */
    const outputs = [];
    const startConnect = async (name) => {
        const res = await request(`${sk.adminUrl}/v1/oauth/grants/${name}/connect`, { method: 'POST', headers: admin, body: '{"by":"tester"}' });
        const text = await res.body.text();
        outputs.push(text);
        return { status: res.statusCode, error: res.headers['x-sidekey-error'], text };
    };
    /** Connect (admin), then open the one-time link as the person's browser: its cookie, and where it was sent. */
    const begin = async (name) => {
        const started = await startConnect(name);
        t.equal(started.status, 201, started.text);
        const { url, flow } = JSON.parse(started.text);
        const opened = await request(url);
        await opened.body.dump();
        const authorize = new URL(String(opened.headers.location));
        return { flow, url, cookie: String(opened.headers['set-cookie']).split(';')[0], authorize, state: authorize.searchParams.get('state'), challenge: authorize.searchParams.get('code_challenge') };
    };
    const callback = async (params, cookie) => {
        const res = await request(`${sk.adminUrl}/oauth/callback?${new URLSearchParams(params).toString()}`, { headers: cookie === null ? {} : { cookie } });
        const body = await res.body.text();
        outputs.push(body);
        return { status: res.statusCode, error: res.headers['x-sidekey-error'], body };
    };
    const grant = async (name) => {
        const res = await request(`${sk.adminUrl}/v1/oauth/grants`, { headers: admin });
        const text = await res.body.text();
        outputs.push(text);
        return JSON.parse(text).grants.find((g) => g.credential === name);
    };
    const agentCall = async (path, workload = 'assistant', headers = {}, host = 'api.test') => {
        const res = await request(`http://${host}:${api.port}${path}`, { headers, dispatcher: new ProxyAgent({ uri: sk.proxyUrlFor(workload), proxyTunnel: false }) });
        return { status: res.statusCode, error: res.headers['x-sidekey-error'], body: await res.body.text() };
    };
    t.test('a flow starts only with the admin token, and its link works once and cannot be guessed', async (t) => {
        const anonymous = await request(`${sk.adminUrl}/v1/oauth/grants/plain/connect`, { method: 'POST', body: '{}' });
        await anonymous.body.dump();
        t.equal(anonymous.statusCode, 401, 'the agent cannot start a flow it could then complete with its own account');
        for (const [method, path] of [['DELETE', '/v1/oauth/grants/plain'], ['GET', '/v1/oauth/grants'], ['GET', `/v1/oauth/flows/${randomUUID()}`]]) {
            const res = await request(`${sk.adminUrl}${path}`, { method });
            await res.body.dump();
            t.equal(res.statusCode, 401, `${method} ${path} takes the admin token`);
        }
        const guessed = await request(`${sk.adminUrl}/oauth/begin?key=${randomBytes(32).toString('base64url')}`);
        t.equal(guessed.statusCode, 400);
        t.equal(guessed.headers['x-sidekey-error'], 'SIDEKEY_ERR_OAUTH_CALLBACK');
        t.equal(guessed.headers.location, undefined, 'no redirect anywhere');
        t.match(await guessed.body.text(), /unknown, expired or was already opened/);
        const opened = await begin('plain');
        t.equal(opened.authorize.origin + opened.authorize.pathname, `${hostile.issuer('plain')}/authorize`, 'the link sends the browser to the authorization endpoint and nowhere else');
        t.equal(opened.authorize.searchParams.get('redirect_uri'), `${sk.adminUrl}/oauth/callback`, 'the exact redirect URI');
        t.equal(opened.authorize.searchParams.get('code_challenge_method'), 'S256');
        t.match(opened.cookie, /^sidekey_oauth_[0-9a-f]{32}=[\w-]{43}$/);
        const again = await request(opened.url);
        t.equal(again.statusCode, 400, 'the one-time link opened a second time (by the agent, a second browser) is refused');
        t.equal(again.headers['set-cookie'], undefined, 'and binds nothing');
        outputs.push(await again.body.text());
    });
    t.test('neither a Host header nor the provider\'s error words can steer the browser or the page', async (t) => {
        const spoofed = await request(`${sk.adminUrl}/v1/oauth/grants/plain/connect`, { method: 'POST', headers: { ...admin, host: 'evil.test' }, body: '{}' });
        const text = await spoofed.body.text();
        t.not(spoofed.statusCode, 201, 'the admin listener does not answer to another name');
        t.notMatch(text, /evil\.test\/oauth/, 'so no link or redirect URI naming it is made');
        const flow = await begin('plain');
        const page = await callback({ state: flow.state, error: '<img src=x onerror=alert(1)>', error_description: '<script>alert(2)</script>' }, flow.cookie);
        t.equal(page.status, 400);
        t.match(page.body, /the provider answered an error instead of a code/);
        t.notMatch(page.body, /<img|<script/, 'the provider\'s words are never markup on the page');
    });
    t.test('login CSRF and code injection: a callback from another browser, or with another code, is refused', async (t) => {
        const victim = await begin('plain');
        const attacker = await begin('plain');
        const before = plain.tokenForms.length;
        const swapped = await callback({ code: hostile.code('plain', victim.challenge), state: victim.state }, attacker.cookie);
        t.equal(swapped.status, 400, 'the cookie of another flow does not finish this one');
        t.equal(swapped.error, 'SIDEKEY_ERR_OAUTH_CALLBACK');
        t.match(swapped.body, /did not start this authorization/);
        const forged = await begin('plain');
        const name = forged.cookie.split('=')[0];
        const wrongValue = await callback({ code: hostile.code('plain', forged.challenge), state: forged.state }, `${name}=${randomBytes(32).toString('base64url')}`);
        t.equal(wrongValue.status, 400, 'the right cookie name with a forged value is refused');
        t.equal(plain.tokenForms.length, before, 'no code was exchanged for either');
        // The attacker's own code (its account, its PKCE challenge) pasted into the victim's callback:
        // sidekey sends the verifier of the victim's flow, which the attacker's code was not issued for.
        const injected = await callback({ code: hostile.code('plain', sha256('attacker-verifier')), state: attacker.state }, attacker.cookie);
        t.equal(injected.status, 400);
        t.match(injected.body, /code exchange failed.*invalid_grant/);
        t.equal(sha256(plain.tokenForms.at(-1).get('code_verifier')), attacker.challenge, 'the verifier sent is the one bound to the state');
        t.equal((await grant('plain')).status, 'not-connected', 'the attacker\'s account was not connected');
        // Someone who learnt a state (from a URL, a log, the provider) cannot spend it: the person's own callback still works.
        const person = await begin('plain');
        const code = hostile.code('plain', person.challenge);
        const stranger = await callback({ code, state: person.state }, null);
        t.equal(stranger.status, 400);
        t.match(stranger.body, /did not start this authorization/);
        const own = await callback({ code, state: person.state }, person.cookie);
        t.equal(own.status, 200, own.body);
        t.match(own.body, /Connected plain/);
        const replay = await callback({ code, state: person.state }, person.cookie);
        t.equal(replay.status, 400, 'and it is still good once');
        t.match(replay.body, /unknown, expired or was already used/);
        await request(`${sk.adminUrl}/v1/oauth/grants/plain`, { method: 'DELETE', headers: admin, body: '{}' }).then((r) => r.body.dump());
    });
    t.test('mix-up (RFC 9207): a response whose iss names another server is refused before its code is used', async (t) => {
        const flow = await begin('mixup');
        const other = await callback({ code: hostile.code('mixup', flow.challenge), state: flow.state, iss: hostile.issuer('plain') }, flow.cookie);
        t.equal(other.status, 400);
        t.equal(other.error, 'SIDEKEY_ERR_OAUTH_CALLBACK');
        t.match(other.body, /iss mismatch/);
        t.equal(mixup.tokenForms.length, 0, 'the code never reached a token endpoint');
        const missing = await begin('mixup');
        const none = await callback({ code: hostile.code('mixup', missing.challenge), state: missing.state }, missing.cookie);
        t.equal(none.status, 400, 'a server that promises iss must send it');
        t.match(none.body, /promises an iss parameter/);
        t.equal(mixup.tokenForms.length, 0);
        const right = await begin('mixup');
        const ok = await callback({ code: hostile.code('mixup', right.challenge), state: right.state, iss: hostile.issuer('mixup') }, right.cookie);
        t.equal(ok.status, 200, ok.body);
        t.match(ok.body, /Connected mixup/);
        // A server that does not promise iss: a wrong one is still refused, none is accepted (below).
        const plainFlow = await begin('plain');
        const wrong = await callback({ code: hostile.code('plain', plainFlow.challenge), state: plainFlow.state, iss: hostile.issuer('mixup') }, plainFlow.cookie);
        t.equal(wrong.status, 400);
        t.match(wrong.body, /iss mismatch/);
    });
    t.test('the agent uses the grant: its own Authorization header is replaced; another workload is refused', async (t) => {
        const flow = await begin('plain');
        const done = await callback({ code: hostile.code('plain', flow.challenge), state: flow.state }, flow.cookie);
        t.equal(done.status, 200, done.body);
        const res = await agentCall('/v1/me', 'assistant', { authorization: 'Bearer agent-chosen-token' });
        t.equal(res.status, 200, res.body);
        const seen = api.seen.at(-1);
        const sent = seen.rawHeaders.filter((_, i) => i % 2 === 0 && seen.rawHeaders[i].toLowerCase() === 'authorization');
        t.equal(sent.length, 1, 'one Authorization header upstream');
        t.match(seen.headers.authorization, /^Bearer at-/, 'the grant\'s token, not the agent\'s');
        t.ok(secrets.has(seen.headers.authorization.slice(7)));
        const hits = api.seen.length;
        const intruder = await agentCall('/v1/me', 'intruder');
        t.equal(intruder.status, 403, 'a workload the route does not name gets no request with the person\'s token');
        t.equal(api.seen.length, hits);
    });
    t.test('a 401 whose challenge names other metadata: one refresh, one retry, nothing fetched elsewhere', async (t) => {
        const refreshes = () => plain.tokenForms.filter((f) => f.get('grant_type') === 'refresh_token').length;
        const before = { refreshes: refreshes(), hits: api.seen.length };
        const res = await agentCall('/revoked');
        t.equal(res.status, 401, 'the second 401 is relayed');
        t.equal(refreshes() - before.refreshes, 1, 'one refresh');
        t.equal(api.seen.length - before.hits, 2, 'one retry');
        t.equal(internal.seen.length, 0, 'the challenge\'s resource_metadata was not fetched');
        // The refresh granted more than was asked: sidekey records what the provider granted, so the console shows it.
        t.same((await grant('plain')).scopes, ['api.read', 'api.write']);
        t.equal((await agentCall('/v1/me')).status, 200, 'the grant still works');
    });
    t.test('hostile token answers: not JSON, or a token that is not Bearer, connect nothing', async (t) => {
        const html = await begin('notjson');
        const a = await callback({ code: hostile.code('notjson', html.challenge), state: html.state }, html.cookie);
        t.equal(a.status, 400);
        t.match(a.body, /body that is not JSON/);
        t.notMatch(a.body, /access_token/, 'the provider\'s body is not repeated');
        t.equal(notJson.tokenForms.length, 1);
        t.equal((await grant('notjson')).status, 'not-connected');
        const bound = await begin('dpop');
        const b = await callback({ code: hostile.code('dpop', bound.challenge), state: bound.state }, bound.cookie);
        t.equal(b.status, 400);
        t.match(b.body, /token of type DPoP, not Bearer/);
        t.equal(dpop.tokenForms.length, 1);
        t.equal((await grant('dpop')).status, 'not-connected', 'a DPoP-bound token is never injected as a Bearer token');
    });
    t.test('huge or silent metadata is refused, and sidekey keeps serving', async (t) => {
        const huge = await startConnect('huge');
        t.equal(huge.error, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE');
        t.match(huge.text, new RegExp(`answered more than ${MAX_PROVIDER_ANSWER_BYTES} bytes`));
        const slow = await startConnect('slow');
        t.equal(slow.error, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE');
        t.match(slow.text, /did not answer within 1500 ms/);
        t.equal((await agentCall('/v1/me')).status, 200);
    });
    t.test('SSRF through discovery: a challenge naming metadata on another origin is not followed', async (t) => {
        const flow = await begin('chal');
        t.equal(internal.seen.length, 0, 'nothing was fetched from the address the challenge named');
        t.equal(flow.authorize.searchParams.get('resource'), `${rsOrigin}/mcp`, 'the metadata on the resource\'s own origin was used');
        t.equal(flow.authorize.origin + flow.authorize.pathname, `${hostile.issuer('chal')}/authorize`);
        t.equal(chal.tokenForms.length, 0);
    });
    t.test('SSRF through discovery by name: a discovered endpoint whose name resolves inward is not connected to', async (t) => {
        const seenBefore = internal.seen.length;
        const flow = await begin('inward');
        t.equal(flow.authorize.origin, 'http://as-by-name.test:' + hostile.as.port, 'the issuer the operator wrote by name may be internal');
        const a = await callback({ code: hostile.code('inward', flow.challenge), state: flow.state }, flow.cookie);
        t.equal(a.status, 400);
        t.match(a.body, /metadata-by-name\.test, which discovery found in a server(?:'|&#39;)s metadata, resolves to an internal address \(127\.0\.0\.1\)/);
        t.equal(internal.seen.length, seenBefore, 'nothing reached the internal address, the client secret least of all');
        t.equal((await grant('inward')).status, 'not-connected');
    });
    t.test('a pre-registered client secret goes only to the issuer it is pinned to, whatever the resource names', async (t) => {
        const refused = await startConnect('pinned');
        t.equal(refused.error, 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE');
        t.match(refused.text, /names other authorization servers than .*where this client is registered/);
        t.equal(hostile.as.seen.filter((s) => s.url.startsWith('/t/evil')).length, 0, 'the server the resource named was never asked anything');
    });
    t.test('revocation racing a refresh: the revocation wins, and the refresh token issued meanwhile is revoked too', async (t) => {
        const flow = await begin('race');
        t.equal((await callback({ code: hostile.code('race', flow.challenge), state: flow.state }, flow.cookie)).status, 200);
        let release = () => undefined;
        race.hold = new Promise((r) => (release = r));
        // A 401 makes sidekey refresh; the provider holds the refresh while a person revokes.
        const call = agentCall('/expired-once', 'assistant', {}, 'race.test');
        await waitFor('the refresh to reach the provider', () => race.tokenForms.find((f) => f.get('grant_type') === 'refresh_token'));
        const revoked = await request(`${sk.adminUrl}/v1/oauth/grants/race`, { method: 'DELETE', headers: admin, body: '{"by":"tester"}' });
        outputs.push(await revoked.body.text());
        t.equal(revoked.statusCode, 200);
        const hits = api.seen.length;
        release();
        const res = await call;
        t.not(res.status, 200, 'the request is not retried with the token of a revoked grant');
        t.equal(api.seen.length, hits, 'nothing more went upstream');
        t.equal((await agentCall('/v1/me', 'assistant', {}, 'race.test')).error, 'SIDEKEY_ERR_GRANT_RECONNECT');
        // The provider's tokens: the revocation spent the first refresh token, the refresh issued a new one.
        const issued = await waitFor('the orphaned refresh token to be revoked', () => race.revoked.length >= 2 ? race.revoked : undefined);
        t.equal(issued.length, 2, 'the old refresh token at revocation, then the one issued by the racing refresh');
        t.not(issued[0], issued[1]);
    });
    t.test('custody: no code, verifier, token or client secret in any answer or log line', async (t) => {
        const flows = await request(`${sk.adminUrl}/v1/oauth/grants`, { headers: admin });
        outputs.push(await flows.body.text());
        const all = [...secrets];
        t.ok(all.length > 10, `${all.length} secrets passed`);
        t.same(outputs.filter((o) => all.some((s) => o.includes(s))), [], 'no answer holds one');
        t.same(sk.sink.leaks(all), [], 'no log line holds one');
    });
});
t.test('a grants key readable by others is not used', async (t) => {
    const hostile = await startHostileAs();
    t.teardown(() => hostile.as.close());
    hostile.tenants.set('plain', { metadata: {}, refreshScope: 'api.read', codes: new Map(), tokenForms: [], revoked: [] });
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-hostile-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const keyFile = join(dir, 'certs', GRANTS_KEY_FILE);
    await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
    await writeFile(keyFile, `${randomBytes(32).toString('base64')}\n`);
    await chmod(keyFile, 0o644);
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  plain:
    type: oauth2-authorization-code
    issuer: ${hostile.issuer('plain')}
    client_id: sidekey-hostile
    client_secret: { env: HOSTILE_AS_SECRET }
`, { dir });
    const connect = () => request(`${sk.adminUrl}/v1/oauth/grants/plain/connect`, { method: 'POST', headers: { authorization: `Bearer ${sk.adminToken}` }, body: '{}' });
    const refused = await connect();
    t.equal(refused.headers['x-sidekey-error'], 'SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE');
    t.match(await refused.body.text(), /readable by group or others \(mode 644\); run chmod 600/);
    await chmod(keyFile, 0o600);
    const started = await connect();
    await started.body.dump();
    t.equal(started.statusCode, 201, 'once tightened, the key is used');
});
//# sourceMappingURL=delegated-oauth-hostile.test.js.map