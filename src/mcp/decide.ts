import { SidekeyError } from '../errors.js'
import type { McpCall, McpMessage } from './jsonrpc.js'
import type { McpItemKind, McpPolicy, McpRule } from './policy.js'

/**
 * The per-message decision on an MCP route: is the method allowed, and, for a method that names a
 * tool, a resource or a prompt, which rule decides it (the first whose glob matches, none: deny).
 * Like every decision, it is a value with a fixed reason string.
 */

/** What a message names: the tool of `tools/call`, the URI of `resources/read`, the prompt of `prompts/get`. */
export interface McpSubject {
  readonly kind: McpItemKind
  readonly name: string
}

/** The methods that name an item, and the `params` field that holds its name. */
const NAMING_METHODS: Readonly<Record<string, { kind: McpItemKind; field: 'name' | 'uri' }>> = Object.freeze({
  'tools/call': { kind: 'tool', field: 'name' },
  'resources/read': { kind: 'resource', field: 'uri' },
  'resources/subscribe': { kind: 'resource', field: 'uri' },
  'resources/unsubscribe': { kind: 'resource', field: 'uri' },
  'prompts/get': { kind: 'prompt', field: 'name' },
})

/** The `params` field that names what `method` acts on (`name` or `uri`), or null when it names nothing. */
export function namingField(method: string): 'name' | 'uri' | null {
  return Object.hasOwn(NAMING_METHODS, method) ? NAMING_METHODS[method]!.field : null
}

/** An allowed message: the rule that decided it (its conditions and approval still to run), if it names an item. */
export interface McpVerdict {
  readonly reason: 'mcp-allowed' | 'mcp-response'
  readonly subject: McpSubject | null
  readonly rule: McpRule | null
}

/**
 * Tool names as the MCP specification (2025-11-25, "Tool names") defines them: 1 to 128 of
 * A-Z, a-z, 0-9, `_`, `-`, `.`. Prompt names and resource URIs have no such rule in the spec, so
 * they are held to printable ASCII without spaces. A name outside these is refused, never matched:
 * a glob like `delete_*` is written in ASCII, so `dеlete_repo` with a Cyrillic `е` would slip past
 * it (and past an approval) to a server that may normalise or display it as `delete_repo`.
 */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/
const PRINTABLE = /^[\x21-\x7e]{1,2048}$/

/**
 * `completion/complete` asks for argument completions of a prompt (`ref/prompt`, by name) or a
 * resource template (`ref/resource`, by URI): decided by the prompt or resource rules, so a prompt
 * the agent may not fetch does not answer completions either.
 */
const COMPLETION_REFS: Readonly<Record<string, { kind: McpItemKind; field: 'name' | 'uri' }>> = Object.freeze({
  'ref/prompt': { kind: 'prompt', field: 'name' },
  'ref/resource': { kind: 'resource', field: 'uri' },
})

/** The subject a call names, or null for a method that names none. Throws when the name is missing or refused. */
export function subjectOf(call: McpCall): McpSubject | null {
  let params = call.params
  let naming = Object.hasOwn(NAMING_METHODS, call.method) ? NAMING_METHODS[call.method]! : null
  if (call.method === 'completion/complete') {
    const ref = params?.ref as Record<string, unknown> | undefined
    const type = typeof ref?.type === 'string' ? ref.type : ''
    naming = Object.hasOwn(COMPLETION_REFS, type) ? COMPLETION_REFS[type]! : null
    if (naming === null) throw new SidekeyError('SIDEKEY_ERR_MCP_INVALID', 'completion/complete needs params.ref of type ref/prompt or ref/resource', { details: { jsonrpc_code: -32602 } })
    params = ref
  }
  if (naming === null) return null
  const name = params?.[naming.field]
  if (typeof name !== 'string') throw new SidekeyError('SIDEKEY_ERR_MCP_INVALID', `${call.method} needs params.${call.method === 'completion/complete' ? 'ref.' : ''}${naming.field} as a string`, { details: { jsonrpc_code: -32602 } })
  const shape = naming.kind === 'tool' ? TOOL_NAME : PRINTABLE
  if (!shape.test(name)) {
    const what = naming.kind === 'tool' ? 'tool names are 1 to 128 of A-Z a-z 0-9 _ - . (MCP 2025-11-25)' : `${naming.kind} ${naming.field}s are printable ASCII without spaces`
    throw new SidekeyError('SIDEKEY_ERR_MCP_NAME_REFUSED', `the ${naming.kind} ${shown(name)} has characters sidekey does not match (look-alike letters, spaces, controls): ${what}`)
  }
  if (naming.kind === 'resource') refuseAmbiguousUri(name, call.method === 'completion/complete')
  return { kind: naming.kind, name }
}

