import type { ASTNode, Environment } from '@marcbachmann/cel-js'
import { lazyModule } from '../lazy-module.js'
import { LINEAR_MATCHES, linearMatches, re2PatternProblem } from './cel-regex.js'

/**
 * CEL (Common Expression Language) predicates over a request, compiled once when policy loads.
 * The implementation is @marcbachmann/cel-js: a maintained, dependency-free CEL with a type
 * checker, so a typo or a type error is a policy error with file and line, not a surprise at
 * request time.
 *
 * Variables an expression sees (see docs/policy.md, "Conditions"):
 * - `request.method`, `request.host`, `request.port`, `request.path` (no query),
 *   `request.query` (map: name -> first value), `request.headers` (map: lower-case name -> value,
 *   repeated headers joined with ", ")
 * - `workload` (string; "" for an anonymous caller)
 * - `body`: the request body parsed as JSON (numbers are doubles, as in CEL's JSON mapping)
 * - `mcp`: on an MCP route, the JSON-RPC message sidekey parsed: `mcp.method`, `mcp.tool`,
 *   `mcp.arguments`, `mcp.resource`, `mcp.prompt` (docs/mcp.md); null elsewhere
 */

/** Largest expression accepted, in characters (keeps parse time and AST size bounded). */
const MAX_SOURCE = 2048

const celJs = lazyModule<typeof import('@marcbachmann/cel-js')>('@marcbachmann/cel-js')
let celEnvironment: Environment | undefined

/** The CEL environment, made when the first condition is compiled (a policy without conditions never loads CEL). */
function environment(): Environment {
  return (celEnvironment ??= new (celJs().Environment)({
    limits: { maxAstNodes: 500, maxDepth: 32, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 8 },
  })
    .registerVariable('request', 'map')
    .registerVariable('workload', 'string')
    .registerVariable('body', 'dyn')
    .registerVariable('mcp', 'dyn')
    // `matches` in linear time (policy/cel-regex.ts): each call is renamed to these.
    .registerFunction(`string.${LINEAR_MATCHES}(string): bool`, linearMatches)
    .registerFunction(`${LINEAR_MATCHES}(string, string): bool`, linearMatches))
}

/**
 * Point every `matches` call of a parsed expression at the linear-time function, and say why a
 * literal pattern is not RE2 syntax. Done on the parsed expression before it is type-checked
 * (which binds each call to its function), so `"matches"` inside a string is left alone.
 */
function useLinearMatches(ast: ASTNode): string | null {
  let problem: string | null = null
  const visit = (n: ASTNode): void => {
    if ((n.op === 'rcall' || n.op === 'call') && n.args[0] === 'matches') {
      // rcall: [name, receiver, [pattern]]; call: [name, [text, pattern]].
      const pattern: ASTNode | undefined = n.op === 'rcall' ? n.args[2][0] : n.args[1][1]
      if (pattern?.op === 'value' && typeof pattern.args === 'string') problem ??= re2PatternProblem(pattern.args)
      n.args[0] = LINEAR_MATCHES
    }
    for (const child of children(n)) visit(child)
  }
  visit(ast)
  return problem
}

/** What a compiled predicate is evaluated against. */
export interface CelInput {
  readonly request: {
    readonly method: string
    readonly host: string
    readonly port: number
    readonly path: string
    readonly query: Readonly<Record<string, string>>
    readonly headers: Readonly<Record<string, string>>
  }
  readonly workload: string
  /** The parsed JSON body; `undefined` when the request has no body or it is not JSON. */
  readonly body: unknown
  /** The MCP message being decided (mcp/facts.ts); absent off MCP routes. */
  readonly mcp?: unknown
}

/**
 * Which query parameters an expression reads: the names it spells out (`request.query.amount`,
 * `request.query["amount"]`, `"amount" in request.query`, `has(request.query.amount)`), or `any`
 * when it reaches the query some other way (a computed key, a macro over it, `request` as a whole).
 */
export type QueryReads = ReadonlySet<string> | 'any'

/** The result of one evaluation: true/false, or why it could not be decided. */
export type CelOutcome = { readonly ok: true; readonly value: boolean } | { readonly ok: false; readonly why: string }

/** A compiled predicate. `label` names it in refusals, audit lines and explain. */
export interface CelPredicate {
  readonly source: string
  readonly label: string
  /** True when the expression reads `body`, so the request body must be buffered and parsed. */
  readonly usesBody: boolean
  /** The `request.query` parameters the expression reads (a repeated one is refused as ambiguous). */
  readonly queryReads: QueryReads
  /** The `request.headers` names the expression reads, lower case (a repeated one is refused as ambiguous). */
  readonly headerReads: QueryReads
  /** The names of `mcp.arguments` the expression reads literally (`.force`, `["force"]`, `"force" in ...`). */
  readonly argumentReads: ReadonlySet<string>
  evaluate(input: CelInput): CelOutcome
}

/**
 * Compile `source`. Returns the predicate, or a message saying why it is not a valid boolean
 * CEL expression (for a policy problem).
 */
