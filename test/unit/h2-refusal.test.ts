import t from 'tap'
import { GRPC_STATUS, grpcMessage, grpcStatusOf, isGrpc } from '../../src/accept/refuse-h2.js'
import { ERROR_CODES, SidekeyError, type ErrorCode } from '../../src/errors.js'
import { h2RequestHead } from '../../src/http/h2-request.js'

// How an HTTP/2 request is read, and how a refusal reaches a gRPC client (docs/http2.md).

t.test('which requests are gRPC calls', async (t) => {
  const cases: [string | undefined, boolean][] = [
    ['application/grpc', true],
    ['application/grpc+proto', true],
    ['application/grpc+json', true],
    ['application/grpc; charset=utf-8', true],
    ['Application/GRPC', true],
    ['application/grpc-web', false],
    ['application/grpcx', false],
    ['application/json', false],
    [undefined, false],
  ]
  for (const [type, grpc] of cases) t.equal(isGrpc(type), grpc, String(type))
})

t.test('every refusal code has a gRPC status; auth refusals are UNAUTHENTICATED, policy ones PERMISSION_DENIED', async (t) => {
  // The table in docs/http2.md, by the HTTP status of the code; any other status is PERMISSION_DENIED.
  const table: Record<number, number> = { 401: 16, 407: 16, 429: 8, 500: 13, 502: 14, 503: 14, 504: 4 }
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const err = new SidekeyError(code, 'refused')
    t.equal(grpcStatusOf(err), table[err.status] ?? GRPC_STATUS.PERMISSION_DENIED, `${code} (${err.status})`)
  }
  t.equal(grpcStatusOf(new SidekeyError('SIDEKEY_ERR_NO_ROUTE', 'x')), 7)
  t.equal(grpcStatusOf(new SidekeyError('SIDEKEY_ERR_PROXY_AUTH_REQUIRED', 'x')), 16)
})

t.test('grpc-message is percent-encoded UTF-8', async (t) => {
  // Text as sent, and as it goes on the wire.
  const encodings = { 'sidekey: no route (SIDEKEY_ERR_NO_ROUTE)': 'sidekey: no route (SIDEKEY_ERR_NO_ROUTE)', '100% sure': '100%25 sure', bücher: 'b%C3%BCcher', 'line\r\nbreak': 'line%0D%0Abreak' }
  for (const [text, encoded] of Object.entries(encodings)) {
    t.equal(grpcMessage(text), encoded, JSON.stringify(text))
    t.equal(decodeURIComponent(grpcMessage(text)), text, 'decodes back')
  }
})

t.test('an HTTP/2 head read as HTTP/1.1 reads it', async (t) => {
  const req = (rawHeaders: string[], endAfterHeaders: boolean): [string[], boolean] => [rawHeaders, endAfterHeaders]
  const pseudo = [':method', 'POST', ':scheme', 'https', ':path', '/v1/x']

  const body = h2RequestHead(...req([...pseudo, ':authority', 'api.test', 'cookie', 'a=1', 'x-y', '1', 'cookie', 'b=2', 'x-y', '2'], false))
  t.same(body.rawHeaders, ['cookie', 'a=1; b=2', 'x-y', '1', 'x-y', '2', 'host', 'api.test'], 'no pseudo-headers; :authority is the host; cookie fields joined into one (RFC 9113 section 8.2.3)')
  t.match(body.headers, { host: 'api.test', cookie: 'a=1; b=2', 'x-y': '1, 2', 'transfer-encoding': 'chunked' }, 'a body of unannounced length reads as chunked')
  t.notOk(body.rawHeaders.includes('transfer-encoding'), 'which is never forwarded')
  t.equal(body.authorityConflict, false)

  const sized = h2RequestHead(...req([...pseudo, ':authority', 'api.test', 'content-length', '3'], false))
  t.equal(sized.headers['transfer-encoding'], undefined, 'a sized body keeps its content-length')
  const none = h2RequestHead(...req([...pseudo, ':authority', 'api.test'], true))
  t.equal(none.headers['transfer-encoding'], undefined, 'END_STREAM on HEADERS: no body')

  t.equal(h2RequestHead(...req([...pseudo, 'host', 'api.test'], true)).headers.host, 'api.test', 'host alone names the destination')
  t.equal(h2RequestHead(...req([...pseudo, ':authority', 'api.test', 'host', 'api.test'], true)).authorityConflict, false)
  t.equal(h2RequestHead(...req([...pseudo, ':authority', 'api.test', 'host', 'evil.test'], true)).authorityConflict, true, 'two destinations named')

  // `:method`: what HTTP/1.1's parser accepts (upper case, a known method), CONNECT aside.
  for (const [method, refused] of [['POST', false], ['DELETE', false], ['PROPFIND', false], ['delete', true], ['Get', true], ['FOO', true], ['CONNECT', true]] as const) {
    t.equal(h2RequestHead(...req([':method', method, ':scheme', 'https', ':path', '/v1/x', ':authority', 'api.test'], true)).methodRefused, refused, `:method ${method}`)
  }

  // `:path` as Node hands it on (latin1: one character per byte): what HTTP/1.1's parser takes raw in a target.
  const utf8 = (text: string): string => Buffer.from(text, 'utf8').toString('latin1')
  for (const [path, refused] of [['/v1/caf%C3%A9', false], ["/v1/!$&'()*+,;=:@~?q=[]{}|^`\\\"<>", false], [utf8('/v1/café'), true], [utf8('/v1/x?q=é'), true], ['/v1/\x80', true], ['/v1/\x7f', true]] as const) {
    t.equal(h2RequestHead(...req([':method', 'GET', ':scheme', 'https', ':path', path, ':authority', 'api.test'], true)).pathRefused, refused, `:path ${JSON.stringify(path)}`)
  }
})
