import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { SandboxError } from './errors.js'
import type { PrivatePaths } from './private-paths.js'

/**
 * Host directories the sandbox replaces with an empty tmpfs of its own. They hold the Unix sockets
 * that would lead out of the network namespace (X11, tmux, ssh-agent, D-Bus, `systemd --user`,
 * Docker) and are writable by everyone, so sharing them would also let the agent leave files for
 * processes outside. `/var/run` is usually a symlink to `/run`; `/dev` is replaced by `--dev`.
 */
const PRIVATE_DIRS = ['/tmp', '/var/tmp', '/run', '/var/run']

/** Where the directory holding sidekey's proxy socket appears inside the sandbox. */
export const SOCKET_DIR_INSIDE = '/run/sidekey'

/** What the mount namespace is built from. */
export interface MountPlan {
  /** sidekey's private paths (what to hide, what to show back). */
  readonly paths: PrivatePaths
  /** The agent's working directory: the one host directory it may write to. */
  readonly cwd: string
  /** Host directory holding sidekey's proxy socket (bound read-only at SOCKET_DIR_INSIDE). */
  readonly socketDir: string
  /** Files and directories the agent needs to start (Node, sidekey's launcher and preload): bound
   * read-only when they are in a private temporary directory; refused when sidekey hides them. */
  readonly needed: readonly string[]
  /**
   * What sidekey runs from: its compiled files, every `node_modules` its modules are looked up in,
   * its package.json, the Node binary. With what it trusts or writes through (`paths.protect`),
   * bound read-only over the working directory where they lie in it: otherwise the agent could
   * rewrite a module sidekey loads on first use, in this run, or what the next `sidekey` started
   * from there runs.
   */
  readonly protect: readonly string[]
  /**
   * Directories shared read-only whole, the working directory too when it lies in one: sidekey's
   * own root. In a checkout, everything there is input to what runs next (`npm start` compiles
   * `src/` with `tsconfig.json`, `npm test` runs `scripts/`, npm reads `.npmrc`), so protecting the
   * compiled code alone left the agent free to rewrite the sources the next start builds (found by
   * a red-team run: an edit to `src/cli/main.ts` ran inside the next `npm start`, with the keys).
   */
  readonly readOnlyRoots?: readonly string[]
}

/** `child` is `parent` or lies under it. */
export function within(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent === '/' ? '/' : `${parent}/`)
}

/**
 * bubblewrap's mount arguments: the host read-only, fresh /dev, /proc (of the sandbox's own PID
 * namespace) and private temporary directories, the working directory writable except sidekey's
 * code and what it trusts (read-only; all of it when it lies in sidekey's root, `readOnlyRoots`), then every private path masked (a directory by an empty read-only tmpfs, a file by an unreadable node) with
 * the public CA files bound back read-only. Throws SandboxError where the agent could get round
 * a mask: a working directory inside a hidden path, or a symlink to a hidden path that the agent
 * could point elsewhere.
 */
