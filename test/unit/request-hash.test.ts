import t from 'tap'
import { requestHash } from '../../src/approvals/request-hash.js'
import type { Route } from '../../src/policy/types.js'

// What an asynchronous approval is bound to (approvals/request-hash.ts).

const route = { name: 'deploys' } as Route
const base = { workload: 'agent', route, method: 'PUT', host: 'ci.test', port: 443, path: '/deploy', query: '', rawHeaders: ['content-type', 'application/json'], body: Buffer.from('{"env":"prod"}') }

t.test('the same request, the same approval; what is sent changes it', async (t) => {
  t.equal(requestHash(base), requestHash({ ...base, rawHeaders: ['content-type', 'application/json', 'x-request-id', '42'] }), 'headers other than Content-Type are left out')
  for (const [what, changed] of [
    ['the method', { method: 'POST' }],
    ['the path', { path: '/deploy2' }],
    ['the query', { query: 'force=1' }],
    ['the body', { body: Buffer.from('{"env":"dev"}') }],
    ['the content type', { rawHeaders: ['content-type', 'text/plain'] }],
    ['the workload', { workload: 'other' }],
  ] as const) {
    t.not(requestHash({ ...base, ...changed }), requestHash(base), what)
  }
})

t.test('an approved PUT is not a POST whose override says PUT', async (t) => {
  // Found by a red-team run: the hash took only the method an override names, so on a
  // method_override route an approved PUT let a POST carrying X-HTTP-Method-Override: PUT through,
  // which an upstream that ignores overrides runs as a POST.
  const overridden = { ...base, sentMethod: 'POST', rawHeaders: [...base.rawHeaders, 'x-http-method-override', 'PUT'] }
  t.not(requestHash(overridden), requestHash(base))
  t.not(requestHash(overridden), requestHash({ ...overridden, sentMethod: 'PATCH' }), 'nor a PATCH whose override says PUT')
  t.equal(requestHash({ ...base, sentMethod: 'PUT' }), requestHash(base), 'an override naming the method sent changes nothing')
})
