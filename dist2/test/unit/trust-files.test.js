import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { createCA } from '../../src/ca/authority.js';
import { CA_FILES, TRUSTSTORE_PASSWORD } from '../../src/ca/files.js';
import { pemCertificates } from '../../src/ca/truststore.js';
import { agentEnv } from '../../src/kube/sidecar.js';
import { requireTools } from '../helpers/tools.js';
requireTools('openssl');
// The trust files sidekey writes beside bundle.pem for clients that cannot read it (issue #19):
// the Java trust store and the wgetrc. openssl reads the store with the documented password and
// finds the same certificates as the bundle; the wrong password fails the MAC.
const exec = promisify(execFile);
t.test('truststore.p12 holds the bundle\'s certificates, sidekey\'s CA first, under the documented password', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'sidekey-trust-files-'));
    const ca = await createCA(dir);
    const store = join(dir, CA_FILES.truststore);
    const { stdout } = await exec('openssl', ['pkcs12', '-in', store, '-nokeys', '-passin', `pass:${TRUSTSTORE_PASSWORD}`], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
    const inStore = pemCertificates(stdout);
    const inBundle = pemCertificates(await readFile(ca.bundlePath, 'utf8'));
    t.ok(inBundle.length > 1, 'the bundle has system roots and the CA');
    t.equal(inStore.length, inBundle.length, 'one entry per certificate of the bundle');
    t.ok(inStore[0].equals(pemCertificates(ca.certPem)[0]), "the first entry is sidekey's CA");
    t.match(stdout, /friendlyName: sidekey-ca/);
    // Java's trusted-certificate attribute (what keytool writes), without which Java trusts none of
    // them, on every entry (OpenSSL 3.0 prints its OID value as "Unsupported tag 6"; keytool reads it
    // in test/e2e/run-clients.test.ts).
    t.equal(stdout.split('2.16.840.1.113894.746875.1.1: ').length - 1, inBundle.length);
    await t.rejects(exec('openssl', ['pkcs12', '-in', store, '-nokeys', '-passin', 'pass:wrong']), 'a wrong password fails the MAC');
    t.equal(await readFile(join(dir, CA_FILES.wgetrc), 'utf8'), `# Written by sidekey: wget trusts system roots plus sidekey's CA.\nca_certificate = ${ca.bundlePath}\n`);
});
t.test('the sidecar gives agents the same trust variables `sidekey run` sets, at the published paths', async (t) => {
    const env = Object.fromEntries(agentEnv('transparent', '').map((e) => [e.name, e.value]));
    t.match(env, {
        NODE_EXTRA_CA_CERTS: '/etc/sidekey/ca/ca.pem',
        SSL_CERT_FILE: '/etc/sidekey/ca/bundle.pem',
        PIP_CERT: '/etc/sidekey/ca/bundle.pem',
        npm_config_cafile: '/etc/sidekey/ca/bundle.pem',
        WGETRC: '/etc/sidekey/ca/wgetrc',
        JAVA_TOOL_OPTIONS: '-Djavax.net.ssl.trustStore=/etc/sidekey/ca/truststore.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit',
    });
});
//# sourceMappingURL=trust-files.test.js.map