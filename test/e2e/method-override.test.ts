import { mkdtemp, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ProxyAgent, request } from 'undici'
import { explain } from '../../src/admin/server.js'
import { curl } from '../helpers/clients.js'
import { pollFor } from '../helpers/poll.js'
import { startPythonServer } from '../helpers/servers.js'
import { noSecretsLogged, startTestSidekey } from '../helpers/sidekey.js'

// Issue #20 item 6: X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override and ?_method= turned
// a POST into a DELETE upstream past a "deny DELETE" rule. The upstream here honours every form
// real frameworks honour; through sidekey none of them may make it run a DELETE.

/**
 * A WSGI app (Python standard library) with the method override of Rack::MethodOverride and
 * Symfony/Laravel: on a POST, the override headers, then `_method` in the query, a form body
 * (urlencoded, multipart, or no Content-Type at all, as Rack reads it) or a JSON body. It prints
 * each method it runs, one line each, and answers with it.
 */
const OVERRIDING_SERVER = `
import json
import re
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl
from socketserver import ThreadingMixIn
from wsgiref.simple_server import make_server, WSGIRequestHandler, WSGIServer

class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass

    def get_environ(self):
        # wsgiref reports a missing Content-Type as text/plain; Rack needs to know it is missing.
        environ = super().get_environ()
        if self.headers.get('content-type') is None:
            environ['CONTENT_TYPE'] = ''
        return environ

def override(environ, body):
    if environ['REQUEST_METHOD'] != 'POST':
        return None
    for header in ('HTTP_X_HTTP_METHOD_OVERRIDE', 'HTTP_X_HTTP_METHOD', 'HTTP_X_METHOD_OVERRIDE'):
        if environ.get(header):
            return environ[header]
    # PHP files a parameter under its name cut at a NUL, without leading spaces.
    php_name = lambda key: key.split('\\x00')[0].lstrip(' ').lower()
    # ASP.NET MVC 5 and Web API read the header's name as a form field or query parameter too.
    fields = ('_method', 'x-http-method-override')
    for key, value in parse_qsl(environ.get('QUERY_STRING', ''), keep_blank_values=True):
        if php_name(key) in fields:
            return value
    ctype = environ.get('CONTENT_TYPE', '')
    if ctype == '' or 'x-www-form-urlencoded' in ctype:
        for key, value in parse_qsl(body.decode('latin-1'), keep_blank_values=True):
            if php_name(key) in fields:
                return value
    if ctype.startswith('multipart/'):
        # PHP reads a name in single quotes, which Python's email parser drops.
        for quoted, value in re.findall(rb"content-disposition:[^\\r\\n]*name='([^'\\r\\n]*)'\\r\\n\\r\\n([^\\r\\n]*)", body, re.I):
            if quoted.decode('latin-1').lower() in fields:
                return value.decode('latin-1')
        message = BytesParser(policy=HTTP).parsebytes(b'Content-Type: ' + ctype.encode() + b'\\r\\n\\r\\n' + body)
        for part in message.iter_parts():
            name = part.get_param('name', header='content-disposition')
            # Rack names a part without a Content-Disposition name by its Content-ID.
            if name is None:
                name = (part.get('content-id') or '').strip(' <>')
            # ASP.NET reads a field name in any letter case.
            if name.lower() in fields:
                return part.get_content().strip()
    if '/json' in ctype or '+json' in ctype:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get('_method'), str):
            return data['_method']
    return None

def app(environ, start_response):
    length = int(environ.get('CONTENT_LENGTH') or 0)
    body = environ['wsgi.input'].read(length) if length else b''
    if len(body) < length:
        start_response('400 Bad Request', [('Content-Length', '0')])
        return [b'']
    method = (override(environ, body) or environ['REQUEST_METHOD']).upper()
    print(method, flush=True)
    out = json.dumps({'ran': method, 'bytes': len(body)}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(out)))])
    return [out]

# Threaded, as production WSGI servers are: an idle keep-alive connection must not block the rest.
class Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True

server = make_server('127.0.0.1', 0, app, server_class=Server, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
`

