import { namingField, shown, type McpSubject } from './decide.js'
import type { McpBody, McpCall } from './jsonrpc.js'
import type { McpPolicy } from './policy.js'
import type { McpRefusalContext } from './refusal.js'

/**
 * What the request path learned about an MCP POST, kept on the exchange: the parsed body, the
 * requests whose answers come back (for list filtering and outcomes), and what a refusal names.
 */
export interface McpExchange {
  readonly policy: McpPolicy
  readonly body: McpBody
  /** Request id (list-filter.ts `idKey`) -> method, for every request in the body. */
  readonly requests: Map<string, string>
  readonly refusal: McpRefusalContext
}

/** CEL's `mcp` variable: the message being decided (docs/mcp.md, "Conditions"). */
export interface McpCelFacts {
  readonly method: string
  readonly tool: string | null
  readonly resource: string | null
  readonly prompt: string | null
  /** The call's `params.arguments` (tools, prompts), `{}` when it has none. */
  readonly arguments: unknown
}

/** The facts CEL sees for `call`, naming `subject`. */
export function celFacts(call: McpCall, subject: McpSubject | null): McpCelFacts {
  const args = call.params?.arguments
  return {
    method: call.method,
    tool: subject?.kind === 'tool' ? subject.name : null,
    resource: subject?.kind === 'resource' ? subject.name : null,
    prompt: subject?.kind === 'prompt' ? subject.name : null,
    arguments: typeof args === 'object' && args !== null ? args : {},
  }
}

/**
 * The tool or prompt name, or resource URI, a call carries as sent (before any check), or null: the
 * field its method is decided on, never another (a `resources/read` with an extra `name` was
 * audited and put to the approver under that name, not its URI: found by a red-team run).
 */
export function nameIn(call: McpCall): string | null {
  const field = namingField(call.method)
  const name = field === null ? undefined : call.params?.[field]
  return typeof name === 'string' ? name : null
}

/** How a call is named in refusals and approvals: `tools/call "delete_repo"` (the name as sent, quoted and cut). */
export function describeCall(call: McpCall): string {
  const name = nameIn(call)
  return name === null ? shown(call.method) : `${call.method} ${shown(name)}`
}
