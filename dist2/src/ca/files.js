/**
 * The names of sidekey's CA files, in the certs directory and (the public ones) in `--publish-ca`.
 * Kept apart from ca/authority.ts so that code which only names the files (the sidecar's
 * variables, `sidekey run`) does not load the certificate code.
 */
export const CA_FILES = {
    cert: 'ca.pem',
    key: 'ca-key.pem',
    /** System roots plus sidekey's CA, for clients that replace their trust store (Python requests). */
    bundle: 'bundle.pem',
    /** The same certificates as a PKCS#12 trust store for Java (password TRUSTSTORE_PASSWORD). */
    truststore: 'truststore.p12',
    /** A wgetrc naming the bundle (wget on GnuTLS reads no trust variable). */
    wgetrc: 'wgetrc',
};
/** The public trust files an agent may read (never the key): what the sandbox shows of the certs directory. */
export const PUBLIC_CA_FILES = [CA_FILES.cert, CA_FILES.bundle, CA_FILES.truststore, CA_FILES.wgetrc];
/**
 * The store password of `truststore.p12`. The store holds certificates only (system roots and
 * sidekey's CA, all public), so the password protects nothing; it is there because Java's
 * `javax.net.ssl.trustStorePassword` and keytool expect one to check the store's integrity MAC,
 * and `changeit` is the value Java's own cacerts uses, so tools that assume it work.
 */
export const TRUSTSTORE_PASSWORD = 'changeit';
//# sourceMappingURL=files.js.map