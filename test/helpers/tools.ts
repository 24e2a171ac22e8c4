import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/**
 * The programs tests drive as real peers, and the Debian package that brings each. `npm test`
 * installs them first (scripts/test-prerequisites.sh); a test run some other way that lacks one
 * fails at once naming the package, instead of skipping or failing later with a bare ENOENT.
 */
const PACKAGES = {
  curl: 'curl',
  openssl: 'openssl',
  python3: 'python3',
  chromium: 'chromium',
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  ip: 'iproute2',
  iptables: 'iptables',
  bwrap: 'bubblewrap',
  go: 'golang-go',
} as const

export type Tool = keyof typeof PACKAGES

/** Absolute path of `tool` on PATH (or the configured Chromium), or null. */
export function findTool(tool: Tool): string | null {
  if (tool === 'chromium') {
    const path = process.env.SIDEKEY_CHROMIUM ?? '/usr/bin/chromium'
    return executable(path) ? path : null
  }
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin']
  for (const dir of dirs) {
    if (dir !== '' && executable(join(dir, tool))) return join(dir, tool)
  }
  return null
}

/** Throw, naming the Debian package to install, unless every tool is present. */
export function requireTools(...tools: Tool[]): void {
  const missing = tools.filter((tool) => findTool(tool) === null)
  if (missing.length === 0) return
  const packages = [...new Set(missing.map((tool) => PACKAGES[tool]))]
  throw new Error(`this test needs ${missing.join(', ')}: install the Debian package(s) ${packages.join(' ')} (\`npm test\` installs them; or apt-get install -y ${packages.join(' ')})`)
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
