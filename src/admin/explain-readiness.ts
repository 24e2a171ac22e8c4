import { sourceProblem } from '../credentials/availability.js'
import { firstBlocked, resolveAll, systemResolver, type Resolver } from '../forward/ssrf.js'
import type { Authority } from '../policy/host.js'
import type { Policy } from '../policy/types.js'
import type { ExplainAnswer } from './server.js'

/** What `explain` adds about right now: can the credential be obtained, and may the host's addresses be dialled. */
export interface ExplainReadiness {
  /** Each source of the credential the request would get, with what stops it being read (null: readable). */
  credential_sources: { kind: 'env' | 'file'; name: string; problem: string | null }[]
  /**
   * For a credential fetched from an identity provider: whether a token usable now is cached for
   * the workload. null: not such a credential, or the caller did not present the admin token
   * (whether another workload has called a service lately is not for an agent to learn).
   */
  credential_cached: boolean | null
  /** The address guard's verdict on the host as it resolves now; null when the request is refused before any connection. */
  address: { verdict: 'allowed' | 'blocked' | 'unresolvable'; addresses: string[]; detail: string } | null
}

/** How the proxy that would serve the request resolves and redirects hosts (default: the system resolver, no redirects). */
export interface DialSettings {
  readonly resolver?: Resolver
  readonly connectTo?: ReadonlyMap<string, Authority>
}

/**
 * The checks explain makes beyond the decision, in the process that would serve the request (the
 * running sidekey's admin API, or the CLI offline): whether each source of the credential can be
 * read now, and what the address guard says after resolving the host. The host is resolved only
 * when a route lets the request through, as the proxy itself would: explain resolves no name the
 * proxy would refuse, so it opens no DNS channel the proxy keeps closed.
 */
export async function explainReadiness(policy: Policy, answer: ExplainAnswer, dial: DialSettings = {}, env: NodeJS.ProcessEnv = process.env, showCache = true): Promise<ExplainReadiness> {
  const credential_sources: ExplainReadiness['credential_sources'] = []
  for (const source of answer.credential === null ? [] : (policy.credentialSources.get(answer.credential) ?? [])) {
    credential_sources.push({ kind: source.kind, name: source.name, problem: await sourceProblem(source, env) })
  }
  const provider = answer.credential === null ? undefined : policy.credentials.get(answer.credential)
  const credential_cached = showCache ? (provider?.cached?.(answer.request.workload) ?? null) : null
  const routeName = answer.decision.action === 'allow' ? answer.decision.route : answer.connect?.action === 'allow' ? answer.connect.route : null
  const route = routeName === null ? undefined : policy.routes.find((r) => r.name === routeName)
  if (route === undefined) return { credential_sources, credential_cached, address: null }
  // The proxy dials the --connect-to target instead, when one is set; the guard checks that.
  const host = dial.connectTo?.get(`${answer.request.host}:${answer.request.port}`)?.host ?? answer.request.host
  // The proxy's own resolution and check (forward/ssrf.ts), so explain cannot drift from it.
  let addresses: string[]
  try {
    addresses = await resolveAll(host, dial.resolver ?? systemResolver)
  } catch (err) {
    return { credential_sources, credential_cached, address: { verdict: 'unresolvable', addresses: [], detail: `${(err as Error).message}: refused with SIDEKEY_ERR_DNS` } }
  }
  const blocked = firstBlocked(addresses, route)
  if (blocked !== null) {
    return { credential_sources, credential_cached, address: { verdict: 'blocked', addresses, detail: `${blocked.address} is a ${blocked.kind} address: refused with SIDEKEY_ERR_DESTINATION_BLOCKED; name it in route "${route.name}"'s addresses if this is intended` } }
  }
  return { credential_sources, credential_cached, address: { verdict: 'allowed', addresses, detail: `${addresses.join(', ')}: may be dialled` } }
}
