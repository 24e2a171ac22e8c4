import { DEFAULTS } from '../config.js'
import { formatProblem, PolicyInvalidError } from '../errors.js'
import { loadPolicyPath } from '../policy/load.js'
import { parse } from './args.js'

/** `sidekey policy check [DIR]`: validate offline; exit 1 listing every problem with file and line. */
export async function policy(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, [])
  if (positionals[0] !== 'check') {
    console.error('usage: sidekey policy check [DIR|FILE]')
    return 2
  }
  const path = positionals[1] ?? process.env.SIDEKEY_POLICIES ?? DEFAULTS.policyPath
  try {
    const loaded = await loadPolicyPath(path)
    console.log(`ok: ${loaded.routes.length} route(s), ${loaded.credentials.size} credential(s) in ${loaded.files.length} file(s)`)
    return 0
  } catch (err) {
    if (!(err instanceof PolicyInvalidError)) throw err
    for (const p of err.problems) console.error(formatProblem(p))
    console.error(`${err.problems.length} problem(s); policy refused`)
    return 1
  }
}
