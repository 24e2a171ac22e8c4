import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SECRETS } from '../helpers/sidekey.js';
import { requireTools } from '../helpers/tools.js';
import { startUpstream, upstreamTrust } from '../helpers/upstream.js';
requireTools('curl', 'python3', 'bwrap');
// Real agents, started the way users start them: `sidekey run -- <agent>`. The agent's process has
// no key (a placeholder at most); a local HTTPS stand-in for api.openai.com checks the injected
// header and streams a chat completion that must arrive in chunks. `sidekey run` finds no sidekey
// on its admin port here, so it runs one in-process for the agent's lifetime.
const CLI = join(process.cwd(), 'dist/src/cli/main.js');
const AGENT = join(process.cwd(), 'test/fixtures/agents/openai-agent.mjs');
const GAP_MS = 150;
function sidekeyRun(args, env) {
    return new Promise((resolve) => {
        execFile(process.execPath, [CLI, 'run', ...args], { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
            resolve({ code: err === null ? 0 : Number(err.code ?? 1), stdout, stderr });
        });
    });
}
t.test('agents run through `sidekey run`', async (t) => {
    const trust = await upstreamTrust();
    const words = ['Hel', 'lo', ' from', ' the', ' stand-in'];
    const api = await startUpstream((req, res) => {
        if (req.headers.authorization !== `Bearer ${SECRETS.OPENAI}`) {
            res.writeHead(401, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }));
            return;
        }
        if (req.url === '/v1/chat/completions') {
            // OpenAI's streaming format: chat.completion.chunk objects as server-sent events, then [DONE].
            res.writeHead(200, { 'content-type': 'text/event-stream' });
            let i = 0;
            const send = () => {
                if (i === words.length) {
                    res.end('data: [DONE]\n\n');
                    return;
                }
                const chunk = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: words[i++] }, finish_reason: null }] };
                res.write(`data: ${JSON.stringify(chunk)}\n\n`);
                setTimeout(send, GAP_MS);
            };
            send();
            return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [] }));
    }, { trust, host: 'api.openai.com' });
    t.teardown(() => api.close());
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-agents-'));
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'openai.yaml'), `version: v1
credentials:
  openai-key:
    type: static
    env: OPENAI_API_KEY
routes:
  - name: openai
    host: api.openai.com
    ports: [443]
    paths: ["/v1/**"]
    workloads: [research-agent]
    credential: openai-key
    # The stand-in listens on loopback, which the SSRF guard refuses unless a route names it.
    addresses: [127.0.0.1]
`);
    const args = [
        '--workload', 'research-agent',
        '--policies', join(dir, 'policies'),
        '--certs', join(dir, 'certs'),
        // Nothing listens on port 1, so `run` cannot attach to another test's sidekey: it embeds one.
        '--admin', '127.0.0.1:1',
        '--upstream-ca', trust.caFile,
        '--connect-to', `api.openai.com:443:127.0.0.1:${api.port}`,
    ];
    // sidekey's own environment holds the real key; the agent must never see it.
    const env = { ...process.env, OPENAI_API_KEY: SECRETS.OPENAI, HTTP_PROXY: '', HTTPS_PROXY: '', NODE_OPTIONS: '' };
    t.test('the official OpenAI SDK streams a chat completion with a key it never held', async (t) => {
        const r = await sidekeyRun([...args, '--', process.execPath, AGENT], env);
        t.equal(r.code, 0, 'sidekey run passed the agent\'s exit code 0', { stderr: r.stderr });
        const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
        t.equal(out.key, 'sidekey-placeholder', 'the agent saw only a placeholder');
        t.equal(out.chunks.map((c) => c.content).join(''), words.join(''));
        t.ok(out.chunks.length >= words.length, `${out.chunks.length} chunks`);
        // Buffered to the end, the chunks would arrive together (a span near 0); a loaded machine may
        // bunch a few, so two gaps' worth of span is the proof asked for.
        t.ok(out.chunks.at(-1).at - out.chunks[0].at >= 2 * GAP_MS, 'chunks arrived as they were produced, not all at the end');
        t.equal(api.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
        t.notOk(r.stdout.includes(SECRETS.OPENAI) || r.stderr.includes(SECRETS.OPENAI), 'the key is in no output of the agent or sidekey');
        // The embedded sidekey logs to the home's certs/audit.log, never into the agent's stderr.
        const log = await readFile(join(dir, 'certs', 'audit.log'), 'utf8');
        t.match(log, /"msg":"audit"/, 'sidekey wrote audit lines to its log file');
        t.match(log, /"workload":"research-agent"/);
        t.notMatch(r.stderr, /"msg":"audit"/, 'not to the agent\'s stderr');
        t.notOk(log.includes(SECRETS.OPENAI), 'and the key is not in the log');
    });
    t.test('curl with no flags at all: proxy and CA trust come from the environment run sets', async (t) => {
        const r = await sidekeyRun([...args, '--', 'curl', '-sS', '--max-time', '10', 'https://api.openai.com/v1/models'], env);
        t.equal(r.code, 0, 'curl succeeded', { stderr: r.stderr });
        t.match(r.stdout, /"object":"list"/);
    });
    t.test('Python (standard library urllib): proxy and trust bundle from the environment', async (t) => {
        const script = "import urllib.request; print(urllib.request.urlopen('https://api.openai.com/v1/models', timeout=10).read().decode())";
        const r = await sidekeyRun([...args, '--', 'python3', '-c', script], env);
        t.equal(r.code, 0, 'python succeeded', { stderr: r.stderr });
        t.match(r.stdout, /"object":"list"/);
        t.equal(api.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
    });
    t.test('a destination outside policy is refused for the agent', async (t) => {
        const r = await sidekeyRun([...args, '--', 'curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', 'http://example.com/'], env);
        t.equal(r.stdout.trim(), '403');
    });
});
//# sourceMappingURL=agents.test.js.map