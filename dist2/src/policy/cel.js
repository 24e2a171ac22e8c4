import { lazyModule } from '../lazy-module.js';
import { LINEAR_MATCHES, linearMatches, re2PatternProblem } from './cel-regex.js';
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
const MAX_SOURCE = 2048;
const celJs = lazyModule('@marcbachmann/cel-js');
let celEnvironment;
/** The CEL environment, made when the first condition is compiled (a policy without conditions never loads CEL). */
function environment() {
    return (celEnvironment ??= new (celJs().Environment)({
        limits: { maxAstNodes: 500, maxDepth: 32, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 8 },
    })
        .registerVariable('request', 'map')
        .registerVariable('workload', 'string')
        .registerVariable('body', 'dyn')
        .registerVariable('mcp', 'dyn')
        // `matches` in linear time (policy/cel-regex.ts): each call is renamed to these.
        .registerFunction(`string.${LINEAR_MATCHES}(string): bool`, linearMatches)
        .registerFunction(`${LINEAR_MATCHES}(string, string): bool`, linearMatches));
}
/**
 * Point every `matches` call of a parsed expression at the linear-time function, and say why a
 * literal pattern is not RE2 syntax. Done on the parsed expression before it is type-checked
 * (which binds each call to its function), so `"matches"` inside a string is left alone.
 */
function useLinearMatches(ast) {
    let problem = null;
    const visit = (n) => {
        if ((n.op === 'rcall' || n.op === 'call') && n.args[0] === 'matches') {
            // rcall: [name, receiver, [pattern]]; call: [name, [text, pattern]].
            const pattern = n.op === 'rcall' ? n.args[2][0] : n.args[1][1];
            if (pattern?.op === 'value' && typeof pattern.args === 'string')
                problem ??= re2PatternProblem(pattern.args);
            n.args[0] = LINEAR_MATCHES;
        }
        for (const child of children(n))
            visit(child);
    };
    visit(ast);
    return problem;
}
/**
 * Compile `source`. Returns the predicate, or a message saying why it is not a valid boolean
 * CEL expression (for a policy problem).
 */
export function compileCel(source, label) {
    if (source.length > MAX_SOURCE)
        return `expression is longer than ${MAX_SOURCE} characters`;
    let run;
    try {
        run = environment().parse(source);
    }
    catch (err) {
        return `not valid CEL: ${firstLine(err)}`;
    }
    const patternProblem = useLinearMatches(run.ast);
    if (patternProblem !== null)
        return patternProblem;
    const checked = run.check();
    if (!checked.valid)
        return `not valid CEL: ${firstLine(checked.error)}`;
    if (checked.type !== 'bool' && checked.type !== 'dyn')
        return `must be a boolean expression, not ${checked.type}`;
    // Read from the parsed expression, not the text: a string such as "mcp.example.com" or a header
    // named "body" is not a use of the variable.
    const usesBody = readsVariable(run.ast, 'body');
    const usesMcp = readsVariable(run.ast, 'mcp');
    return Object.freeze({
        source,
        label,
        usesBody,
        queryReads: queryReadsOf(run.ast),
        headerReads: requestFieldReads(run.ast, 'headers', (name) => name.toLowerCase()),
        argumentReads: fieldNamesRead(run.ast, 'mcp', 'arguments'),
        evaluate(input) {
            if (usesBody && input.body === undefined)
                return { ok: false, why: 'the request body is not JSON' };
            if (usesMcp && input.mcp === undefined)
                return { ok: false, why: 'the request is not an MCP call this condition can read' };
            try {
                const value = run({ request: input.request, workload: input.workload, body: input.body ?? null, mcp: input.mcp ?? null });
                if (typeof value !== 'boolean')
                    return { ok: false, why: `the expression gave ${typeof value}, not a boolean` };
                return { ok: true, value };
            }
            catch (err) {
                return { ok: false, why: firstLine(err) };
            }
        },
    });
}
/** What `ast` reads of `request.query` (see QueryReads). Conservative: anything unrecognised is `any`. */
export function queryReadsOf(ast) {
    return requestFieldReads(ast, 'query');
}
/**
 * What `ast` reads of the map `request.<field>` (`query`, `headers`): the keys it spells out, each
 * through `spell`, or `any`. Conservative: anything unrecognised is `any`.
 */
