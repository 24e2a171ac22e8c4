import { join, resolve } from 'node:path'
import { CA_FILES, createCA, loadCA } from '../ca/authority.js'
import { configFrom } from '../config.js'
import { parse } from './args.js'

/** Environment variables that make common clients trust a CA bundle, and which file each wants. */
export function trustEnv(certPath: string, bundlePath: string): Record<string, string> {
  return {
    // Node adds this to its bundled roots.
    NODE_EXTRA_CA_CERTS: certPath,
    // OpenSSL-based clients (Python ssl, Ruby, curl built with OpenSSL) replace their roots with
    // these, so they get the full bundle: system roots plus sidekey's CA.
    SSL_CERT_FILE: bundlePath,
    REQUESTS_CA_BUNDLE: bundlePath,
    CURL_CA_BUNDLE: bundlePath,
    GIT_SSL_CAINFO: bundlePath,
    AWS_CA_BUNDLE: bundlePath,
  }
}

/** `sidekey ca init [--force]` and `sidekey ca show`. */
export async function ca(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, ['certs', 'home'], ['force'])
  // Absolute, so the exported trust variables hold wherever the agent's shell goes next.
  const dir = resolve(configFrom({ certs: flags.certs, home: flags.home }).certsDir)
  const action = positionals[0]
  if (action === 'init') {
    const authority = await createCA(dir, { force: flags.force === true })
    console.log(`created CA certificate ${authority.certPath}`)
    console.log(`private key ${join(dir, CA_FILES.key)} (mode 0600; never copy it to an agent)`)
    return 0
  }
  if (action === 'show') {
    const authority = await loadCA(dir)
    console.log(`# sidekey CA certificate: ${authority.certPath}`)
    console.log(`# trust bundle (system roots + sidekey CA): ${authority.bundlePath}`)
    for (const [name, value] of Object.entries(trustEnv(authority.certPath, authority.bundlePath))) console.log(`export ${name}=${shellQuote(value)}`)
    return 0
  }
  console.error('usage: sidekey ca init [--force] [--certs DIR] | sidekey ca show [--certs DIR]')
  return 2
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}
