import { request } from 'undici'
import { explainReadiness, type ExplainReadiness } from '../admin/explain-readiness.js'
import { explain as explainDecision, type ExplainAnswer } from '../admin/server.js'
import { configFrom } from '../config.js'
import { SidekeyError } from '../errors.js'
import { formatAuthority } from '../policy/host.js'
import { loadPolicyPath } from '../policy/load.js'
import { parse } from './args.js'
import { adminUrl, readAdminToken } from './admin-client.js'
import { runWorkload } from './run-workload.js'

type Answer = ExplainAnswer & ExplainReadiness

const USAGE = 'usage: sidekey explain METHOD URL [--workload NAME] [--body JSON | --mcp-tool NAME [--mcp-args JSON]] [--policies DIR | --admin HOST:PORT] [--json | --brief]'

/**
 * `sidekey explain METHOD URL`: what would happen to this request, and why, for the workload
 * `sidekey run` would use (`--workload` or SIDEKEY_WORKLOAD, else `agent`; `--workload=` for an
 * anonymous caller). The running sidekey answers when one is reachable (its policy in force, its
 * environment and files); with `--policies`, or when none answers, the policy files are read here.
 * Besides the decision it says whether the credential can be obtained now and what the address
 * guard does with the host's addresses. With `--mcp-tool NAME` (and `--mcp-args JSON`), the request
 * is a `tools/call` of NAME, decided by the route's `mcp:` rules too. Exit 1 when policy refuses the request, 3 when policy
 * allows it but it would fail now (credential source missing, address blocked or unresolvable).
 */
export async function explain(argv: string[]): Promise<number> {
  const { flags, positionals } = parse(argv, ['workload', 'policies', 'body', 'admin', 'home', 'mcp-tool', 'mcp-args'], ['json', 'brief'])
  const [method, url] = positionals
  if (method === undefined || url === undefined) {
    console.error(USAGE)
    return 2
  }
  const params = new URLSearchParams({ method, url, workload: runWorkload(flags.workload) })
  if (typeof flags.body === 'string') params.set('body', flags.body)
  // An MCP call (docs/mcp.md): decided per tool on a route with an mcp: block.
  if (typeof flags['mcp-tool'] === 'string') {
    params.set('mcp_tool', flags['mcp-tool'])
    params.set('mcp_args', typeof flags['mcp-args'] === 'string' ? flags['mcp-args'] : '{}')
  }
  const config = configFrom({ admin: flags.admin, home: flags.home, policies: flags.policies })
  const asked = typeof flags.policies === 'string' ? null : await askRunning(adminUrl(config), params, await readAdminToken(config).catch(() => null))
  let answer: Answer
  let from: string
  if (asked !== null) {
    answer = asked
    from = `the running sidekey at ${adminUrl(config)}`
  } else {
    const policy = await loadPolicyPath(config.policyPath)
    const decided = explainDecision(policy, params)
    answer = { ...decided, ...(await explainReadiness(policy, decided, { connectTo: config.connectTo })) }
    from = `the policy files in ${config.policyPath} (no sidekey answers at ${adminUrl(config)})`
  }
  const verdict = outcome(answer)
  if (flags.json === true) console.log(JSON.stringify({ ...answer, from, outcome: verdict.line }, null, 2))
  else if (flags.brief === true) console.log(`${answer.request.method} ${formatAuthority(answer.request)}${answer.request.path} (${answer.request.workload ?? 'anonymous'}): ${verdict.line}`)
  else printLong(answer, from, verdict)
  return verdict.refused === 'policy' ? 1 : verdict.refused === 'now' ? 3 : 0
}

/** The running sidekey's answer, or null when none answers (any other failure is reported). */
async function askRunning(base: string, params: URLSearchParams, token: string | null): Promise<Answer | null> {
  let res
  try {
    res = await request(`${base}/v1/explain?${params}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` }, headersTimeout: 2000, bodyTimeout: 5000 })
  } catch {
    return null
  }
  const body = (await res.body.json()) as Answer & { error?: { code: string; message: string } }
  if (res.statusCode === 200) return body
  // Not this version's admin API (no /v1/explain): decide offline instead.
  if (res.statusCode === 404) return null
  throw new SidekeyError(body.error?.code === 'SIDEKEY_ERR_BAD_REQUEST' ? 'SIDEKEY_ERR_BAD_REQUEST' : 'SIDEKEY_ERR_CONFIG', body.error?.message ?? `the sidekey at ${base} answered ${res.statusCode}`)
}

