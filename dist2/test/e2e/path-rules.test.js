import { execFile } from 'node:child_process';
import { createServer, request } from 'node:http';
import { connect } from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import t from 'tap';
import { explain } from '../../src/admin/server.js';
import { loadPolicyPath } from '../../src/policy/load.js';
import { curl } from '../helpers/clients.js';
import { startGoServer, startPythonServer } from '../helpers/servers.js';
import { noSecretsLogged, SECRETS, startTestSidekey } from '../helpers/sidekey.js';
import { startUpstream, upstreamTrust } from '../helpers/upstream.js';
// Issue #20 item 2: with "deny /v1/admin/**, allow /v1/**", percent-encoding and other path forms
// walked past the deny rule into the admin handlers of real servers that decode paths. Each
// attack is first sent straight to the servers (so the test shows it reaches an admin handler
// there), then through sidekey, where none may reach one: sidekey either decides on the
// normalised path (and forwards that) or refuses the form as ambiguous.
/** Go net/http: ServeMux routes on the decoded path (URL.Path), so %61 and %2F are decoded. */
const GO_SERVER = `package main

import (
	"fmt"
	"net"
	"net/http"
)

func main() {
	mux := http.NewServeMux()
	admin := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "admin %s", r.URL.EscapedPath()) }
	mux.HandleFunc("/v1/admin/", admin)
	mux.HandleFunc("/v1/admin", admin)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "public %s", r.URL.EscapedPath()) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	http.Serve(ln, mux)
}
`;
/**
 * Python WSGI (wsgiref): PATH_INFO is the decoded path, as every WSGI server (and so Flask and
 * Django) gives it; the app routes on it normalised as SimpleHTTPRequestHandler does.
 */
const PYTHON_SERVER = `
import posixpath
from socketserver import ThreadingMixIn
from wsgiref.simple_server import make_server, WSGIRequestHandler, WSGIServer

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

def app(environ, start_response):
    path = environ['PATH_INFO']
    routed = posixpath.normpath(path) if path else '/'
    kind = 'admin' if routed == '/v1/admin' or routed.startswith('/v1/admin/') else 'public'
    body = (kind + ' ' + path).encode('utf-8', 'replace')
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(body)))])
    return [body]

# Threaded, as production WSGI servers are: an idle keep-alive connection must not block the rest.
class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

server = make_server('127.0.0.1', 0, app, server_class=Server, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
`;
/**
 * A Node server that routes the way servlet containers, IIS and ASP.NET do, all at once: path
 * parameters (`;x`) stripped per segment (Servlet spec, Tomcat), the path decoded twice (IIS),
 * truncated at NUL, `\` read as `/`, dot segments and `//` resolved, letter case and a trailing
 * slash ignored (ASP.NET Core and Express defaults).
 */
