import { X509Certificate, createPublicKey } from 'node:crypto';
import { chmod, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import t from 'tap';
import { createCA, loadCA } from '../../src/ca/authority.js';
import { LeafCache } from '../../src/ca/cache.js';
import { createLeafKey, mintLeaf } from '../../src/ca/leaf.js';
import { serialNumberHex } from '../../src/ca/serial.js';
t.test('CA files: key 0600, a constrained CA certificate, no overwrite, no loose key', async (t) => {
    const dir = join(await mkdtemp(join(tmpdir(), 'sidekey-ca-')), 'certs');
    const ca = await createCA(dir);
    t.equal((await stat(join(dir, 'ca-key.pem'))).mode & 0o777, 0o600);
    const cert = new X509Certificate(ca.certPem);
    t.ok(cert.ca, 'basicConstraints CA');
    t.match(cert.subject, /sidekey/);
    await t.rejects(createCA(dir), { code: 'SIDEKEY_ERR_CA' }, 'an existing CA is not overwritten');
    await chmod(join(dir, 'ca-key.pem'), 0o644);
    await t.rejects(loadCA(dir), { code: 'SIDEKEY_ERR_CA', message: /readable by group or others/ });
    await chmod(join(dir, 'ca-key.pem'), 0o600);
    t.ok(await loadCA(dir));
    await t.rejects(loadCA(join(dir, 'missing')), { code: 'SIDEKEY_ERR_CA', message: /sidekey ca init/ });
});
t.test('leaves verify against the CA for DNS names and IP addresses', async (t) => {
    const ca = await createCA(join(await mkdtemp(join(tmpdir(), 'sidekey-ca-')), 'certs'));
    const key = createLeafKey();
    const caPublic = createPublicKey(new X509Certificate(ca.certPem).publicKey.export({ type: 'spki', format: 'pem' }));
    for (const host of ['api.openai.com', '127.0.0.1', '::1']) {
        const leaf = new X509Certificate(await mintLeaf(ca, key, host));
        t.ok(leaf.verify(caPublic), `${host}: signed by the CA`);
        t.equal(leaf.publicKey.asymmetricKeyType, 'ec', `${host}: an EC key (a P-256 handshake signature costs a tenth of RSA-2048's)`);
        t.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
        t.notOk(leaf.ca, `${host}: not a CA`);
        if (host.includes('.') && !/^[0-9.]+$/.test(host))
            t.equal(leaf.checkHost(host), host);
        else
            t.equal(leaf.checkIP(host), host);
        t.equal(leaf.checkHost('other.example'), undefined, `${host}: no other name`);
        t.ok(new Date(leaf.validTo).getTime() - Date.now() <= 8 * 24 * 3600 * 1000, 'short-lived');
    }
});
t.test('leaf cache: concurrent first handshakes share one mint; bounded', async (t) => {
    const ca = await createCA(join(await mkdtemp(join(tmpdir(), 'sidekey-ca-')), 'certs'));
    const cache = new LeafCache(ca, { max: 2 });
    const contexts = await Promise.all(Array.from({ length: 20 }, () => cache.get('a.test')));
    t.equal(cache.stats.mints, 1);
    t.equal(new Set(contexts).size, 1);
    await cache.get('b.test');
    await cache.get('c.test');
    t.equal(cache.size, 2, 'least recently used evicted');
    await cache.get('a.test');
    t.equal(cache.stats.mints, 4, 'the evicted host is minted again');
    t.comment(`leaf mint time: last ${cache.stats.lastMintMs.toFixed(2)} ms, max ${cache.stats.maxMintMs.toFixed(2)} ms`);
});
t.test('serial numbers are positive and minimally encoded, whatever the random bytes (OpenSSL refuses padding)', async (t) => {
    // The random bytes that once produced leaves OpenSSL refused ("illegal padding"): a leading zero
    // byte before one with its high bit clear. Each edge is minted and loaded as a TLS context.
    const ca = await createCA(join(await mkdtemp(join(tmpdir(), 'sidekey-ca-')), 'certs'));
    const key = createLeafKey();
    for (const first of [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xff]) {
        for (const second of [0x00, 0x46, 0x80, 0xff]) {
            const random = Buffer.alloc(16, 0xab);
            random[0] = first;
            random[1] = second;
            const hex = serialNumberHex(random);
            t.match(hex, /^[4-7][0-9a-f]{31}$/, `bytes ${first.toString(16)} ${second.toString(16)}: first byte 0x40-0x7f`);
        }
    }
    t.throws(() => serialNumberHex(Buffer.alloc(4)), TypeError);
    // And for real: many leaves, every one accepted by OpenSSL (about 1 in 500 failed before).
    let refused = 0;
    const serials = new Set();
    for (let i = 0; i < 600; i++) {
        const pem = await mintLeaf(ca, key, `h${i}.example`);
        serials.add(new X509Certificate(pem).serialNumber);
        try {
            createSecureContext({ key: key.privateKeyPem, cert: pem });
        }
        catch {
            refused++;
        }
    }
    t.equal(refused, 0, 'OpenSSL accepts every minted leaf');
    t.equal(serials.size, 600, 'serials do not repeat');
});
//# sourceMappingURL=ca-leaf.test.js.map