t.test('a method override cannot turn a POST into a DELETE past "deny DELETE"', async (t) => {
  const upstream = await startPythonServer(t, OVERRIDING_SERVER)
  const port = upstream.port
  const sk = await startTestSidekey(
    t,
    `
version: v1
credentials:
  key: { type: static, env: TEST_OPENAI_KEY }
routes:
  - { name: no-deletes, host: api.test, ports: [${port}], methods: [DELETE], action: deny }
  - { name: api, host: api.test, ports: [${port}], credential: key, workloads: [agent], addresses: [127.0.0.1] }
  - { name: lenient-no-deletes, host: lenient.test, ports: [${port}], methods: [DELETE], action: deny }
  - { name: lenient, host: lenient.test, ports: [${port}], credential: key, workloads: [agent], addresses: [127.0.0.1], method_override: true }
`,
    { connectTo: { [`api.test:${port}`]: { host: '127.0.0.1', port }, [`lenient.test:${port}`]: { host: '127.0.0.1', port } } },
  )
  const proxy = sk.proxyUrlFor('agent')
  const api = `http://api.test:${port}`
  // Large bodies go through files: they do not fit on a command line.
  const dir = await mkdtemp(join(tmpdir(), 'sidekey-override-'))
  const bigForm = join(dir, 'big-form')
  await writeFile(bigForm, `${'pad='.padEnd(200_000, 'x')}&_method=DELETE`)
  const bigJson = join(dir, 'big.json')
  await writeFile(bigJson, `{"method":"DELETE","big":"${'y'.repeat(300_000)}"}`)
  /** curl arguments for a multipart body with one part whose head is `head`, saying DELETE. */
  const multipart = (head: string): string[] => ['--data-binary', `--XX\r\n${head}\r\n\r\nDELETE\r\n--XX--\r\n`, '-H', 'Content-Type: multipart/form-data; boundary=XX']
  // [name, curl arguments after the URL's own, query to add]
  const forms: [string, string[], string][] = [
    ['X-HTTP-Method-Override header', ['-H', 'X-HTTP-Method-Override: DELETE'], ''],
    ['X-HTTP-Method header', ['-H', 'X-HTTP-Method: DELETE'], ''],
    ['X-Method-Override header, lower case', ['-H', 'X-Method-Override: delete'], ''],
    // A CGI-style server (wsgiref here) reads `_` in a header name as `-` (found by a red-team run).
    ['X_HTTP_Method_Override header, underscores', ['-H', 'X_HTTP_Method_Override: DELETE'], ''],
    ['X_HTTP_METHOD header, underscores', ['-H', 'X_HTTP_METHOD: DELETE'], ''],
    ['X-Method_Override header, one underscore', ['-H', 'X-Method_Override: DELETE'], ''],
    ['_method query parameter', [], '?_method=DELETE'],
    ['_METHOD query parameter', [], '?a=1&_METHOD=delete'],
    ['%5Fmethod query parameter', [], '?%5Fmethod=DELETE'],
    ['urlencoded form field', ['--data', 'a=1&_method=DELETE'], ''],
    ['form field, percent-encoded name', ['--data', 'a=1&%5F%6Dethod=DELETE'], ''],
    ['form field without Content-Type (Rack reads it)', ['--data', '_method=DELETE', '-H', 'Content-Type:'], ''],
    // `Content-Type;` makes curl send the header with an empty value, which Rack reads as none.
    ['form field with an empty Content-Type (Rack reads it)', ['--data', '_method=DELETE', '-H', 'Content-Type;'], ''],
    ['form field after 200 KB', ['--data', `@${bigForm}`], ''],
    ['multipart field', ['-F', 'a=1', '-F', '_method=DELETE'], ''],
    ['JSON field', ['--json', '{"_method":"DELETE"}'], ''],
    ['JSON field with an escaped name', ['--json', '{"\\u005fmethod":"DELETE"}'], ''],
    // Found by a red-team run against PHP 8.2 and Rack 2.2 (the stand-in reads them as they do).
    ['_method%00 query parameter (PHP cuts names at a NUL)', [], '?_method%00x=DELETE'],
    ['form field _method%00 (PHP)', ['--data', 'a=1&_method%00=DELETE'], ''],
    ['multipart field named by its Content-ID (Rack)', multipart('Content-ID: _method'), ''],
    ['multipart field, Content-Disposition folded onto a next line', multipart('Content-Disposition: form-data\r\n ; name="_method"'), ''],
    ['multipart field, Content-Disposition over 1 KB', multipart(`Content-Disposition: form-data${' '.repeat(1100)}; name="_method"`), ''],
    // Found by a later red-team run, against PHP 8.2 and from ASP.NET's source.
    ["multipart field named in single quotes (PHP)", multipart("Content-Disposition: form-data; name='_method'"), ''],
    ['X-HTTP-Method-Override query parameter (ASP.NET)', [], '?X-HTTP-Method-Override=DELETE'],
    ['X-HTTP-Method-Override form field (ASP.NET)', ['--data', 'a=1&X-HTTP-Method-Override=DELETE'], ''],
    ['X-HTTP-Method-Override multipart field (ASP.NET)', multipart('Content-Disposition: form-data; name="X-HTTP-Method-Override"'), ''],
  ]

  t.test('directly, the upstream runs a DELETE for every form', async (t) => {
    for (const [name, args, query] of forms) {
      const r = await curl(['-X', 'POST', ...args, `http://127.0.0.1:${port}/v1/items/7${query}`])
      t.match(r.body, /"ran": "DELETE"/, name)
    }
    upstream.lines.length = 0
  })

  t.test('through sidekey, none of them runs a DELETE', async (t) => {
    for (const [name, args, query] of forms) {
      const r = await curl(['-x', proxy, '-X', 'POST', ...args, `${api}/v1/items/7${query}`])
      const body = name.includes('field') ? 'SIDEKEY_ERR_METHOD_OVERRIDE' : 'SIDEKEY_ERR_ROUTE_DENIED'
      t.equal(r.status, body === 'SIDEKEY_ERR_ROUTE_DENIED' ? 403 : 400, `${name}: status`)
      t.match(r.headers, new RegExp(`x-sidekey-error: ${body}`, 'i'), `${name}: ${body}`)
    }
    // A refused body may have been partly sent; the upstream then saw no whole request to run.
    t.same(upstream.lines.filter((m) => m !== 'POST'), [], 'the upstream ran no DELETE')
  })

  t.test('a Connection header naming Content-Type is refused: sidekey and the upstream would read the body differently', async (t) => {
    // Found by a red-team run: Content-Type named in Connection was dropped before forwarding, so
    // sidekey read a JSON body (no form `_method`) and Rack, given none, read a form and ran DELETE.
    for (const connection of ['content-type', 'keep-alive, Content-Type', 'content_type', 'content-length']) {
      const r = await curl(['-x', proxy, '-X', 'POST', '--data', 'x=1&_method=DELETE', '-H', 'Content-Type: application/json', '-H', `Connection: ${connection}`, `${api}/v1/items/7`])
      t.equal(r.status, 400, connection)
      t.match(r.headers, /x-sidekey-error: SIDEKEY_ERR_BAD_REQUEST/i, connection)
      t.match(r.body, /Connection header names/, connection)
    }
    t.same(upstream.lines.filter((m) => m !== 'POST'), [], 'the upstream ran no DELETE')
  })

  t.test('an override of a method the route allows is refused unless the route accepts overrides', async (t) => {
    const r = await curl(['-x', proxy, '-X', 'POST', '-H', 'X-HTTP-Method-Override: PUT', `${api}/v1/items/7`])
    t.equal(r.status, 400)
    const error = JSON.parse(r.body) as { code: string; message: string }
    t.equal(error.code, 'SIDEKEY_ERR_METHOD_OVERRIDE')
    t.match(error.message, /route "api" does not accept method overrides, and header X-HTTP-Method-Override names PUT: send PUT as the request method/)
    const denied = JSON.parse((await curl(['-x', proxy, '-X', 'POST', '-H', 'X-HTTP-Method-Override: DELETE', `${api}/v1/items/7`])).body) as { message: string }
    t.match(denied.message, /route "no-deletes" denies api\.test:\d+ \(the method override in header X-HTTP-Method-Override names DELETE; a request is decided on its own method and on the overridden one\)/)
    const conflicting = await curl(['-x', proxy, '-X', 'POST', '-H', 'X-HTTP-Method-Override: PUT', `${api}/v1/items/7?_method=GET`])
    t.match(conflicting.headers, /x-sidekey-error: SIDEKEY_ERR_METHOD_OVERRIDE/i, 'two overrides naming different methods')
    const line = await sk.sink.waitForAudit((a) => a.method_override === 'DELETE' && a.reason === 'route-denies')
    t.match(line, { method: 'POST', decision: 'deny', route: 'no-deletes', status: 403 })
  })

  t.test('a route with method_override: true decides on the overridden method', async (t) => {
    const lenient = `http://lenient.test:${port}`
    upstream.lines.length = 0
    const put = await curl(['-x', proxy, '-X', 'POST', '-H', 'X-HTTP-Method-Override: PUT', `${lenient}/v1/items/7`])
    t.equal(put.status, 200)
    t.match(put.body, /"ran": "PUT"/)
    const patch = await curl(['-x', proxy, '-X', 'POST', `${lenient}/v1/items/7?_method=patch`])
    t.match(patch.body, /"ran": "PATCH"/)
    const del = await curl(['-x', proxy, '-X', 'POST', '-H', 'X-HTTP-Method: DELETE', `${lenient}/v1/items/7`])
    t.equal(del.status, 403, 'the deny on DELETE applies to the overridden method')
    const body = await curl(['-x', proxy, '-X', 'POST', '--data', '_method=PUT', `${lenient}/v1/items/7`])
    t.match(body.headers, /x-sidekey-error: SIDEKEY_ERR_METHOD_OVERRIDE/i, 'a body field is refused even here: bodies are not read before the decision')
    t.same(await pollFor(() => upstream.lines, (l) => l.length >= 2), ['PUT', 'PATCH'])
  })

  t.test('requests without an override are untouched', async (t) => {
    upstream.lines.length = 0
    const form = await curl(['-x', proxy, '-X', 'POST', '--data', `a=1&method=x&note=${encodeURIComponent('the _method field')}`, `${api}/v1/items`])
    t.equal(form.status, 200)
    t.match(form.body, /"ran": "POST"/)
    const json = await curl(['-x', proxy, '--json', `@${bigJson}`, `${api}/v1/items`])
    t.equal(json.status, 200)
    t.match(json.body, new RegExp(`"ran": "POST", "bytes": ${(await stat(bigJson)).size}\\b`), 'the whole body went up')
    const get = await curl(['-x', proxy, `${api}/v1/items?method=DELETE`])
    t.match(get.body, /"ran": "GET"/)
  })

  t.test('undici through a CONNECT tunnel: the same refusals', async (t) => {
    const dispatcher = new ProxyAgent(proxy)
    t.teardown(() => dispatcher.close())
    const send = async (init: { headers?: Record<string, string>; body?: string; query?: string }): Promise<[number, string | undefined]> => {
      const res = await request(`${api}/v1/items/7${init.query ?? ''}`, { dispatcher, method: 'POST', headers: init.headers, body: init.body })
      await res.body.dump()
      return [res.statusCode, res.headers['x-sidekey-error'] as string | undefined]
    }
    t.same(await send({ headers: { 'x-http-method-override': 'DELETE' } }), [403, 'SIDEKEY_ERR_ROUTE_DENIED'])
    t.same(await send({ query: '?_method=DELETE' }), [403, 'SIDEKEY_ERR_ROUTE_DENIED'])
    t.same(await send({ headers: { 'content-type': 'application/json' }, body: '{"_method":"DELETE"}' }), [400, 'SIDEKEY_ERR_METHOD_OVERRIDE'])
    t.same(await send({ headers: { 'content-type': 'application/json' }, body: '{"ok":true}' }), [200, undefined])
  })

  t.test('explain decides on the overridden method too', async (t) => {
    const answer = explain(sk.policy.current, new URLSearchParams({ method: 'POST', url: `${api}/v1/items/7?_method=DELETE`, workload: 'agent' }))
    t.match(answer, { request: { method_override: 'DELETE' }, decision: { action: 'deny', route: 'no-deletes', code: 'SIDEKEY_ERR_ROUTE_DENIED' } })
  })

  noSecretsLogged(t, sk)
})
