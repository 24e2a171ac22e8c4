import { configFrom } from '../config.js'
import { formatProblem, PolicyInvalidError } from '../errors.js'
import { loadPolicyPath } from '../policy/load.js'
import { exactPathComparisons, orderDecidedRoutes, shadowedRoutes } from '../policy/lint.js'
import { permissionWarnings } from '../policy/permissions.js'
import { parse } from './args.js'

/**
 * `sidekey policy check [DIR|FILE ...]`: validate offline; exit 1 listing every problem with file
 * and line. Routes that can never match (shadowed by an earlier one), overlapping routes of
 * different files whose order decides, and a policy with no route at
 * all (sidekey would refuse everything) are warnings, and so are policy files or directories
 * another user could change. Several paths are checked one by one.
 */
export async function policy(argv: string[]): Promise<number> {
  const { positionals } = parse(argv, [])
  if (positionals[0] !== 'check') {
    console.error('usage: sidekey policy check [DIR|FILE ...]')
    return 2
  }
  const paths = positionals.length > 1 ? positionals.slice(1) : [configFrom({}).policyPath]
  let status = 0
  for (const path of paths) status = Math.max(status, await checkOne(path, paths.length > 1))
  return status
}

async function checkOne(path: string, named: boolean): Promise<number> {
  const where = named ? `${path}: ` : ''
  try {
    const loaded = await loadPolicyPath(path)
    const shadowed = shadowedRoutes(loaded)
    for (const { route, by } of shadowed) {
      console.error(`${route.file}:${route.line}: warning: route "${route.name}" is never reached: route "${by.name}" (${by.file}:${by.line}) comes first and matches everything it matches`)
    }
    for (const { first, second } of orderDecidedRoutes(loaded)) {
      // Already said more precisely: the later route is never reached at all.
      if (shadowed.some((s) => s.route === second && s.by === first)) continue
      console.error(`${second.file}:${second.line}: warning: route "${second.name}" overlaps route "${first.name}" (${first.file}:${first.line}) and decides differently; "${first.name}" wins only because its file's name sorts first`)
    }
    for (const { route, expression } of exactPathComparisons(loaded)) {
      console.error(`${route.file}:${route.line}: warning: route "${route.name}" compares request.path to one spelling (${expression}), but its paths admit others ("/x/*" matches "/x/") that servers may read as the same; compare with startsWith() or matches(), or ask for every request`)
    }
    if (loaded.routes.length === 0) console.error(`${where}warning: no routes: sidekey would refuse every request (default deny)`)
    // Checked as the user running this command: run it as sidekey's user for sidekey's view.
    for (const w of await permissionWarnings(path, loaded.files)) console.error(`${w.path}: warning: ${w.message}`)
    console.log(`${where}ok: ${loaded.routes.length} route(s), ${loaded.credentials.size} credential(s) in ${loaded.files.length} file(s)`)
    return 0
  } catch (err) {
    if (!(err instanceof PolicyInvalidError)) throw err
    for (const p of err.problems) console.error(formatProblem(p))
    console.error(`${where}${err.problems.length} problem(s); policy refused`)
    return 1
  }
}
