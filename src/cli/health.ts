import { request } from 'undici'
import { configFrom } from '../config.js'
import { adminUrl } from './admin-client.js'
import { parse } from './args.js'

/**
 * `sidekey health [--ready]`: exit 0 when the running sidekey answers /healthz (or /readyz) on its
 * admin listener. The probe of the container image and of the Helm chart: the admin listener stays
 * on loopback, where the kubelet's HTTP probes cannot reach, so probes run this inside the container.
 */
export async function health(argv: string[]): Promise<number> {
  const { flags } = parse(argv, ['admin'], ['ready'])
  const config = configFrom({ admin: flags.admin })
  const path = flags.ready === true ? '/readyz' : '/healthz'
  try {
    const res = await request(`${adminUrl(config)}${path}`, { signal: AbortSignal.timeout(3000) })
    const text = await res.body.text()
    if (res.statusCode === 200) {
      // Still ready (the last good policy serves), but say so: a person running this should know.
      const stale = staleDetail(text)
      if (stale !== null) console.error(`sidekey: ready, but the policy is stale: ${stale}`)
      return 0
    }
    console.error(`sidekey: ${path} answered ${res.statusCode}: ${text.slice(0, 200)}`)
    return 1
  } catch (err) {
    console.error(`sidekey: ${path} did not answer: ${(err as Error).message}`)
    return 1
  }
}

/** The stale-policy detail of a /readyz answer, or null. */
function staleDetail(text: string): string | null {
  try {
    const policy = (JSON.parse(text) as { policy?: { stale?: unknown; detail?: unknown } }).policy
    return policy?.stale === true && typeof policy.detail === 'string' ? policy.detail : null
  } catch {
    return null
  }
}
