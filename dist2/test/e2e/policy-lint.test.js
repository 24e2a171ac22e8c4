import t from 'tap';
import { compilePolicy } from '../../src/policy/load.js';
import { shadowedRoutes } from '../../src/policy/lint.js';
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
    ]);
    const found = shadowedRoutes(policy).map(({ route, by }) => [route.name, by.name]);
    t.same(found, [
        ['no-delete', 'all-github'],
        ['deeper-wild', 'wild'],
        ['narrower', 'wild'],
    ]);
});
//# sourceMappingURL=policy-lint.test.js.map