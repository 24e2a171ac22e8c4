import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { writePrivate } from '../../src/credentials/private-file.js';
// The one writer of private files (the CA key, signing keys, sealed delegated grants).
t.test('a private file is 0600 whatever the umask, replaced whole, with no temporary file left', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-private-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'key.pem');
    const umask = process.umask(0);
    t.teardown(() => process.umask(umask));
    await writeFile(path, 'old', { mode: 0o644 });
    await writePrivate(path, 'new secret');
    t.equal((await stat(path)).mode & 0o777, 0o600, 'owner only, even over a 0644 file and with umask 0');
    t.equal(await readFile(path, 'utf8'), 'new secret');
    t.same(await readdir(dir), ['key.pem'], 'no temporary file left');
});
t.test('a symlink planted where the file goes is replaced, never written through', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-private-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const target = join(dir, 'attacker-readable.txt');
    await writeFile(target, 'untouched', { mode: 0o644 });
    const path = join(dir, 'grants.json');
    await symlink(target, path);
    await writePrivate(path, 'sealed grants');
    t.equal(await readFile(target, 'utf8'), 'untouched', 'the symlink\'s target was not written');
    t.equal(await readFile(path, 'utf8'), 'sealed grants');
    t.equal((await stat(path)).mode & 0o777, 0o600);
});
//# sourceMappingURL=private-file.test.js.map