import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { serialNumberHex } from './serial.js';
/** Lifetime of a minted leaf. Short, since leaves are minted on demand and never stored. */
export const LEAF_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
/**
 * Generate the process's leaf key pair: ECDSA P-256. Every intercepted TLS handshake signs with
 * it, and a P-256 signature costs about a tenth of an RSA-2048 one (0.03 against 0.33 ms here),
 * which is most of what a new connection costs sidekey. Every TLS client in use verifies P-256;
 * the CA that signs the leaves stays RSA (sha256WithRSAEncryption, as loadCA reads it).
 */
export function createLeafKey() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    return {
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        publicKeySpki: forge.asn1.fromDer(publicKey.export({ type: 'spki', format: 'der' }).toString('binary')),
    };
}
/** Position of subjectPublicKeyInfo in a v3 TBSCertificate (RFC 5280 4.1). */
const SPKI_INDEX = 6;
/**
 * Mint a leaf certificate for `host` (a DNS name or IP address, already normalised). node-forge
 * builds the certificate; its to-be-signed bytes are signed by node:crypto in the thread pool
 * (forge's JavaScript RSA costs ~36 ms and would block the event loop; this costs ~1 ms).
 */
export async function mintLeaf(ca, leafKey, host) {
    const cert = forge.pki.createCertificate();
    // forge builds RSA public keys only: it writes the CA's here, and the leaf's own EC key replaces
    // it in the to-be-signed certificate below, before anything is signed.
    cert.publicKey = ca.cert.publicKey;
    cert.serialNumber = serialNumberHex(randomBytes(16));
    const now = Date.now();
    cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
    cert.validity.notAfter = new Date(now + LEAF_LIFETIME_MS);
    cert.setSubject([{ name: 'commonName', value: host.length <= 64 ? host : 'sidekey-leaf' }]);
    cert.setIssuer(ca.cert.subject.attributes);
    const altName = isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host };
    cert.setExtensions([
        { name: 'basicConstraints', cA: false, critical: true },
        // An EC key signs (the TLS handshake); it never enciphers keys, so that usage is not claimed.
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames: [altName] },
        // No subjectKeyIdentifier: forge would derive it from the placeholder RSA key, and it is not
        // recommended in end-entity certificates (RFC 5280 4.2.1.2 requires it of CAs only).
        { name: 'authorityKeyIdentifier', keyIdentifier: ca.subjectKeyId },
    ]);
    cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption;
    cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption;
    // getTBSCertificate is public in node-forge but missing from its type definitions.
    const tbs = forge.pki.getTBSCertificate(cert);
    tbs.value[SPKI_INDEX] = leafKey.publicKeySpki;
    const tbsDer = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
    const signature = await signAsync(tbsDer, ca.key);
    cert.tbsCertificate = tbs;
    cert.signature = signature.toString('binary');
    return forge.pki.certificateToPem(cert);
}
function signAsync(data, key) {
    return new Promise((resolve, reject) => {
        sign('sha256', data, key, (err, signature) => (err ? reject(err) : resolve(signature)));
    });
}
//# sourceMappingURL=leaf.js.map