export function mountArgs(plan: MountPlan): string[] {
  const cwd = realpathSync(plan.cwd)
  const privateDirs = PRIVATE_DIRS.filter((d) => existsSync(d) && !lstatSync(d).isSymbolicLink() && lstatSync(d).isDirectory())
  if (cwd === '/' || privateDirs.includes(cwd)) {
    throw new SandboxError(`the agent's working directory would be ${cwd}, which the sandbox does not share writable; run the agent from a directory of its own (a project directory)`)
  }

  const masks = new Map<string, 'dir' | 'file'>()
  for (const configured of plan.paths.hide) {
    const link = symlinkInWritable(configured, cwd)
    if (link !== null) {
      throw new SandboxError(`${configured} goes through the symlink ${link} inside the agent's working directory, which the agent could point elsewhere; give sidekey the real path, or run the agent from another directory`)
    }
    const real = realOrNull(configured)
    if (real === null) continue // nothing there to hide
    if (within(cwd, real)) {
      throw new SandboxError(`the agent's working directory ${cwd} is inside ${real}, which sidekey keeps from the agent; run the agent from another directory`)
    }
    masks.set(real, statSync(real).isDirectory() ? 'dir' : 'file')
  }
  collapseIntoDirectories(masks, cwd, privateDirs)

  const inMaskedDir = (p: string): string | undefined => [...masks].find(([m, kind]) => kind === 'dir' && m !== p && within(p, m))?.[0]
  // What the agent needs to start, from a private temporary directory, is bound back read-only.
  // Bound before the masks, so a needed directory that holds a private path (sidekey run from its
  // own checkout, `certs/` beside `dist/`) is masked on top.
  const needed: string[] = []
  for (const p of plan.needed) {
    const real = realOrNull(p)
    if (real === null) continue
    const masked = inMaskedDir(real) ?? (masks.has(real) ? real : undefined)
    if (masked !== undefined) throw new SandboxError(`${real}, which the agent needs to start, is inside ${masked}, which sidekey keeps from the agent`)
    if (privateDirs.some((d) => within(real, d)) && !within(real, cwd)) needed.push(real)
  }
  // sidekey's code and what it trusts, where the agent could write them: read-only. A working
  // directory that is one of them (or inside one) cannot be shared writable at all.
  const readOnly = new Set<string>()
  for (const p of [...plan.protect, ...plan.paths.protect]) {
    const real = realOrNull(p)
    if (real === null) {
      // Not there, so nothing to bind read-only: in the working directory the agent could create
      // it, and what sidekey runs would load from it (a `node_modules` above sidekey's, where Node
      // looks for a module sidekey's lack, `ws`'s optional `bufferutil`; found by a red-team run:
      // the next `npm test` ran the agent's code outside the sandbox).
      const parent = realOrNull(dirname(p))
      const where = parent === null ? null : join(parent, basename(p))
      if (where !== null && within(where, cwd) && plan.protect.includes(p)) {
        throw new SandboxError(`${where} does not exist, and the agent could create it in its working directory ${cwd}: sidekey looks up its modules there. Run the agent from a directory that does not contain sidekey's (${dirname(where)}), or create ${where} as an empty directory first`)
      }
      continue
    }
    if (within(cwd, real)) {
      throw new SandboxError(`the agent's working directory ${cwd} ${real === cwd ? 'is' : 'is inside'} ${real}, which sidekey runs or trusts and the agent must not change; run the agent from another directory`)
    }
    if (within(real, cwd) && !masks.has(real) && inMaskedDir(real) === undefined) readOnly.add(real)
  }
  // In a private tmpfs and not bound back: the agent never sees it.
  const unseen = (p: string): boolean => privateDirs.some((d) => within(p, d)) && ![cwd, ...needed].some((v) => within(p, v))
  // Hidden in a hidden directory, or never seen: no mask of its own.
  const effective = [...masks].filter(([p]) => inMaskedDir(p) === undefined && !unseen(p)).sort(([a], [b]) => a.localeCompare(b))

  // sidekey's root: read-only whole, and the working directory with it when it lies there.
  const roots = (plan.readOnlyRoots ?? []).map(realOrNull).filter((r): r is string => r !== null)
  const cwdReadOnly = roots.some((r) => within(cwd, r))
  for (const r of roots) if (within(r, cwd) && r !== cwd) readOnly.add(r)

  const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc']
  for (const d of privateDirs) args.push('--tmpfs', d)
  for (const p of needed) args.push('--ro-bind', p, p)
  args.push(cwdReadOnly ? '--ro-bind' : '--bind', cwd, cwd)
  // A directory that is a mount point cannot be renamed or removed (EBUSY). Without this the agent
  // could rename `a` in `a/policies` and create its own `a/policies` for sidekey's next reload
  // (or its own `a/node_modules` for sidekey's next start). A read-only working directory needs
  // none (a bind here would make the directory writable again).
  if (!cwdReadOnly) for (const dir of pinnedDirectories([...effective.map(([p]) => p), ...readOnly], cwd)) args.push('--bind', dir, dir)
  for (const p of [...readOnly].sort()) args.push('--ro-bind', p, p)
  for (const [path, kind] of effective) args.push(...(kind === 'dir' ? ['--tmpfs', path] : ['--ro-bind', '/dev/null', path]))
  // The public CA files, bound back read-only into the masked certs directory.
  for (const p of new Set(plan.paths.show.map(realOrNull))) {
    if (p !== null && (inMaskedDir(p) !== undefined || unseen(p))) args.push('--ro-bind', p, p)
  }
  for (const [path, kind] of effective) if (kind === 'dir') args.push('--remount-ro', path)
  args.push('--ro-bind', plan.socketDir, SOCKET_DIR_INSIDE, '--chdir', cwd)
  return args
}

/**
 * A file is masked by a mount on its name, and a mount on a name that is replaced from outside
 * (an editor's save, a rotation by rename) is dropped by the kernel: the new file would show.
 * A directory whose entries are all hidden anyway is masked whole instead, which a rename inside
 * it does not undo. The working directory, its ancestors and the private directories stay.
 */
function collapseIntoDirectories(masks: Map<string, 'dir' | 'file'>, cwd: string, privateDirs: readonly string[]): void {
  for (const [path, kind] of [...masks]) {
    if (kind !== 'file') continue
    const dir = dirname(path)
    if (masks.has(dir) || within(cwd, dir) || privateDirs.includes(dir)) continue
    let entries: string[]
    try {
      entries = readdirSync(dir)
    } catch {
      continue
    }
    if (entries.every((e) => masks.has(realOrNull(join(dir, e)) ?? join(dir, e)))) masks.set(dir, 'dir')
  }
}

/** Every directory strictly between the working directory and a masked path under it. */
function pinnedDirectories(masked: readonly string[], cwd: string): string[] {
  const pins = new Set<string>()
  for (const path of masked) {
    if (!within(path, cwd) || path === cwd) continue
    for (let dir = dirname(path); dir !== cwd && within(dir, cwd); dir = dirname(dir)) pins.add(dir)
  }
  return [...pins].sort()
}

/**
 * The first symlink on `path` that sits in a directory the agent can write to (`writable`), or
 * null. The agent could replace such a link and have sidekey read its files on the next reload.
 */
function symlinkInWritable(path: string, writable: string): string | null {
  let prefix = ''
  for (const part of path.split('/').filter(Boolean)) {
    prefix = `${prefix}/${part}`
    let isLink: boolean
    try {
      isLink = lstatSync(prefix).isSymbolicLink()
    } catch {
      return null
    }
    if (isLink && within(realpathSync(dirname(prefix)), writable)) return prefix
  }
  return null
}

function realOrNull(path: string): string | null {
  try {
    return realpathSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new SandboxError(`cannot inspect ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}
