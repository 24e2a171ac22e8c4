import t from 'tap';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sourceProblem, unavailableSources } from '../../src/credentials/availability.js';
import { compilePolicy } from '../../src/policy/load.js';
import { orderDecidedRoutes } from '../../src/policy/lint.js';
// What `sidekey start` warns about: routes of different files where only the files' name order
// decides, and credential sources that cannot be read now. Table-driven over small policies.
const file = (name, routes, credentials = '') => ({ file: name, text: `version: v1\n${credentials}routes:\n${routes}` });
t.test('orderDecidedRoutes: overlapping routes of different files that decide differently', async (t) => {
    const table = [
        { rule: 'the same host, allow in one file and deny in the next', files: [file('/p/a.yaml', '  - { name: a, host: api.test }\n'), file('/p/b.yaml', '  - { name: b, host: api.test, action: deny }\n')], pairs: [['a', 'b']] },
        { rule: 'a wildcard covering a name in another file', files: [file('/p/a.yaml', '  - { name: any, host: "*.example.com", action: deny }\n'), file('/p/b.yaml', '  - { name: api, host: api.example.com }\n')], pairs: [['any', 'api']] },
        { rule: 'a narrower later route (paths) still overlaps', files: [file('/p/a.yaml', '  - { name: all, host: api.test }\n'), file('/p/b.yaml', '  - { name: no-del, host: api.test, methods: [DELETE], paths: ["/repos/*"], action: deny }\n')], pairs: [['all', 'no-del']] },
        { rule: 'in one file the order is visible: no warning', files: [file('/p/a.yaml', '  - { name: a, host: api.test }\n  - { name: b, host: api.test, action: deny }\n')], pairs: [] },
        { rule: 'the same outcome: order does not matter', files: [file('/p/a.yaml', '  - { name: a, host: api.test }\n'), file('/p/b.yaml', '  - { name: b, host: api.test, methods: [GET] }\n')], pairs: [] },
        { rule: 'different hosts', files: [file('/p/a.yaml', '  - { name: a, host: api.test }\n'), file('/p/b.yaml', '  - { name: b, host: other.test, action: deny }\n')], pairs: [] },
        { rule: 'disjoint methods', files: [file('/p/a.yaml', '  - { name: a, host: api.test, methods: [GET] }\n'), file('/p/b.yaml', '  - { name: b, host: api.test, methods: [POST], action: deny }\n')], pairs: [] },
        { rule: 'disjoint workloads', files: [file('/p/a.yaml', '  - { name: a, host: api.test, workloads: [x] }\n'), file('/p/b.yaml', '  - { name: b, host: api.test, workloads: [y], action: deny }\n')], pairs: [] },
    ];
    for (const { rule, files, pairs } of table) {
        const found = orderDecidedRoutes(compilePolicy(files)).map((p) => [p.first.name, p.second.name]);
        t.same(found, pairs, rule);
    }
});
t.test('unavailableSources: per credential, a variable unset or blank, a file unreadable', async (t) => {
    const policy = compilePolicy([
        file('/p/a.yaml', '  - { name: a, host: api.test, credential: env-set }\n', 'credentials:\n  env-set: { type: static, env: SET_VAR }\n  env-unset: { type: static, env: UNSET_VAR }\n  env-blank: { type: static, env: BLANK_VAR }\n  file-missing: { type: static, file: /nonexistent/secret }\n'),
    ]);
    t.same([...policy.credentialSources.keys()].sort(), ['env-blank', 'env-set', 'env-unset', 'file-missing'], 'every credential\'s sources are known');
    const found = await unavailableSources(policy, { SET_VAR: 'x', BLANK_VAR: '  ' });
    t.same(found.map((u) => [u.credential, u.source.kind, u.problem]).sort(), [
        ['env-blank', 'env', "variable BLANK_VAR is not set in sidekey's environment"],
        ['env-unset', 'env', "variable UNSET_VAR is not set in sidekey's environment"],
        ['file-missing', 'file', 'file /nonexistent/secret cannot be read (ENOENT)'],
    ]);
});
t.test('sourceProblem reads a file as a request would: an empty file cannot be used either', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-sources-'));
    await writeFile(join(dir, 'empty'), '\n');
    await writeFile(join(dir, 'key'), 'sk-test\n');
    t.equal(await sourceProblem({ kind: 'file', name: join(dir, 'empty') }), `file ${join(dir, 'empty')} is empty`);
    t.equal(await sourceProblem({ kind: 'file', name: join(dir, 'key') }), null);
});
//# sourceMappingURL=route-order.test.js.map