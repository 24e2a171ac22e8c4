import { argumentsRead } from './argument-keys.js'
import { compileApproval, compileConditions, type ProblemAt } from '../policy/conditions.js'
import { nameGlob, type GlobTest } from '../policy/glob.js'
import type { McpRuleV1, McpV1 } from '../policy/schema.js'
import type { Route } from '../policy/types.js'

/**
 * A route's `mcp:` block compiled: which JSON-RPC methods may be sent, and which tools, resources
 * and prompts may be named, each rule with its own conditions, limits and approval (docs/mcp.md).
 * Built once when policy loads; nothing here is parsed per request.
 */

/** What a rule names: a tool (`tools/call`), a resource (`resources/read` and subscriptions) or a prompt (`prompts/get`). */
export type McpItemKind = 'tool' | 'resource' | 'prompt'

/** One rule of `tools`, `resources` or `prompts`, in the order written: the first that matches decides. */
export interface McpRule {
  readonly kind: McpItemKind
  /** The glob as written (`delete_*`, `repo://acme/*`). */
  readonly pattern: string
  readonly action: 'allow' | 'deny'
  /** The glob, matched exactly (letter case included), in time linear in the name (policy/glob.ts). */
  readonly exact: GlobTest
  /** The glob matched without letter case: a name that only this finds is refused as ambiguous (`names.ts`). */
  readonly folded: GlobTest
  /**
   * The rule's conditions and approval as a route the request guard runs, named
   * `ROUTE/tool:GLOB` so its rate limits and quotas count apart from the route's; null when the
   * rule has neither.
   */
  readonly guard: Route | null
  /** The argument names the rule's and the route's CEL read, by folded name (argument-keys.ts). */
  readonly argumentsRead: ReadonlyMap<string, string>
}

/** A compiled `mcp:` block. */
export interface McpPolicy {
  /** The 2026-07-28 revision: no sessions, so a GET stream or a DELETE is refused. */
  readonly stateless: boolean
  readonly logArguments: boolean
  readonly methodsAllow: readonly GlobTest[]
  readonly methodsDeny: readonly GlobTest[]
  readonly tools: readonly McpRule[]
  readonly resources: readonly McpRule[]
  readonly prompts: readonly McpRule[]
}

/**
 * The methods an `mcp:` block allows when it lists none: the lifecycle, listing, and the three
 * methods that name a tool, a resource or a prompt (decided further by the rules). Anything else
 * (tasks, a method a later revision adds) is refused until a policy names it.
 */
export const DEFAULT_MCP_METHODS: readonly string[] = Object.freeze([
  'initialize',
  'ping',
  'server/discover',
  'notifications/*',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'subscriptions/listen',
])

/** Compile `m`, the `mcp:` block of `route` (built without it), reporting problems at paths below `mcp`. */
export function compileMcp(m: McpV1, route: Omit<Route, 'mcp'>, defaultApprovalTimeoutMs: number, problem: ProblemAt): McpPolicy {
  const rules = (kind: McpItemKind, list: McpRuleV1[] | undefined, field: 'tools' | 'resources' | 'prompts'): McpRule[] =>
    (list ?? []).map((r, i) => {
      const pattern = (kind === 'resource' ? r.uri : r.name) ?? ''
      // Names and URIs are compared as printable ASCII (names.ts): a glob outside it could never match.
      if (!/^[\x21-\x7e]+$/.test(pattern)) problem([field, i, kind === 'resource' ? 'uri' : 'name'], `"${pattern}" has characters outside printable ASCII; MCP names and URIs sidekey lets through are printable ASCII, so it would never match`)
      const action = r.action ?? 'allow'
      const at = (p: (string | number)[], message: string): void => problem([field, i, ...p], message)
      const conditions = compileConditions(r.conditions, (p, message) => at(['conditions', ...p], message))
      const approval = compileApproval(r.approval, defaultApprovalTimeoutMs, (p, message) => at(['approval', ...p], message))
      if (action === 'deny' && (conditions !== null || approval !== null)) at(['action'], 'conditions and approval apply to action allow only')
      // An async approval lets through the identical request sent again, and an MCP client sends
      // every call with a new JSON-RPC id: the retry would never match.
      if (approval?.mode === 'async') at(['approval', 'mode'], 'mode: async does not suit MCP calls: a client sends each call with a new JSON-RPC id, so the call sent again never matches its approval; use mode: wait')
      const guard =
        conditions === null && approval === null
          ? null
          : Object.freeze({ ...route, name: `${route.name}/${kind}:${pattern}`, conditions, approval, inspectBodyBytes: route.inspectBodyBytes, mcp: null })
      return Object.freeze({ kind, pattern, action, exact: nameGlob(pattern), folded: nameGlob(pattern, true), guard, argumentsRead: argumentsRead(route, guard) })
    })
  return Object.freeze({
    stateless: m.stateless ?? false,
    logArguments: m.log_arguments ?? false,
    methodsAllow: Object.freeze((m.methods?.allow ?? DEFAULT_MCP_METHODS).map((g) => nameGlob(g))),
    methodsDeny: Object.freeze((m.methods?.deny ?? []).map((g) => nameGlob(g))),
    tools: Object.freeze(rules('tool', m.tools, 'tools')),
    resources: Object.freeze(rules('resource', m.resources, 'resources')),
    prompts: Object.freeze(rules('prompt', m.prompts, 'prompts')),
  })
}
