import { X509Certificate, createPublicKey } from 'node:crypto'
import { chmod, mkdtemp, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createCA, loadCA } from '../src/ca/authority.js'
import { LeafCache } from '../src/ca/cache.js'
import { createLeafKey, mintLeaf } from '../src/ca/leaf.js'

t.test('CA files: key 0600, a constrained CA certificate, no overwrite, no loose key', async (t) => {
  const dir = join(await mkdtemp(join(tmpdir(), 'sidekey-ca-')), 'certs')
  const ca = await createCA(dir)
  t.equal((await stat(join(dir, 'ca-key.pem'))).mode & 0o777, 0o600)
  const cert = new X509Certificate(ca.certPem)
  t.ok(cert.ca, 'basicConstraints CA')
  t.match(cert.subject, /sidekey/)
  await t.rejects(createCA(dir), { code: 'SIDEKEY_ERR_CA' }, 'an existing CA is not overwritten')
  await chmod(join(dir, 'ca-key.pem'), 0o644)
  await t.rejects(loadCA(dir), { code: 'SIDEKEY_ERR_CA', message: /readable by group or others/ })
  await chmod(join(dir, 'ca-key.pem'), 0o600)
  t.ok(await loadCA(dir))
  await t.rejects(loadCA(join(dir, 'missing')), { code: 'SIDEKEY_ERR_CA', message: /sidekey ca init/ })
})

t.test('leaves verify against the CA for DNS names and IP addresses', async (t) => {
  const ca = await createCA(join(await mkdtemp(join(tmpdir(), 'sidekey-ca-')), 'certs'))
  const key = createLeafKey()
  const caPublic = createPublicKey(new X509Certificate(ca.certPem).publicKey.export({ type: 'spki', format: 'pem' }))
  for (const host of ['api.openai.com', '127.0.0.1', '::1']) {
    const leaf = new X509Certificate(await mintLeaf(ca, key, host))
    t.ok(leaf.verify(caPublic), `${host}: signed by the CA`)
    t.notOk(leaf.ca, `${host}: not a CA`)
    if (host.includes('.') && !/^[0-9.]+$/.test(host)) t.equal(leaf.checkHost(host), host)
    else t.equal(leaf.checkIP(host), host)
    t.equal(leaf.checkHost('other.example'), undefined, `${host}: no other name`)
    t.ok(new Date(leaf.validTo).getTime() - Date.now() <= 8 * 24 * 3600 * 1000, 'short-lived')
  }
})

t.test('leaf cache: concurrent first handshakes share one mint; bounded', async (t) => {
  const ca = await createCA(join(await mkdtemp(join(tmpdir(), 'sidekey-ca-')), 'certs'))
  const cache = new LeafCache(ca, { max: 2 })
  const contexts = await Promise.all(Array.from({ length: 20 }, () => cache.get('a.test')))
  t.equal(cache.stats.mints, 1)
  t.equal(new Set(contexts).size, 1)
  await cache.get('b.test')
  await cache.get('c.test')
  t.equal(cache.size, 2, 'least recently used evicted')
  await cache.get('a.test')
  t.equal(cache.stats.mints, 4, 'the evicted host is minted again')
  t.comment(`leaf mint time: last ${cache.stats.lastMintMs.toFixed(2)} ms, max ${cache.stats.maxMintMs.toFixed(2)} ms`)
})