export function requestFieldReads(ast, field, spell = (name) => name) {
    const names = new Set();
    let any = false;
    const isRequest = (n) => n.op === 'id' && n.args === 'request';
    const literal = (n) => (n.op === 'value' && typeof n.args === 'string' ? n.args : null);
    /** `request.<field>` or `request["<field>"]`. */
    const isField = (n) => ((n.op === '.' || n.op === '.?') && isRequest(n.args[0]) && n.args[1] === field) || ((n.op === '[]' || n.op === '[?]') && isRequest(n.args[0]) && literal(n.args[1]) === field);
    const visit = (n) => {
        if ((n.op === '.' || n.op === '.?') && isField(n.args[0]))
            return void names.add(spell(n.args[1]));
        if ((n.op === '[]' || n.op === '[?]') && isField(n.args[0])) {
            const key = literal(n.args[1]);
            if (key !== null)
                return void names.add(spell(key));
            any = true;
            return visit(n.args[1]);
        }
        if (n.op === 'in' && isField(n.args[1]) && literal(n.args[0]) !== null)
            return void names.add(spell(literal(n.args[0])));
        if (isField(n) || isRequest(n)) {
            any = true;
            return;
        }
        // Another field of `request` reads none of this one.
        if ((n.op === '.' || n.op === '.?') && isRequest(n.args[0]))
            return;
        if ((n.op === '[]' || n.op === '[?]') && isRequest(n.args[0]) && literal(n.args[1]) !== null)
            return;
        for (const child of children(n))
            visit(child);
    };
    visit(ast);
    return any ? 'any' : names;
}
/** Whether `ast` names the variable `name` anywhere. */
function readsVariable(ast, name) {
    return (ast.op === 'id' && ast.args === name) || children(ast).some((c) => readsVariable(c, name));
}
/**
 * The keys of `root.field` (or `root["field"]`) that `ast` reads by a literal name: `.key`,
 * `["key"]`, `.?key`, `has(root.field.key)` and `"key" in root.field`. A key computed at run time
 * is not known here.
 */
export function fieldNamesRead(ast, root, field) {
    const names = new Set();
    const literal = (n) => (n.op === 'value' && typeof n.args === 'string' ? n.args : null);
    const isRoot = (n) => n.op === 'id' && n.args === root;
    const isField = (n) => ((n.op === '.' || n.op === '.?') && isRoot(n.args[0]) && n.args[1] === field) || ((n.op === '[]' || n.op === '[?]') && isRoot(n.args[0]) && literal(n.args[1]) === field);
    const visit = (n) => {
        if ((n.op === '.' || n.op === '.?') && isField(n.args[0]))
            names.add(n.args[1]);
        else if ((n.op === '[]' || n.op === '[?]') && isField(n.args[0]) && literal(n.args[1]) !== null)
            names.add(literal(n.args[1]));
        else if (n.op === 'in' && isField(n.args[1]) && literal(n.args[0]) !== null)
            names.add(literal(n.args[0]));
        for (const child of children(n))
            visit(child);
    };
    visit(ast);
    return names;
}
/** The sub-expressions of a node, whatever its shape. */
function children(n) {
    if (n.op === 'value' || n.op === 'id')
        return [];
    const out = [];
    const collect = (x) => {
        if (Array.isArray(x))
            x.forEach(collect);
        else if (typeof x === 'object' && x !== null && 'op' in x)
            out.push(x);
    };
    collect(n.args);
    return out;
}
function firstLine(err) {
    const message = err instanceof Error ? err.message : String(err);
    // The renamed `matches` (useLinearMatches) is named as the policy author wrote it.
    return message.split('\n')[0].replaceAll(LINEAR_MATCHES, 'matches').slice(0, 200);
}
//# sourceMappingURL=cel.js.map