import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto'
import { isIP } from 'node:net'
import forge from 'node-forge'
import { serialNumberHex } from './serial.js'
import type { CertificateAuthority } from './authority.js'

/** Lifetime of a minted leaf. Short, since leaves are minted on demand and never stored. */
export const LEAF_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000

/** The single leaf key pair of this process (docs/architecture.md, "Performance choices"). */
export interface LeafKey {
  readonly privateKeyPem: string
  readonly publicKey: forge.pki.rsa.PublicKey
}

/** Generate the process's leaf key pair (RSA 2048 natively; forge only reads the public half). */
export function createLeafKey(): LeafKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()) as forge.pki.rsa.PublicKey,
  }
}

/**
 * Mint a leaf certificate for `host` (a DNS name or IP address, already normalised). node-forge
 * builds the certificate; its to-be-signed bytes are signed by node:crypto in the thread pool
 * (forge's JavaScript RSA costs ~36 ms and would block the event loop; this costs ~1 ms).
 */
export async function mintLeaf(ca: CertificateAuthority, leafKey: LeafKey, host: string): Promise<string> {
  const cert = forge.pki.createCertificate()
  cert.publicKey = leafKey.publicKey
  cert.serialNumber = serialNumberHex(randomBytes(16))
  const now = Date.now()
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000)
  cert.validity.notAfter = new Date(now + LEAF_LIFETIME_MS)
  cert.setSubject([{ name: 'commonName', value: host.length <= 64 ? host : 'sidekey-leaf' }])
  cert.setIssuer(ca.cert.subject.attributes)
  const altName = isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host }
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [altName] },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.subjectKeyId },
  ])
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption!
  cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!
  // getTBSCertificate is public in node-forge but missing from its type definitions.
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert)
  const tbsDer = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary')
  const signature = await signAsync(tbsDer, ca.key)
  ;(cert as unknown as { tbsCertificate: forge.asn1.Asn1 }).tbsCertificate = tbs
  cert.signature = signature.toString('binary')
  return forge.pki.certificateToPem(cert)
}

function signAsync(data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign('sha256', data, key, (err, signature) => (err ? reject(err) : resolve(signature)))
  })
}
