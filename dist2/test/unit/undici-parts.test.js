import t from 'tap';
import * as undici from 'undici';
import { Agent, Pool, request, undiciErrors } from '../../src/http/undici.js';
// src/http/undici.ts loads undici's parts from its own files so that `sidekey start` never loads
// undici's index. Those files must be the very ones the index exports: the same classes (so
// `instanceof` holds between a pool made here and undici's own errors) in the version installed.
t.test('the parts loaded from undici\'s files are the objects undici\'s index exports', async (t) => {
    t.equal(Pool, undici.Pool, 'Pool');
    t.equal(Agent, undici.Agent, 'Agent');
    t.equal(undiciErrors, undici.errors, 'errors');
    t.ok(new undiciErrors.ConnectTimeoutError() instanceof undici.errors.UndiciError, 'an error made here is an undici error');
});
t.test('request loads the whole package on first use and is undici\'s request', async (t) => {
    const pool = new Pool('http://127.0.0.1:9');
    t.teardown(() => pool.close());
    await t.rejects(request('http://127.0.0.1:9/', { dispatcher: pool }), { code: 'ECONNREFUSED' }, 'a refused connection is reported as undici reports it');
});
//# sourceMappingURL=undici-parts.test.js.map