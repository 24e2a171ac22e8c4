import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { TRUSTSTORE_PASSWORD } from './files.js';
/** OIDs the store is made of (RFC 7292 and Oracle's trust attribute). */
const OID = {
    data: '1.2.840.113549.1.7.1',
    certBag: '1.2.840.113549.1.12.10.1.3',
    x509Certificate: '1.2.840.113549.1.9.22.1',
    friendlyName: '1.2.840.113549.1.9.20',
    sha1: '1.3.14.3.2.26',
    /**
     * Java reads a certificate in a PKCS#12 store as a trust anchor only when its bag carries this
     * attribute (what keytool writes; a store without it loads with no trusted entries).
     */
    oracleTrustedKeyUsage: '2.16.840.1.113894.746875.1.1',
    anyExtendedKeyUsage: '2.5.29.37.0',
};
/** Iterations of the PKCS#12 key derivation for the MAC (RFC 7292 appendix B); 2048 is keytool's. */
const MAC_ITERATIONS = 2048;
const { asn1 } = forge;
const { Class, Type } = asn1;
const oid = (value) => asn1.create(Class.UNIVERSAL, Type.OID, false, asn1.oidToDer(value).getBytes());
const seq = (items) => asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items);
const set = (items) => asn1.create(Class.UNIVERSAL, Type.SET, true, items);
const octets = (bytes) => asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bytes);
const explicit0 = (item) => asn1.create(Class.CONTEXT_SPECIFIC, 0, true, [item]);
const der = (node) => asn1.toDer(node).getBytes();
/** The DER of every certificate in a PEM text, in order, without parsing them. */
export function pemCertificates(pem) {
    return [...pem.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}
/** One trusted certificate: a cert bag with an alias (friendlyName) and Java's trust attribute. */
function trustedCertBag(certDer, alias) {
    return seq([
        oid(OID.certBag),
        explicit0(seq([oid(OID.x509Certificate), explicit0(octets(certDer.toString('binary')))])),
        set([
            seq([oid(OID.friendlyName), set([asn1.create(Class.UNIVERSAL, Type.BMPSTRING, false, alias)])]),
            seq([oid(OID.oracleTrustedKeyUsage), set([oid(OID.anyExtendedKeyUsage)])]),
        ]),
    ]);
}
/**
 * A PKCS#12 trust store (RFC 7292) of `certificates` (DER) for Java and other JVM clients:
 * certificate bags only, in plain data, with a SHA-1 HMAC over the contents keyed by
 * TRUSTSTORE_PASSWORD (Java refuses a store whose MAC does not verify). The first certificate is
 * named `sidekey-ca`, the others `root-N`.
 */
export function pkcs12TrustStore(certificates) {
    const bags = certificates.map((cert, i) => trustedCertBag(cert, i === 0 ? 'sidekey-ca' : `root-${i}`));
    const safe = seq([seq([oid(OID.data), explicit0(octets(der(seq(bags))))])]);
    const salt = randomBytes(20).toString('binary');
    // Key id 3: the key is for the MAC (RFC 7292 appendix B.3).
    const key = forge.pkcs12.generateKey(TRUSTSTORE_PASSWORD, forge.util.createBuffer(salt), 3, MAC_ITERATIONS, 20);
    const hmac = forge.hmac.create();
    hmac.start('sha1', key);
    const safeDer = der(safe);
    hmac.update(safeDer);
    const macData = seq([
        seq([seq([oid(OID.sha1), asn1.create(Class.UNIVERSAL, Type.NULL, false, '')]), octets(hmac.digest().getBytes())]),
        octets(salt),
        asn1.create(Class.UNIVERSAL, Type.INTEGER, false, asn1.integerToDer(MAC_ITERATIONS).getBytes()),
    ]);
    const pfx = seq([asn1.create(Class.UNIVERSAL, Type.INTEGER, false, asn1.integerToDer(3).getBytes()), seq([oid(OID.data), explicit0(octets(safeDer))]), macData]);
    return Buffer.from(der(pfx), 'binary');
}
/**
 * A wgetrc that makes wget trust `bundlePath`: Debian's wget is built on GnuTLS, which reads no
 * environment variable for its roots, so `sidekey run` points WGETRC at this file. WGETRC replaces
 * the user's ~/.wgetrc (the system /etc/wgetrc is still read).
 */
export function wgetrc(bundlePath) {
    return `# Written by sidekey: wget trusts system roots plus sidekey's CA.\nca_certificate = ${bundlePath}\n`;
}
//# sourceMappingURL=truststore.js.map