import { writeFile } from 'node:fs/promises';
import t from 'tap';
import { ProxyAgent, request } from 'undici';
import { delegatedCredential, launchChromium, signInAndConsent, startDelegatedAs } from '../helpers/oidc-delegated.js';
import { pollFor } from '../helpers/poll.js';
import { freePort, startRedis, writeStateFile } from '../helpers/redis.js';
import { startTestSidekey } from '../helpers/sidekey.js';
import { requireTools } from '../helpers/tools.js';
import { startUpstream } from '../helpers/upstream.js';
// Three sidekey replicas on one real Redis share a person's delegated grant with an authorization
// server that rotates the refresh token on every refresh and revokes the whole grant when an old
// one is used again. The person starts at one replica and the provider sends them back to another
// (the replicas share one issuer URL, as behind a load balancer). Then the agent calls through all
// three in turn across several expiries: exactly one replica refreshes per expiry (a lease in
// Redis), the others use its result, and the grant survives.
const TTL_S = 6;
const REFRESH_AT = 0.5;
requireTools('chromium', 'redis-server');
t.test('three replicas, one rotating grant', async (top) => {
    const t = top;
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const as = await startDelegatedAs({ accessTokenTTL: TTL_S });
    t.teardown(() => as.close());
    const api = await startUpstream((req, res) => {
        as.verify((req.headers.authorization ?? '').replace(/^Bearer /, '')).then((claims) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ sub: claims.sub })), () => res.writeHead(401).end());
    });
    t.teardown(() => api.close());
    const keyFile = `${redis.dir}/state-key`;
    await writeFile(keyFile, 'a-long-random-shared-encryption-key\n');
    const statePath = await writeStateFile(redis.dir, redis.url, '', `signing_keys:\n  encryption_key_file: ${keyFile}\n`);
    const policy = `
version: v1
credentials:
${delegatedCredential('crm-user', as.issuer, REFRESH_AT)}routes:
  - name: api
    host: api.test
    ports: [${api.port}]
    addresses: [127.0.0.1]
    credential: crm-user
    inject: { header: authorization, value: "Bearer {secret}" }
`;
    const connectTo = { [`api.test:${api.port}`]: { host: '127.0.0.1', port: api.port } };
    // One issuer URL for all three (the second replica's admin listener stands for the load balancer).
    const returnPort = await freePort();
    const issuer = `http://127.0.0.1:${returnPort}`;
    const replicas = [];
    for (let i = 0; i < 3; i++) {
        replicas.push(await startTestSidekey(t, policy, { connectTo, statePath, config: { issuer, ...(i === 1 ? { admin: { host: '127.0.0.1', port: returnPort } } : {}) } }));
    }
    as.register(`${issuer}/oauth/callback`);
    const call = async (sk) => {
        const res = await request(`http://api.test:${api.port}/me`, { dispatcher: new ProxyAgent({ uri: sk.proxyUrlFor('assistant'), proxyTunnel: false }) });
        return { status: res.statusCode, error: res.headers['x-sidekey-error'], body: await res.body.text() };
    };
    t.test('connect at one replica, come back to another', async (t) => {
        const browser = await launchChromium();
        t.teardown(() => browser.close());
        const page = await browser.newPage();
        const first = replicas[0];
        await page.goto(`${first.adminUrl}/console#token=${encodeURIComponent(first.adminToken)}`);
        await page.fill('#name', 'Pat Person');
        await page.click('#login button');
        await page.locator('#grants tr[data-grant="crm-user"] button[data-action=connect]').click();
        await page.click('#connect-continue');
        await signInAndConsent(page, 'pat@example.test');
        await page.waitForURL((u) => u.pathname === '/oauth/callback');
        t.equal(new URL(page.url()).port, String(returnPort), 'the provider sent the person to another replica');
        t.equal(await page.locator('#result').innerText(), 'Connected crm-user');
        for (const sk of replicas)
            t.equal((await call(sk)).status, 200, 'every replica uses the grant');
    });
    t.test('across several expiries: one refresh each, the grant survives', async (t) => {
        const before = as.events.grants.filter((g) => g === 'refresh_token').length;
        const started = Date.now();
        const failures = [];
        // Every replica keeps calling, so each one's cache comes due in every window (polled, not slept:
        // the span is what matters, however late the timers fire).
        const span = 4.2 * TTL_S * REFRESH_AT * 1000;
        await pollFor(async () => {
            for (const a of await Promise.all(replicas.map((sk) => call(sk))))
                if (a.status !== 200)
                    failures.push(a);
        }, () => Date.now() - started >= span, span + 30_000, 100);
        const elapsed = Date.now() - started;
        const refreshes = as.events.grants.filter((g) => g === 'refresh_token').length - before;
        const windows = elapsed / (TTL_S * REFRESH_AT * 1000);
        t.same(failures, [], 'every call through every replica went through');
        t.same(as.events.grantErrors, [], 'no rotated refresh token was ever used twice (that would revoke the grant)');
        t.ok(refreshes >= Math.floor(windows) - 1, `refreshed in each window (${refreshes} refreshes in ${windows.toFixed(1)} windows)`);
        t.ok(refreshes <= Math.ceil(windows) + 1, `at most one refresh per window across three replicas (${refreshes} in ${windows.toFixed(1)})`);
        t.equal(replicas.reduce((n, sk) => n + sk.credentials.grants.stats.refreshes, 0), as.events.grants.filter((g) => g === 'refresh_token').length, 'each refresh the server saw was made by exactly one replica');
        for (const sk of replicas)
            t.equal((await call(sk)).status, 200, 'the grant is alive on every replica');
    });
    t.test('a replica restarted afresh (new certs directory) finds the grant in Redis', async (t) => {
        await replicas[2].close();
        replicas[2] = await startTestSidekey(top, policy, { connectTo, statePath, config: { issuer } });
        const res = await call(replicas[2]);
        t.equal(res.status, 200, res.body);
        t.equal(JSON.parse(res.body).sub, 'pat@example.test');
    });
});
//# sourceMappingURL=delegated-oauth-replicas.test.js.map