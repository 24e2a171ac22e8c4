import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { SigningKeys } from '../../src/credentials/signing-keys.js';
import { pollFor } from '../helpers/poll.js';
t.test('minting keys: created 0600, persisted, rotated with overlap', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-keys-'));
    const keys = new SigningKeys(dir, 1000, 1000);
    const first = await keys.current();
    t.equal((await stat(join(dir, 'jwt-keys.json'))).mode & 0o777, 0o600);
    t.equal((await new SigningKeys(dir, 1000, 1000).current()).kid, first.kid, 'a restart keeps the key');
    const jwks = await keys.jwks();
    t.equal(jwks.keys.length, 1);
    t.notOk('d' in jwks.keys[0], 'the JWKS holds no private part');
    const oldToken = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: first.kid }).setExpirationTime('1m').sign(first.key);
    // Rotation is due after rotateAfterMs (1 s): polled for, since CI's loaded machine can be late.
    const second = await pollFor(() => keys.current(), (k) => k.kid !== first.kid, 8000, 100);
    t.not(second.kid, first.kid, 'rotated after rotateAfterMs');
    const both = await keys.jwks();
    t.same(both.keys.map((k) => k.kid).sort(), [first.kid, second.kid].sort(), 'the previous key stays published');
    t.ok(await jwtVerify(oldToken, createLocalJWKSet(both)), 'a token signed before the rotation still verifies');
    const { third, later } = await pollFor(async () => ({ third: await keys.current(), later: await keys.jwks() }), ({ later }) => !later.keys.some((k) => k.kid === first.kid), 8000, 100);
    t.notOk(later.keys.some((k) => k.kid === first.kid), 'a key past its overlap is retired');
    t.ok(later.keys.some((k) => k.kid === third.kid));
});
//# sourceMappingURL=signing-keys.test.js.map