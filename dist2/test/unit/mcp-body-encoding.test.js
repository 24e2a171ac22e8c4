import t from 'tap';
import { SidekeyError } from '../../src/errors.js';
import { argumentsRead, checkArgumentKeys } from '../../src/mcp/argument-keys.js';
import { checkBodyEncoding } from '../../src/mcp/body-encoding.js';
import { compileCel } from '../../src/policy/cel.js';
// What an MCP POST may declare about its bytes (one Content-Type, UTF-8 only, no content coding),
// and which tool argument keys are refused for the names a condition reads.
const refusedBy = (f) => {
    try {
        f();
        return null;
    }
    catch (err) {
        if (!(err instanceof SidekeyError))
            throw err;
        return err.code;
    }
};
t.test('checkBodyEncoding', async (t) => {
    const table = [
        ['plain JSON', ['Content-Type', 'application/json'], true],
        ['UTF-8, any case, quoted', ['content-type', 'application/json; Charset="UTF-8"'], true],
        ['no Content-Type', [], true],
        ['Content-Encoding: identity', ['Content-Type', 'application/json', 'Content-Encoding', 'identity'], true],
        ['UTF-7', ['Content-Type', 'application/json; charset=utf-7'], false],
        ['UTF-16', ['Content-Type', 'application/json;charset=utf-16le'], false],
        ['latin1', ['Content-Type', 'application/json; charset=iso-8859-1'], false],
        ['UTF-8 then UTF-7', ['Content-Type', 'application/json; charset=utf-8; charset=utf-7'], false],
        ['a charset hidden in another parameter', ['Content-Type', 'application/json; x="a;charset=utf-7"'], false],
        ['RFC 2231 charset*', ["Content-Type", "application/json; charset*=utf-7''"], false],
        ['two Content-Type headers', ['Content-Type', 'application/json', 'content-type', 'application/json'], false],
        ['gzip', ['Content-Encoding', 'gzip'], false],
        ['identity, gzip', ['Content-Encoding', 'identity, gzip'], false],
    ];
    for (const [what, headers, ok] of table)
        t.equal(refusedBy(() => checkBodyEncoding(headers)), ok ? null : 'SIDEKEY_ERR_MCP_INVALID', what);
});
t.test('argument keys a condition reads', async (t) => {
    const cel = (source) => {
        const p = compileCel(source, 'test');
        if (typeof p === 'string')
            throw new Error(p);
        return p;
    };
    const read = argumentsRead({ conditions: { cel: [cel('!has(mcp.arguments.force)'), cel('mcp.arguments["repoName"] != "x"')] }, approval: { when: cel('has(mcp.arguments.dryRun) && mcp.arguments.dryRun == false') } }, null);
    t.same([...read.values()].sort(), ['dryRun', 'force', 'repoName']);
    const table = [
        ['as written', { force: true, repoName: 'a', dryRun: false }, true],
        ['another name', { forced: true }, true],
        ['not an object', ['Force'], true],
        ['Force', { Force: true }, false],
        ['REPONAME', { REPONAME: 'x' }, false],
        ['dryrun', { dryrun: true }, false],
    ];
    for (const [what, args, ok] of table)
        t.equal(refusedBy(() => checkArgumentKeys(args, read)), ok ? null : 'SIDEKEY_ERR_MCP_INVALID', what);
});
//# sourceMappingURL=mcp-body-encoding.test.js.map