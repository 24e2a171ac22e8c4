import { parseArgs } from 'node:util';
/**
 * Parse `--name value`, `--name=value` and boolean `--flag`. Unknown flags are an error, so a typo
 * is not silently ignored. `booleans` lists the flags that take no value.
 */
export function parse(argv, strings, booleans = []) {
    const options = {};
    for (const s of strings)
        options[s] = { type: 'string' };
    for (const b of booleans)
        options[b] = { type: 'boolean' };
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { flags: values, positionals };
}
//# sourceMappingURL=args.js.map