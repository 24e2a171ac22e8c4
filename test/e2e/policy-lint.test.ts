import t from 'tap'
import { compilePolicy } from '../../src/policy/load.js'
import { exactPathComparisons, shadowedRoutes } from '../../src/policy/lint.js'

// Routes a broader earlier route makes unreachable are reported; routes that can still match are not.

t.test('shadowed routes', async (t) => {
  const policy = compilePolicy([
    {
      file: 'p.yaml',
      text: `version: v1
routes:
  - { name: all-github, host: api.github.com }
  - { name: no-delete, host: api.github.com, methods: [DELETE], action: deny }
  - { name: wild, host: "*.example.com", ports: [443], paths: ["/v1/**"] }
  - { name: deeper-wild, host: "*.a.example.com", ports: [443], paths: ["/v1/users/**"] }
  - { name: narrower, host: a.example.com, ports: [443], paths: ["/v1/users/*"], workloads: [w1] }
  - { name: other-port, host: a.example.com, ports: [8443], paths: ["/v1/x"] }
  - { name: other-path, host: a.example.com, ports: [443], paths: ["/v2/**"] }
  - { name: anonymous-too, host: a.example.com, ports: [443], paths: ["/v1/x"], workloads: [anonymous] }
  - { name: apex, host: example.com, ports: [443], paths: ["/v1/x"] }
`,
    },
  ])
  const found = shadowedRoutes(policy).map(({ route, by }) => [route.name, by.name])
  t.same(found, [
    ['no-delete', 'all-github'],
    ['deeper-wild', 'wild'],
    ['narrower', 'wild'],
  ])
})

t.test('a condition comparing request.path to one spelling, on a route whose paths admit others', async (t) => {
  // Found by a red-team run in the shipped payments example: `request.path == "/v1/refunds"` asked
  // nobody for `POST /v1/refunds/`, which `/v1/refunds/*` matches and Express takes for /v1/refunds.
  const policy = compilePolicy([
    {
      file: 'p.yaml',
      text: `version: v1
routes:
  - { name: glob, host: a.test, methods: [POST], paths: ["/v1/refunds", "/v1/refunds/*"], approval: { when: 'request.method == "POST" && request.path == "/v1/refunds"' } }
  - { name: any-path, host: b.test, conditions: { cel: ['"/admin" != request.path'] } }
  - { name: exact-paths, host: c.test, paths: ["/v1/refunds"], approval: { when: 'request.path == "/v1/refunds"' } }
  - { name: prefix, host: d.test, paths: ["/v1/**"], conditions: { cel: ['!request.path.startsWith("/v1/admin")'] } }
`,
    },
  ])
  t.same(
    exactPathComparisons(policy).map(({ route }) => route.name),
    ['glob', 'any-path'],
    'warned where the paths admit another spelling; not for exact paths or a prefix test',
  )
})