export function compileCel(source: string, label: string): CelPredicate | string {
  if (source.length > MAX_SOURCE) return `expression is longer than ${MAX_SOURCE} characters`
  let run: ReturnType<Environment['parse']>
  try {
    run = environment().parse(source)
  } catch (err) {
    return `not valid CEL: ${firstLine(err)}`
  }
  const patternProblem = useLinearMatches(run.ast)
  if (patternProblem !== null) return patternProblem
  const checked = run.check()
  if (!checked.valid) return `not valid CEL: ${firstLine(checked.error)}`
  if (checked.type !== 'bool' && checked.type !== 'dyn') return `must be a boolean expression, not ${checked.type}`
  // Read from the parsed expression, not the text: a string such as "mcp.example.com" or a header
  // named "body" is not a use of the variable.
  const usesBody = readsVariable(run.ast, 'body')
  const usesMcp = readsVariable(run.ast, 'mcp')
  return Object.freeze({
    source,
    label,
    usesBody,
    queryReads: queryReadsOf(run.ast),
    headerReads: requestFieldReads(run.ast, 'headers', (name) => name.toLowerCase()),
    argumentReads: fieldNamesRead(run.ast, 'mcp', 'arguments'),
    evaluate(input: CelInput): CelOutcome {
      if (usesBody && input.body === undefined) return { ok: false, why: 'the request body is not JSON' }
      if (usesMcp && input.mcp === undefined) return { ok: false, why: 'the request is not an MCP call this condition can read' }
      try {
        const value: unknown = run({ request: input.request, workload: input.workload, body: input.body ?? null, mcp: input.mcp ?? null })
        if (typeof value !== 'boolean') return { ok: false, why: `the expression gave ${typeof value}, not a boolean` }
        return { ok: true, value }
      } catch (err) {
        return { ok: false, why: firstLine(err) }
      }
    },
  })
}

/** What `ast` reads of `request.query` (see QueryReads). Conservative: anything unrecognised is `any`. */
export function queryReadsOf(ast: ASTNode): QueryReads {
  return requestFieldReads(ast, 'query')
}

/**
 * What `ast` reads of the map `request.<field>` (`query`, `headers`): the keys it spells out, each
 * through `spell`, or `any`. Conservative: anything unrecognised is `any`.
 */
export function requestFieldReads(ast: ASTNode, field: string, spell: (name: string) => string = (name) => name): QueryReads {
  const names = new Set<string>()
  let any = false
  const isRequest = (n: ASTNode): boolean => n.op === 'id' && n.args === 'request'
  const literal = (n: ASTNode): string | null => (n.op === 'value' && typeof n.args === 'string' ? n.args : null)
  /** `request.<field>` or `request["<field>"]`. */
  const isField = (n: ASTNode): boolean =>
    ((n.op === '.' || n.op === '.?') && isRequest(n.args[0]) && n.args[1] === field) || ((n.op === '[]' || n.op === '[?]') && isRequest(n.args[0]) && literal(n.args[1]) === field)
  const visit = (n: ASTNode): void => {
    if ((n.op === '.' || n.op === '.?') && isField(n.args[0])) return void names.add(spell(n.args[1]))
    if ((n.op === '[]' || n.op === '[?]') && isField(n.args[0])) {
      const key = literal(n.args[1])
      if (key !== null) return void names.add(spell(key))
      any = true
      return visit(n.args[1])
    }
    if (n.op === 'in' && isField(n.args[1]) && literal(n.args[0]) !== null) return void names.add(spell(literal(n.args[0])!))
    if (isField(n) || isRequest(n)) {
      any = true
      return
    }
    // Another field of `request` reads none of this one.
    if ((n.op === '.' || n.op === '.?') && isRequest(n.args[0])) return
    if ((n.op === '[]' || n.op === '[?]') && isRequest(n.args[0]) && literal(n.args[1]) !== null) return
    for (const child of children(n)) visit(child)
  }
  visit(ast)
  return any ? 'any' : names
}

/** Whether `ast` names the variable `name` anywhere. */
function readsVariable(ast: ASTNode, name: string): boolean {
  return (ast.op === 'id' && ast.args === name) || children(ast).some((c) => readsVariable(c, name))
}

/**
 * The keys of `root.field` (or `root["field"]`) that `ast` reads by a literal name: `.key`,
 * `["key"]`, `.?key`, `has(root.field.key)` and `"key" in root.field`. A key computed at run time
 * is not known here.
 */
export function fieldNamesRead(ast: ASTNode, root: string, field: string): ReadonlySet<string> {
  const names = new Set<string>()
  const literal = (n: ASTNode): string | null => (n.op === 'value' && typeof n.args === 'string' ? n.args : null)
  const isRoot = (n: ASTNode): boolean => n.op === 'id' && n.args === root
  const isField = (n: ASTNode): boolean =>
    ((n.op === '.' || n.op === '.?') && isRoot(n.args[0]) && n.args[1] === field) || ((n.op === '[]' || n.op === '[?]') && isRoot(n.args[0]) && literal(n.args[1]) === field)
  const visit = (n: ASTNode): void => {
    if ((n.op === '.' || n.op === '.?') && isField(n.args[0])) names.add(n.args[1])
    else if ((n.op === '[]' || n.op === '[?]') && isField(n.args[0]) && literal(n.args[1]) !== null) names.add(literal(n.args[1])!)
    else if (n.op === 'in' && isField(n.args[1]) && literal(n.args[0]) !== null) names.add(literal(n.args[0])!)
    for (const child of children(n)) visit(child)
  }
  visit(ast)
  return names
}

/** The sub-expressions of a node, whatever its shape. */
function children(n: ASTNode): ASTNode[] {
  if (n.op === 'value' || n.op === 'id') return []
  const out: ASTNode[] = []
  const collect = (x: unknown): void => {
    if (Array.isArray(x)) x.forEach(collect)
    else if (typeof x === 'object' && x !== null && 'op' in x) out.push(x as ASTNode)
  }
  collect(n.args)
  return out
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  // The renamed `matches` (useLinearMatches) is named as the policy author wrote it.
  return message.split('\n')[0]!.replaceAll(LINEAR_MATCHES, 'matches').slice(0, 200)
}
