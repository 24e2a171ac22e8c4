import { Environment } from '@marcbachmann/cel-js'

/**
 * CEL (Common Expression Language) predicates over a request, compiled once when policy loads.
 * The implementation is @marcbachmann/cel-js: a maintained, dependency-free CEL with a type
 * checker, so a typo or a type error is a policy error with file and line, not a surprise at
 * request time.
 *
 * Variables an expression sees (see README "Conditions"):
 * - `request.method`, `request.host`, `request.port`, `request.path` (no query),
 *   `request.query` (map: name -> first value), `request.headers` (map: lower-case name -> value,
 *   repeated headers joined with ", ")
 * - `workload` (string; "" for an anonymous caller)
 * - `body`: the request body parsed as JSON (numbers are doubles, as in CEL's JSON mapping)
 */

/** Largest expression accepted, in characters (keeps parse time and AST size bounded). */
const MAX_SOURCE = 2048

const environment = new Environment({
  limits: { maxAstNodes: 500, maxDepth: 32, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 8 },
})
  .registerVariable('request', 'map')
  .registerVariable('workload', 'string')
  .registerVariable('body', 'dyn')

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
}

/** The result of one evaluation: true/false, or why it could not be decided. */
export type CelOutcome = { readonly ok: true; readonly value: boolean } | { readonly ok: false; readonly why: string }

/** A compiled predicate. `label` names it in refusals, audit lines and explain. */
export interface CelPredicate {
  readonly source: string
  readonly label: string
  /** True when the expression reads `body`, so the request body must be buffered and parsed. */
  readonly usesBody: boolean
  evaluate(input: CelInput): CelOutcome
}

/**
 * Compile `source`. Returns the predicate, or a message saying why it is not a valid boolean
 * CEL expression (for a policy problem).
 */
export function compileCel(source: string, label: string): CelPredicate | string {
  if (source.length > MAX_SOURCE) return `expression is longer than ${MAX_SOURCE} characters`
  let run: ReturnType<typeof environment.parse>
  try {
    run = environment.parse(source)
  } catch (err) {
    return `not valid CEL: ${firstLine(err)}`
  }
  const checked = run.check()
  if (!checked.valid) return `not valid CEL: ${firstLine(checked.error)}`
  if (checked.type !== 'bool' && checked.type !== 'dyn') return `must be a boolean expression, not ${checked.type}`
  const usesBody = /\bbody\b/.test(source)
  return Object.freeze({
    source,
    label,
    usesBody,
    evaluate(input: CelInput): CelOutcome {
      if (usesBody && input.body === undefined) return { ok: false, why: 'the request body is not JSON' }
      try {
        const value: unknown = run({ request: input.request, workload: input.workload, body: input.body ?? null })
        if (typeof value !== 'boolean') return { ok: false, why: `the expression gave ${typeof value}, not a boolean` }
        return { ok: true, value }
      } catch (err) {
        return { ok: false, why: firstLine(err) }
      }
    },
  })
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.split('\n')[0]!.slice(0, 200)
}
