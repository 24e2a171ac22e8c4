import type { ExplainAnswer } from '../admin/server.js'
import { SidekeyError } from '../errors.js'
import type { Route } from '../policy/types.js'
import { decideMcpMessage } from './decide.js'
import { celFacts, describeCall } from './facts.js'
import type { McpCall } from './jsonrpc.js'

/**
 * `sidekey explain ... --mcp-tool NAME --mcp-args JSON` (admin API: `mcp_tool`, `mcp_args`): what
 * the MCP route would do with a `tools/call` of NAME, as one more line of the answer's conditions
 * (allowed by which rule, or refused with which code), followed by that rule's own conditions and
 * approval, evaluated with the arguments as CEL's `mcp.arguments`.
 */

type Conditions = ExplainAnswer['conditions']

/** The explain lines for the MCP call `params` names on `route`; none when it names none. `explainRule` explains a rule's route. */
export function explainMcpCall(route: Route, params: URLSearchParams, explainRule: (rule: Route, body: string, mcp: unknown) => Conditions): Conditions {
  const name = params.get('mcp_tool')
  if (name === null) return []
  if (route.mcp === null) return [{ condition: 'mcp', result: 'fail', detail: `route "${route.name}" is not an MCP endpoint (no mcp: block): the body is not decided per tool` }]
  let args: unknown
  try {
    args = JSON.parse(params.get('mcp_args') ?? '{}') as unknown
  } catch {
    throw new SidekeyError('SIDEKEY_ERR_BAD_REQUEST', '--mcp-args must be a JSON object')
  }
  const call: McpCall = { kind: 'request', id: 1, method: 'tools/call', params: { name, arguments: args } }
  const about = describeCall(call)
  try {
    const verdict = decideMcpMessage(route.mcp, call)
    const line = { condition: `mcp ${about}`, result: 'pass' as const, detail: `allowed by rule "${verdict.rule?.pattern}"` }
    const guard = verdict.rule?.guard ?? null
    if (guard === null) return [line]
    const body = JSON.stringify({ jsonrpc: '2.0', id: call.id, method: call.method, params: call.params })
    return [line, ...explainRule(guard, body, celFacts(call, verdict.subject)).map((c) => ({ ...c, condition: `${guard.name} ${c.condition}` }))]
  } catch (err) {
    if (!(err instanceof SidekeyError)) throw err
    return [{ condition: `mcp ${about}`, result: 'fail', detail: `${err.message}: refused with ${err.code}` }]
  }
}
