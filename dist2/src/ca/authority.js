import { createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import forge from 'node-forge';
import { CA_FILES } from './files.js';
import { serialNumberHex } from './serial.js';
import { pemCertificates, pkcs12TrustStore, wgetrc } from './truststore.js';
import { SidekeyError } from '../errors.js';
import { writePrivate } from '../credentials/private-file.js';
/**
 * Create a new CA in `dir`: an RSA 2048 key (mode 0600, written before any other process can open
 * it) and a self-signed certificate valid for two years, constrained to signing leaves.
 * Refuses to overwrite an existing CA unless `force`.
 */
export async function createCA(dir, options = {}) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keyPath = join(dir, CA_FILES.key);
    const certPath = join(dir, CA_FILES.cert);
    if (!options.force && (await exists(keyPath) || await exists(certPath))) {
        throw new SidekeyError('SIDEKEY_ERR_CA', `a CA already exists in ${dir}; use --force to replace it`);
    }
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const forgeKey = forge.pki.privateKeyFromPem(keyPem);
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
    cert.serialNumber = serialNumberHex(randomBytes(16));
    const now = Date.now();
    cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
    cert.validity.notAfter = new Date(now + 2 * 365 * 24 * 60 * 60 * 1000);
    const attrs = [
        { name: 'commonName', value: `sidekey CA (${hostname()} ${new Date(now).toISOString().slice(0, 10)})` },
        { name: 'organizationName', value: 'sidekey' },
    ];
    cert.setSubject(attrs);
    cert.setIssuer(attrs);
    cert.setExtensions([
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
        { name: 'subjectKeyIdentifier' },
    ]);
    // The CA signs itself once with forge; leaves are signed with node:crypto (see leaf.ts).
    cert.sign(forgeKey, forge.md.sha256.create());
    const certPem = forge.pki.certificateToPem(cert);
    await writePrivate(keyPath, keyPem);
    await writeAtomically(certPath, certPem);
    return loadCA(dir);
}
/** Load the CA from `dir`. The key file must not be readable by group or others. */
export async function loadCA(dir) {
    const keyPath = join(dir, CA_FILES.key);
    const certPath = join(dir, CA_FILES.cert);
    let keyPem;
    let certPem;
    try {
        const info = await stat(keyPath);
        if ((info.mode & 0o077) !== 0) {
            throw new SidekeyError('SIDEKEY_ERR_CA', `${keyPath} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`);
        }
        keyPem = await readFile(keyPath, 'utf8');
        certPem = await readFile(certPath, 'utf8');
    }
    catch (cause) {
        if (cause instanceof SidekeyError)
            throw cause;
        throw new SidekeyError('SIDEKEY_ERR_CA', `cannot read the CA in ${dir} (${cause.code ?? cause}); run \`sidekey ca init\``, { cause });
    }
    try {
        const key = createPrivateKey(keyPem);
        const cert = forge.pki.certificateFromPem(certPem);
        const ski = cert.getExtension('subjectKeyIdentifier');
        const subjectKeyId = ski?.subjectKeyIdentifier
            ? forge.util.hexToBytes(ski.subjectKeyIdentifier)
            : cert.generateSubjectKeyIdentifier().getBytes();
        const bundlePath = join(dir, CA_FILES.bundle);
        await writeTrustFiles(dir, certPem);
        return Object.freeze({ certPem, certPath, bundlePath, cert, subjectKeyId, key });
    }
    catch (cause) {
        throw new SidekeyError('SIDEKEY_ERR_CA', `the CA in ${dir} is not a valid certificate and key pair`, { cause });
    }
}
/** Load the CA, creating one first if `dir` has none (what `sidekey start` does). */
export async function loadOrCreateCA(dir) {
    if (await exists(join(dir, CA_FILES.key)))
        return { ca: await loadCA(dir), created: false };
    return { ca: await createCA(dir), created: true };
}
/** Paths where Linux distributions keep the system trust store. */
export const SYSTEM_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];
/** The system's trusted roots as PEM, or Node's bundled Mozilla roots when none is found. */
export async function systemRootsPem() {
    for (const path of SYSTEM_BUNDLES) {
        try {
            return await readFile(path, 'utf8');
        }
        catch {
            // try the next location
        }
    }
    return rootCertificates.join('\n');
}
/**
 * The public files agents trust sidekey's CA by, written into `dir` (the certs directory, or
 * `--publish-ca`): the bundle (system roots plus the CA), the same certificates as a PKCS#12 trust
 * store for Java, and a wgetrc naming the bundle by its path in `dir`.
 */
export async function writeTrustFiles(dir, caPem) {
    const roots = await systemRootsPem();
    const bundlePath = join(dir, CA_FILES.bundle);
    await writeAtomically(bundlePath, `${roots.trimEnd()}\n# sidekey CA\n${caPem}`);
    await writeAtomically(join(dir, CA_FILES.truststore), pkcs12TrustStore([...pemCertificates(caPem), ...pemCertificates(roots)]));
    await writeAtomically(join(dir, CA_FILES.wgetrc), wgetrc(bundlePath));
}
/**
 * Write a public file so that a reader (an agent starting up, another sidekey) sees the old
 * content or the new, never a half-written file: a temporary name, then a rename.
 */
export async function writeAtomically(path, text) {
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, path);
}
async function exists(path) {
    try {
        await stat(path);
        return true;
    }
    catch {
        return false;
    }
}
//# sourceMappingURL=authority.js.map