function startLenientNode() {
    const seen = [];
    const decode = (s) => {
        try {
            return decodeURIComponent(s);
        }
        catch {
            return s;
        }
    };
    const server = createServer((req, res) => {
        const raw = req.url ?? '/';
        seen.push(raw);
        let p = raw.split('?')[0].split('/').map((segment) => segment.split(';')[0]).join('/');
        p = decode(decode(p)).split('\0')[0].replace(/\\/g, '/');
        p = posix.normalize(p).toLowerCase().replace(/\/+$/, '');
        const kind = p === '/v1/admin' || p.startsWith('/v1/admin/') ? 'admin' : 'public';
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`${kind} ${raw}`);
    });
    return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: server.address().port, seen })));
}
/** GET `path` (sent as is: Node's client does not normalise) straight to a server, without sidekey. */
function direct(port, path) {
    return new Promise((resolve, reject) => {
        request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve(body));
        })
            .on('error', reject)
            .end();
    });
}
/** Plain HTTP inside a CONNECT tunnel (as undici's ProxyAgent sends http:// URLs), raw. */
function inTunnel(proxyPort, proxyAuth, authority, path) {
    return new Promise((resolve, reject) => {
        const socket = connect(proxyPort, '127.0.0.1');
        let text = '';
        let tunnelled = false;
        socket.on('error', reject);
        socket.on('data', (d) => {
            text += d.toString('latin1');
            if (!tunnelled && text.includes('\r\n\r\n')) {
                tunnelled = true;
                if (!/^HTTP\/1\.1 200/.test(text))
                    return resolve(text);
                text = '';
                socket.write(`GET ${path} HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`);
            }
        });
        socket.on('close', () => resolve(text));
        socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Basic ${Buffer.from(proxyAuth).toString('base64')}\r\n\r\n`);
    });
}
function sidekeyCli(args) {
    return new Promise((resolve) => {
        execFile(process.execPath, [join(process.cwd(), 'dist/src/cli/main.js'), ...args], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
            resolve({ code: err === null ? 0 : Number(err.code ?? 1), stdout, stderr });
        });
    });
}
t.test('path forms that real servers decode cannot walk past a deny rule', async (t) => {
    const go = await startGoServer(t, GO_SERVER);
    const python = await startPythonServer(t, PYTHON_SERVER);
    const node = await startLenientNode();
    t.teardown(() => node.server.close());
    const servers = { go: go.port, python: python.port, node: node.port };
    // For each server: "deny /v1/admin/**, allow /v1/**" (host NAME.test), and the same deny with an
    // allow that matches any path (NAME-any.test): the deny must hold however the allow is written.
    // gitlab.test has no route that reads paths: encoded slashes there are data and go through.
    const routes = Object.entries(servers)
        .map(([name, port]) => `
  - { name: ${name}-no-admin, host: ${name}.test, ports: [${port}], paths: ["/v1/admin/**"], action: deny, workloads: [agent] }
  - { name: ${name}-api, host: ${name}.test, ports: [${port}], paths: ["/v1/**"], workloads: [agent], addresses: [127.0.0.1] }
  - { name: ${name}-any-no-admin, host: ${name}-any.test, ports: [${port}], paths: ["/v1/admin/**"], action: deny, workloads: [agent] }
  - { name: ${name}-any, host: ${name}-any.test, ports: [${port}], workloads: [agent], addresses: [127.0.0.1] }`)
        .join('');
    const policy = `version: v1\nroutes:${routes}\n  - { name: gitlab, host: gitlab.test, ports: [${node.port}], workloads: [agent], addresses: [127.0.0.1] }\n`;
    const connectTo = Object.fromEntries(Object.entries(servers).flatMap(([name, port]) => [
        [`${name}.test:${port}`, { host: '127.0.0.1', port }],
        [`${name}-any.test:${port}`, { host: '127.0.0.1', port }],
    ]));
    connectTo[`gitlab.test:${node.port}`] = { host: '127.0.0.1', port: node.port };
    const sk = await startTestSidekey(t, policy, { connectTo });
    const proxy = sk.proxyUrlFor('agent');
    // [attack path, what sidekey answers]
    const attacks = [
        ['/v1/%61dmin/x', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/v1/%61%64%6D%69%6E', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/v1/admin%2Fx', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['/v1/admin%2fx', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['/v1/x/%2e%2e/admin/x', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['/v1/admin;x=1/y', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['/v1/x/..;/admin/y', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['/v1//admin/x', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/V1/ADMIN/x', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/v1/Admin', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/v1/admin', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/v1/admin/', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/v1/admin/.', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/v1/x/../admin/y', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/v1/admin\\x', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['/v1/admin%5Cx', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['/v1/admin%00x', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['/v1/%2561dmin/x', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
    ];
    t.test('each attack reaches an admin handler of at least one real server directly', async (t) => {
        await Promise.all(attacks.map(async ([path]) => {
            const answers = await Promise.all(Object.entries(servers).map(async ([name, port]) => [name, await direct(port, path)]));
            const reached = answers.filter(([, body]) => body.startsWith('admin')).map(([name]) => name);
            t.ok(reached.length > 0, `${path} reaches admin directly on: ${reached.join(', ')}`);
        }));
        t.ok((await direct(go.port, '/v1/%61dmin/x')).startsWith('admin'), 'Go decodes %61');
        t.ok((await direct(go.port, '/v1/admin%2Fx')).startsWith('admin'), 'Go decodes %2F');
        t.ok((await direct(python.port, '/v1/%61dmin/x')).startsWith('admin'), 'Python decodes %61');
        t.ok((await direct(python.port, '/v1/admin')).startsWith('admin'), 'Python routes /v1/admin');
    });
    t.test('through sidekey no attack reaches an admin handler, on either policy shape', async (t) => {
        const seenBefore = node.seen.length;
        for (const [path, status, code] of attacks) {
            const targets = Object.entries(servers).flatMap(([name, port]) => [`${name}.test:${port}`, `${name}-any.test:${port}`]);
            await Promise.all(targets.map(async (authority) => {
                const r = await curl(['-x', proxy, '--path-as-is', `http://${authority}${path}`]);
                t.equal(r.status, status, `${authority}${path}: ${status}`);
                t.match(r.headers, new RegExp(`x-sidekey-error: ${code}`, 'i'), `${authority}${path}: ${code}`);
                t.notOk(r.body.startsWith('admin'), `${authority}${path}: no admin answer`);
            }));
        }
        t.same(node.seen.slice(seenBefore).filter((u) => /admin/i.test(u)), [], 'the lenient server never saw an admin path');
    });
    t.test('the refusal says which form, why, and what to send instead; the audit line records it', async (t) => {
        const r = await curl(['-x', proxy, '--path-as-is', `http://go.test:${go.port}/v1/admin%2Fx`]);
        const body = JSON.parse(r.body);
        t.equal(body.code, 'SIDEKEY_ERR_AMBIGUOUS_PATH');
        t.match(body.message, /"%2F", an encoded "\/".*routes for go\.test:\d+ match paths.*send the path with a literal "\/"/);
        const semicolon = JSON.parse((await curl(['-x', proxy, '--path-as-is', `http://go.test:${go.port}/v1/x/..;/admin`])).body);
        t.match(semicolon.message, /";".*put parameters in the query string/);
        const line = await sk.sink.waitForAudit((a) => a.error === 'SIDEKEY_ERR_AMBIGUOUS_PATH' && a.host === 'go.test');
        t.match(line, { decision: 'deny', reason: 'ambiguous-path', status: 400, workload: 'agent' });
    });
    t.test('normal paths still work, forwarded in normal form', async (t) => {
        const cases = [
            ['/v1/models', 'public', '/v1/models'],
            ['/v1/users/42?x=1&y=a%2Fb', 'public', '/v1/users/42'],
            ['/v1/%7Euser/caf%c3%a9', 'public', '/v1/~user/caf%C3%A9'],
            ['/v1/administrator', 'public', '/v1/administrator'],
            ['/v1', 'public', '/v1'],
        ];
        for (const [path, kind, forwarded] of cases) {
            for (const [name, port] of Object.entries(servers)) {
                const r = await curl(['-x', proxy, '--path-as-is', `http://${name}.test:${port}${path}`]);
                t.equal(r.status, 200, `${name} ${path}`);
                t.ok(r.body.startsWith(kind), `${name} ${path}: ${r.body}`);
            }
            t.equal(node.seen.at(-1), forwarded + (path.includes('?') ? path.slice(path.indexOf('?')) : ''), `forwarded as ${forwarded}`);
        }
    });
    t.test('a host whose routes never read paths keeps encoded slashes (GitLab project ids)', async (t) => {
        const r = await curl(['-x', proxy, '--path-as-is', `http://gitlab.test:${node.port}/api/v4/projects/group%2fproject/repository/files/dir%2Ffile.txt?ref=main`]);
        t.equal(r.status, 200);
        t.equal(node.seen.at(-1), '/api/v4/projects/group%2Fproject/repository/files/dir%2Ffile.txt?ref=main', 'forwarded with %2F intact (hex in upper case)');
    });
    t.test('inside a CONNECT tunnel the same normalisation and refusals apply', async (t) => {
        const auth = decodeURIComponent(new URL(proxy).username) + ':' + decodeURIComponent(new URL(proxy).password);
        for (const [path, status, code] of attacks) {
            const answer = await inTunnel(sk.proxyPort, auth, `node-any.test:${node.port}`, path);
            t.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), `tunnel ${path}: ${status}`);
            t.match(answer, new RegExp(`x-sidekey-error: ${code}`, 'i'), `tunnel ${path}: ${code}`);
        }
        const ok = await inTunnel(sk.proxyPort, auth, `node-any.test:${node.port}`, '/v1/%61ctive//x/./y');
        t.match(ok, /^HTTP\/1\.1 200 /);
        t.equal(node.seen.at(-1), '/v1/active/x/y', 'what was decided is what was forwarded');
    });
    t.test('sidekey explain and policy check tell the same truth as the proxy', async (t) => {
        const dir = await mkdtemp(join(tmpdir(), 'sidekey-paths-'));
        await writeFile(join(dir, 'policy.yaml'), policy);
        const encoded = await sidekeyCli(['explain', 'GET', `http://go.test:${go.port}/v1/admin%2Fx`, '--workload', 'agent', '--policies', dir]);
        t.equal(encoded.code, 1);
        t.match(encoded.stdout, /path refused: the path holds "%2F"/);
        t.match(encoded.stdout, /decision: deny \(ambiguous-path\)\s+-> SIDEKEY_ERR_AMBIGUOUS_PATH/);
        // Every attack, explained in-process by the function the CLI and the admin API share.
        const loaded = await loadPolicyPath(dir);
        for (const [path, , code] of attacks) {
            const answer = explain(loaded, new URLSearchParams({ method: 'GET', url: `http://node-any.test:${node.port}${path}`, workload: 'agent' }));
            t.equal(answer.decision.code, code, `explain ${path}: ${code}`);
        }
        const decoded = explain(loaded, new URLSearchParams({ method: 'GET', url: `http://go.test:${go.port}/v1/%61dmin/x`, workload: 'agent' }));
        t.match(decoded, { request: { path: '/v1/admin/x', ambiguity: null }, decision: { reason: 'route-denies', route: 'go-no-admin' } }, 'the normalised path is shown');
        t.match(explain(loaded, new URLSearchParams({ method: 'GET', url: `http://go.test:${go.port}/v1/models`, workload: 'agent' })), { decision: { action: 'allow' } });
        // The reserved name is the caller without a run token, as policy reads it, not a workload of that name.
        for (const workload of ['anonymous', ''])
            t.match(explain(loaded, new URLSearchParams({ method: 'GET', url: `http://go.test:${go.port}/v1/models`, workload })), { request: { workload: null } }, `workload=${workload}`);
        await writeFile(join(dir, 'broken.yaml'), 'version: v1\nroutes:\n  - name: slashed\n    host: x.test\n    paths: ["/v1/a%2Fb/**"]\n    action: deny\n');
        const check = await sidekeyCli(['policy', 'check', dir]);
        t.equal(check.code, 1);
        t.match(check.stderr, /broken\.yaml:5: routes\[0\]\.paths\[0\]: "\/v1\/a%2Fb\/\*\*" holds "%2F".*could never match/);
    });
    noSecretsLogged(t, sk);
});
t.test('intercepted HTTPS: the path decided inside the tunnel is the path forwarded', async (t) => {
    const trust = await upstreamTrust();
    const api = await startUpstream(undefined, { trust, host: 'api.tls.test' });
    t.teardown(() => api.close());
    const sk = await startTestSidekey(t, `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: no-admin, host: api.tls.test, paths: ["/v1/admin/**"], action: deny }
  - { name: no-deletes, host: api.tls.test, methods: [DELETE], action: deny }
  - { name: api, host: api.tls.test, paths: ["/v1/**"], credential: key, addresses: [127.0.0.1] }
`, { upstreamCaFile: trust.caFile, connectTo: { 'api.tls.test:443': { host: '127.0.0.1', port: api.port } } });
    const proxy = sk.proxyUrlFor('agent');
    const get = (path, ...extra) => curl(['-x', proxy, '--cacert', sk.ca.certPath, '--path-as-is', ...extra, `https://api.tls.test${path}`]);
    const cases = [
        ['/v1/%61dmin/x', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/v1/admin%2Fx', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['/v1/x/..;/admin', 400, 'SIDEKEY_ERR_AMBIGUOUS_PATH'],
        ['/v1//admin/x', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/V1/ADMIN/x', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
        ['/v1/admin/.', 403, 'SIDEKEY_ERR_ROUTE_DENIED'],
    ];
    for (const [path, status, code] of cases) {
        const r = await get(path);
        t.equal(r.status, status, `${path}: ${r.stderr}`);
        t.match(r.headers, new RegExp(`x-sidekey-error: ${code}`, 'i'), `${path}: ${code}`);
    }
    t.equal(api.seen.length, 0, 'nothing reached the upstream');
    const ok = await get('/v1/%6Dodels//list/./x');
    t.equal(ok.status, 200, ok.stderr);
    t.equal(api.seen.at(-1).url, '/v1/models/list/x', 'forwarded in the form it was decided in');
    t.equal(api.seen.at(-1).headers.authorization, `Bearer ${SECRETS.OPENAI}`);
    const override = await get('/v1/items/7', '-X', 'POST', '-H', 'X-HTTP-Method-Override: DELETE');
    t.equal(override.status, 403, 'a method override inside TLS is decided too');
    t.equal(api.seen.length, 1);
    noSecretsLogged(t, sk);
});
//# sourceMappingURL=path-rules.test.js.map