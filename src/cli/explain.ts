import { explain as explainDecision } from '../admin/server.js'
import { DEFAULTS } from '../config.js'
import { loadPolicyPath } from '../policy/load.js'
import { parse } from './args.js'

/**
 * `sidekey explain METHOD URL [--workload W] [--policies DIR] [--json]`: what would happen to this
 * request, and why, decided offline from the policy files.
 */
export async function explain(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, ['workload', 'policies', 'body'], ['json'])
  const [method, url] = positionals
  if (method === undefined || url === undefined) {
    console.error('usage: sidekey explain METHOD URL [--workload NAME] [--body JSON] [--policies DIR] [--json]')
    return 2
  }
  const policy = await loadPolicyPath((flags.policies as string | undefined) ?? process.env.SIDEKEY_POLICIES ?? DEFAULTS.policyPath)
  const params = new URLSearchParams({ method, url })
  if (typeof flags.workload === 'string') params.set('workload', flags.workload)
  if (typeof flags.body === 'string') params.set('body', flags.body)
  const answer = explainDecision(policy, params)
  const refusedBy = answer.conditions.find((c) => c.result === 'fail' || c.result === 'undecidable')
  if (flags.json === true) {
    console.log(JSON.stringify(answer, null, 2))
  } else {
    const r = answer.request
    const d = answer.decision
    console.log(`${r.method} ${r.host}:${r.port}${r.path}  (workload: ${r.workload ?? 'anonymous'})`)
    // The path shown is the normalised one, as the proxy decides and forwards it.
    if (r.method_override) console.log(`  method override: decided as ${r.method_override}`)
    if (r.ambiguity && d.code === 'SIDEKEY_ERR_AMBIGUOUS_PATH') console.log(`  path refused: ${r.ambiguity}`)
    if (answer.connect) console.log(`  CONNECT: ${answer.connect.action} (${answer.connect.reason}${answer.connect.route ? `, route ${answer.connect.route}` : ''})`)
    console.log(`  decision: ${d.action} (${d.reason})${d.route ? ` by route "${d.route}"` : ''}${d.code ? `  -> ${d.code}` : ''}`)
    // The headline must not read "allow" for a request its route's conditions refuse.
    if (refusedBy !== undefined) console.log(`  outcome: refused by ${refusedBy.condition} (${refusedBy.result})`)
    if (answer.credential) console.log(`  credential: ${answer.credential} ${refusedBy === undefined ? 'injected' : 'not obtained (refused first)'}`)
    if (answer.conditions.length > 0) {
      console.log('  conditions:')
      for (const c of answer.conditions) console.log(`    ${c.result.padEnd(11)} ${c.condition}  (${c.detail})`)
    }
    console.log('  routes:')
    for (const t of answer.trace) console.log(`    ${t.matched ? '+' : '-'} ${t.route}  ${t.at}  ${t.why}`)
  }
  return answer.decision.action === 'deny' || refusedBy !== undefined ? 1 : 0
}