/**
 * The outcome in one line: the first thing that would stop the request. `policy`: the policy
 * refuses it (exit 1); `now`: the policy allows it but it would fail right now, for want of a
 * credential source or because of the address guard (exit 3); null: it would go through (exit 0).
 */
function outcome(a: Answer): { line: string; refused: 'policy' | 'now' | null } {
  const d = a.decision
  if (d.action === 'deny') return { line: `refused: ${d.reason}${d.route ? ` (route "${d.route}")` : ''}${d.code ? ` -> ${d.code}` : ''}`, refused: 'policy' }
  const refusedBy = a.conditions.find((c) => c.result === 'fail' || c.result === 'undecidable')
  if (refusedBy !== undefined) return { line: `refused by ${refusedBy.condition} (${refusedBy.result}) of route "${d.route}": ${refusedBy.detail}`, refused: 'policy' }
  const missing = a.credential_sources.find((s) => s.problem !== null)
  if (missing !== undefined) return { line: `refused now: credential "${a.credential}": ${missing.problem} -> SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE`, refused: 'now' }
  if (a.address !== null && a.address.verdict !== 'allowed') return { line: `refused now: ${a.address.detail}`, refused: 'now' }
  const parts = [`${d.action === 'tunnel' ? 'tunnelled' : 'allowed'} by route "${d.route}"`]
  if (a.credential !== null) parts.push(`credential "${a.credential}" ready`)
  if (a.conditions.some((c) => c.result === 'holds')) parts.push('waits for a person to approve')
  if (a.address !== null) parts.push(`address ${a.address.addresses[0] ?? '?'} allowed`)
  return { line: parts.join(', '), refused: null }
}

function printLong(a: Answer, from: string, verdict: ReturnType<typeof outcome>): void {
  const r = a.request
  const d = a.decision
  console.log(`${r.method} ${formatAuthority(r)}${r.path}  (workload: ${r.workload ?? 'anonymous'})`)
  console.log(`  decided by: ${from}`)
  // The path shown is the normalised one, as the proxy decides and forwards it.
  if (r.method_override) console.log(`  method override: decided as ${r.method_override}`)
  if (r.ambiguity && d.code === 'SIDEKEY_ERR_AMBIGUOUS_PATH') console.log(`  path refused: ${r.ambiguity}`)
  if (a.connect) console.log(`  CONNECT: ${a.connect.action} (${a.connect.reason}${a.connect.route ? `, route ${a.connect.route}` : ''})`)
  console.log(`  decision: ${d.action} (${d.reason})${d.route ? ` by route "${d.route}"` : ''}${d.code ? `  -> ${d.code}` : ''}`)
  // The headline must not read "allow" for a request something later would refuse.
  console.log(`  outcome: ${verdict.line}`)
  if (a.credential) {
    console.log(`  credential: ${a.credential} ${verdict.refused === 'policy' ? 'not obtained (refused first)' : verdict.refused === 'now' ? 'cannot be injected now' : 'injected'}`)
    for (const s of a.credential_sources) console.log(`    ${s.problem === null ? `ok: ${s.kind === 'env' ? 'variable' : 'file'} ${s.name}` : `missing: ${s.problem}`}`)
    // An older sidekey's answer has no such field (undefined): nothing is said.
    if (a.credential_cached === true) console.log('    token: cached, usable now')
    if (a.credential_cached === false) console.log('    token: none cached; fetched from the identity provider on first use')
  }
  if (a.address !== null) console.log(`  address guard: ${a.address.verdict}: ${a.address.detail}`)
  if (a.conditions.length > 0) {
    console.log('  conditions:')
    for (const c of a.conditions) console.log(`    ${c.result.padEnd(11)} ${c.condition}  (${c.detail})`)
  }
  console.log('  routes:')
  for (const t of a.trace) console.log(`    ${t.matched ? '+' : '-'} ${t.route}  ${t.at}  ${t.why}`)
}
