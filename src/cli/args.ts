import { parseArgs } from 'node:util'

/** Parsed flags (long names without dashes) and positional arguments. */
export interface Args {
  flags: Record<string, string | boolean | undefined>
  positionals: string[]
}

/**
 * Parse `--name value`, `--name=value` and boolean `--flag`. Unknown flags are an error, so a typo
 * is not silently ignored. `booleans` lists the flags that take no value.
 */
export function parse(argv: string[], strings: readonly string[], booleans: readonly string[] = []): Args {
  const options: Record<string, { type: 'string' | 'boolean' }> = {}
  for (const s of strings) options[s] = { type: 'string' }
  for (const b of booleans) options[b] = { type: 'boolean' }
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  return { flags: values as Args['flags'], positionals }
}
