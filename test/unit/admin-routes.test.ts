import t from 'tap'
import { SidekeyError } from '../../src/errors.js'
import { ADMIN_ROUTES } from '../../src/admin/server.js'
import type { AdminRoute } from '../../src/admin/route-table.js'

// The admin API is one table; whether a route needs the admin token is read from it alone. This
// walks the table: the public routes are exactly the ones listed here (a new route is public only
// if this list says so too), and every other route refuses a call without the token with 401.

/** Every route anyone who passes the Host check may call. */
const EXPECTED_PUBLIC = [
  'GET /healthz',
  'GET /readyz',
  'GET /v1/routes',
  'GET /v1/explain',
  'GET /.well-known/jwks.json',
  'GET /.well-known/openid-configuration',
  'GET /metrics',
  'GET /v1/ca.pem',
  // Answers 404 unless --shutdown-endpoint; stopping sidekey fails closed.
  'POST /v1/shutdown',
  'GET /console',
  'GET /console/',
  // A person's browser on its way to and back from an OAuth provider: a one-time key and a single-use
  // state bound to that browser by a cookie stand in for the token (docs/delegated-oauth.md).
  'GET /oauth/begin',
  'GET /oauth/callback',
]

/** A value for each path parameter the table uses, valid for every route that names it. */
const SAMPLES: Record<string, string> = {
  id: '0123abcd-0000-4000-8000-0123456789ab',
  workload: 'billing-agent',
  verdict: 'approve',
  name: 'gitlab-user',
  flow: '0123abcd-0000-4000-8000-0123456789ab',
}

const TOKEN = 'the-admin-token'
const routes = ADMIN_ROUTES.routes
/** What the walk reads of a route. */
type Row = Pick<AdminRoute<unknown>, 'method' | 'path'>

const name = (r: Row): string => `${r.method} ${r.path}`

/** A path the route serves: its template with a sample in each `:name` (and its pattern dropped). */
function samplePath(route: Row): string {
  return route.path.replace(/:(\w+)(\([^/]*\))?/g, (_, param: string) => {
    const sample = SAMPLES[param]
    if (sample === undefined) throw new Error(`${name(route)}: add a sample for :${param} to SAMPLES`)
    return sample
  })
}

/** The refusal `admit` throws, or null when it admits. */
function refusal(method: string, path: string, authorization: string | undefined): SidekeyError | null {
  try {
    ADMIN_ROUTES.admit(method, path, authorization, TOKEN)
    return null
  } catch (err) {
    if (err instanceof SidekeyError) return err
    throw err
  }
}

t.test('the public routes are exactly the expected ones', async (t) => {
  t.same(routes.filter((r) => r.access === 'public').map(name).sort(), [...EXPECTED_PUBLIC].sort())
})

t.test('no two routes share a method and a path', async (t) => {
  const names = routes.map(name)
  t.same(names.filter((n, i) => names.indexOf(n) !== i), [])
})

t.test('each route is found by its own method and path', async (t) => {
  for (const route of routes) {
    const path = samplePath(route)
    t.equal(ADMIN_ROUTES.admit(route.method, path, `Bearer ${TOKEN}`, TOKEN).route, route, `${route.method} ${path}`)
  }
})

t.test('a public route answers without the token', async (t) => {
  for (const route of routes.filter((r) => r.access === 'public')) {
    const path = samplePath(route)
    t.equal(ADMIN_ROUTES.admit(route.method, path, undefined, TOKEN).route, route, `${route.method} ${path}`)
  }
})

t.test('every other route answers 401 without the token or with a wrong one', async (t) => {
  const admin = routes.filter((r) => r.access === 'admin')
  t.ok(admin.length >= 10, `${admin.length} admin routes`)
  for (const route of admin) {
    const path = samplePath(route)
    for (const authorization of [undefined, 'Bearer not-the-token', TOKEN, `Basic ${TOKEN}`]) {
      const e = refusal(route.method, path, authorization)
      t.equal(e?.code, 'SIDEKEY_ERR_ADMIN_UNAUTHORIZED', `${route.method} ${path} with ${authorization ?? 'no Authorization'}`)
      t.equal(e?.status, 401)
    }
  }
})

t.test("an admin route's path needs the token for any method; a method it lacks is then 404", async (t) => {
  for (const route of routes.filter((r) => r.access === 'admin')) {
    const path = samplePath(route)
    t.equal(refusal('PUT', path, undefined)?.status, 401, `PUT ${path} without the token`)
    t.equal(refusal('PUT', path, `Bearer ${TOKEN}`)?.code, 'SIDEKEY_ERR_NOT_FOUND', `PUT ${path} with the token`)
  }
  // Any segment after /v1/run-tokens/ or /v1/workloads/ is an admin path; only its handler looks closer.
  t.equal(refusal('DELETE', '/v1/run-tokens/not-a-token-id', undefined)?.status, 401)
  t.equal(refusal('POST', '/v1/workloads/.hidden/release', undefined)?.status, 401)
})

t.test('a path no route serves is 404, with the token or without', async (t) => {
  const unserved: [string, string][] = [
    ['GET', '/v1/nothing-here'],
    ['POST', '/healthz'],
    ['HEAD', '/healthz'],
    ['GET', '/v1/approvals/not-an-approval-id'],
    ['POST', `/v1/approvals/${SAMPLES.id}/maybe`],
    ['GET', '/v1/run-tokens/a/b'],
    ['GET', '/console/x'],
  ]
  for (const [method, path] of unserved) {
    for (const authorization of [undefined, `Bearer ${TOKEN}`]) {
      const e = refusal(method, path, authorization)
      t.equal(e?.code, 'SIDEKEY_ERR_NOT_FOUND', `${method} ${path} ${authorization === undefined ? 'without' : 'with'} the token`)
      t.equal(e?.status, 404)
    }
  }
})