/**
 * A resource URI that a server could resolve to another path than the glob saw: a dot segment
 * (`repo://acme/public/../secrets` matches `repo://acme/public/*`), one percent-encoded (`%2e%2e`),
 * an encoded or backslash separator (`%2f`, `%5c`, `\`), or an unreserved character encoded
 * (`%73ecrets`, which RFC 3986 says is `secrets`, so a deny rule naming `secrets` would miss it).
 */
const AMBIGUOUS_URI = /(?:^|[/\\])(?:\.|%2e){1,2}(?:[/\\?#]|$)|%2f|%5c|\\|%(?:[46][1-9a-f]|[57][0-9a]|3[0-9]|2d|2e|5f|7e)/i

function refuseAmbiguousUri(uri: string, template: boolean): void {
  const path = uri.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '')
  if (AMBIGUOUS_URI.test(path)) {
    throw new SidekeyError('SIDEKEY_ERR_MCP_NAME_REFUSED', `the resource ${shown(uri)} has a dot segment, an encoded separator or an encoded plain character: a server could resolve it to another resource than the rules matched; send it normalized`)
  }
  refuseUncanonicalUri(uri, template)
}

/**
 * A resource URI must be the one a server looks it up by. The MCP SDKs find a resource by
 * `new URL(uri).href` (WHATWG URL), so `repo://acme:/secrets`, `repo://@acme/secrets`,
 * `https://docs.acme.test:443/admin/keys`, `https:docs.acme.test/...`, `file://localhost/etc/x` or
 * a backslash reach the resource a deny rule or an approval names while its glob, matched on the
 * string, misses them (found by a red-team run against the official server SDK). A URI whose href
 * differs from it, or that is no absolute URL, is refused, naming the form to send. A template
 * (`completion/complete`'s `ref/resource`) is compared with its `{...}` expressions set aside.
 */
function refuseUncanonicalUri(uri: string, template: boolean): void {
  const text = template ? uri.replace(/\{[^{}]*\}/g, 'x') : uri
  let href: string
  try {
    href = new URL(text).href
  } catch {
    throw new SidekeyError('SIDEKEY_ERR_MCP_NAME_REFUSED', `the resource ${shown(uri)} is not an absolute URI: sidekey matches resources as the server looks them up (as a URL), so it refuses one it cannot read as one`)
  }
  if (href !== text) {
    throw new SidekeyError('SIDEKEY_ERR_MCP_NAME_REFUSED', `the resource ${shown(uri)} is not written the way the server reads it (${shown(template ? href.slice(0, 200) : href)}): an empty or default port, user info, a missing "//", "localhost" in a file URI or a backslash would reach a resource other than the one the rules matched; send it as the server lists it`)
  }
}

/** Decide one message under `policy`. Throws the refusal (MCP_DENIED, MCP_NAME_REFUSED, MCP_INVALID). */
export function decideMcpMessage(policy: McpPolicy, m: McpMessage): McpVerdict {
  // A response answers the server's own request (sampling, elicitation): it calls nothing upstream.
  if (m.kind === 'response') return { reason: 'mcp-response', subject: null, rule: null }
  if (!methodAllowed(policy, m.method)) {
    throw new SidekeyError('SIDEKEY_ERR_MCP_DENIED', `the MCP method ${shown(m.method)} is not allowed on this route`, { details: { mcp_reason: 'mcp-method-denied' } })
  }
  const subject = subjectOf(m)
  if (m.method === 'subscriptions/listen') decideListenedResources(policy, m)
  if (subject === null) return { reason: 'mcp-allowed', subject, rule: null }
  const rule = ruleFor(policy, subject)
  if (rule === null || rule.action === 'deny') {
    const why = rule === null ? `no rule allows it (default deny)` : `rule ${shown(rule.pattern)} denies it`
    throw new SidekeyError('SIDEKEY_ERR_MCP_DENIED', `the ${subject.kind} ${shown(subject.name)} is not allowed: ${why}`, { details: { mcp_reason: rule === null ? `mcp-${subject.kind}-not-allowed` : `mcp-${subject.kind}-denied` } })
  }
  return { reason: 'mcp-allowed', subject, rule }
}

/**
 * `subscriptions/listen` (MCP 2026) names resources too, in `notifications.resourceSubscriptions`:
 * each must be one the resource rules allow, as `resources/subscribe` would (found by a red-team
 * run: a denied URI got its update notifications this way). Conditions and approvals of the
 * rules that allow them are not asked (a listen is not a read).
 */
function decideListenedResources(policy: McpPolicy, m: McpCall): void {
  const notifications = m.params?.notifications as Record<string, unknown> | undefined
  const uris = notifications?.resourceSubscriptions
  if (uris === undefined) return
  if (!Array.isArray(uris)) throw new SidekeyError('SIDEKEY_ERR_MCP_INVALID', 'subscriptions/listen needs params.notifications.resourceSubscriptions as a list of URIs', { details: { jsonrpc_code: -32602 } })
  for (const uri of uris) {
    const subject = subjectOf({ kind: 'request', id: 0, method: 'resources/subscribe', params: { uri } })!
    const rule = ruleFor(policy, subject)
    if (rule === null || rule.action === 'deny') {
      throw new SidekeyError('SIDEKEY_ERR_MCP_DENIED', `subscriptions/listen names the resource ${shown(subject.name)}, which is not allowed: ${rule === null ? 'no rule allows it (default deny)' : `rule ${shown(rule.pattern)} denies it`}`, { details: { mcp_reason: rule === null ? 'mcp-resource-not-allowed' : 'mcp-resource-denied' } })
    }
  }
}

/** True when `method` is allowed: listed (or in the defaults) and not denied. */
export function methodAllowed(policy: McpPolicy, method: string): boolean {
  return policy.methodsAllow.some((glob) => glob(method)) && !policy.methodsDeny.some((glob) => glob(method))
}

/**
 * The rule that decides `subject`: the first whose glob matches it exactly. A name that a rule
 * before it would match but for letter case (`Delete_repo` against `delete_*`) is refused: the
 * spec says names are case-sensitive, but a server that looks tools up without case would run the
 * tool that rule meant to deny or hold.
 */
export function ruleFor(policy: McpPolicy, subject: McpSubject): McpRule | null {
  const rules = subject.kind === 'tool' ? policy.tools : subject.kind === 'resource' ? policy.resources : policy.prompts
  for (const rule of rules) {
    if (rule.exact(subject.name)) return rule
    if (rule.folded(subject.name)) {
      throw new SidekeyError('SIDEKEY_ERR_MCP_NAME_REFUSED', `the ${subject.kind} ${shown(subject.name)} differs only in letter case from what rule ${shown(rule.pattern)} names; send the name as the server lists it`)
    }
  }
  return null
}

/** True when a listed item may be shown to the agent: a name sidekey matches, and a rule that allows it. */
export function visible(policy: McpPolicy, kind: McpItemKind, name: unknown): boolean {
  if (typeof name !== 'string') return false
  try {
    const subject = subjectOf({ kind: 'request', id: 0, method: kind === 'tool' ? 'tools/call' : kind === 'resource' ? 'resources/read' : 'prompts/get', params: kind === 'resource' ? { uri: name } : { name } })
    return subject !== null && ruleFor(policy, subject)?.action === 'allow'
  } catch {
    return false
  }
}

/** A name as shown in a message: JSON-quoted (so controls and look-alikes show as escapes) and cut. */
export function shown(name: string): string {
  const quoted = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name)
  // Non-ASCII as \u escapes: a look-alike must look different from what it imitates.
  return quoted.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
