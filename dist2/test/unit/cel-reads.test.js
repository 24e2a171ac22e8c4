import t from 'tap';
import { compileCel } from '../../src/policy/cel.js';
// What a compiled CEL condition reads is read from the parsed expression, not its text: a string
// or a header named like a variable is no use of it (else a condition on a non-MCP route would be
// undecidable), and every literal way of reading a tool argument is seen (else a differently
// cased argument key would slip past src/mcp/argument-keys.ts).
const compiled = (source) => {
    const p = compileCel(source, 'test');
    if (typeof p === 'string')
        throw new Error(p);
    return p;
};
t.test('variables used, not names in strings or header keys', async (t) => {
    const table = [
        ['request.host == "mcp.example.com"', false, false],
        ['request.headers["mcp-session-id"] != ""', false, false],
        ['request.headers["body"] == "x"', false, false],
        ['body.amount > 10', true, false],
        ['has(mcp.arguments.force)', false, true],
        ['mcp.tool == "x" && body.a == 1', true, true],
    ];
    for (const [source, usesBody, usesMcp] of table) {
        const p = compiled(source);
        t.equal(p.usesBody, usesBody, `${source}: body`);
        t.equal(p.evaluate({ request: { method: 'GET', host: 'h', port: 443, path: '/', query: {}, headers: { 'mcp-session-id': 's', body: 'x' } }, workload: 'w', body: undefined }).ok, !usesBody && !usesMcp, `${source}: decidable without body and MCP facts exactly when it uses neither`);
    }
});
t.test('the argument names a condition reads by a literal name', async (t) => {
    const table = [
        ['!has(mcp.arguments.force)', ['force']],
        ['mcp.arguments["force"] == true', ['force']],
        ['"force" in mcp.arguments', ['force']],
        ['mcp["arguments"]["force"] == true', ['force']],
        ['mcp.arguments.repo.startsWith("acme/") && !("force" in mcp.arguments)', ['repo', 'force']],
        ['mcp.tool == "arguments"', []],
    ];
    for (const [source, names] of table)
        t.same([...compiled(source).argumentReads].sort(), names.sort(), source);
});
//# sourceMappingURL=cel-reads.test.js.map