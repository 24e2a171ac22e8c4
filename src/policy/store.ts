import { watch, type FSWatcher } from 'node:fs'
import type { Logger } from 'pino'
import { PolicyInvalidError, formatProblem } from '../errors.js'
import { loadPolicyPath } from './load.js'
import type { Policy } from './types.js'
import type { CredentialRuntime } from '../credentials/runtime.js'

/** How long file events are gathered before a reload (editors write a file in several steps). */
const RELOAD_DEBOUNCE_MS = 150

/**
 * Holds the policy in force. A reload validates the new set completely and only then swaps the
 * reference, so a request always sees one whole policy, never a mix; a broken file keeps the old
 * policy running and logs every problem.
 */
export class PolicyStore {
  #current: Policy
  #watcher: FSWatcher | null = null
  #timer: NodeJS.Timeout | null = null
  #reloading: Promise<boolean> | null = null
  readonly #listeners: (() => void)[] = []

  private constructor(
    readonly path: string,
    initial: Policy,
    private readonly log: Logger,
    private readonly runtime: CredentialRuntime | undefined,
  ) {
    this.#current = initial
  }

  /** Load the policy at `path` (throws PolicyInvalidError when it is broken). */
  static async open(path: string, log: Logger, runtime?: CredentialRuntime): Promise<PolicyStore> {
    return new PolicyStore(path, await loadPolicyPath(path, runtime), log, runtime)
  }

  /** The policy in force now. Read it once per request and keep the reference. */
  get current(): Policy {
    return this.#current
  }

  /** Reload from disk. Resolves true when the new policy is in force, false when it was refused. */
  reload(): Promise<boolean> {
    // One reload at a time; a request for another while one runs joins it.
    this.#reloading ??= this.#doReload().finally(() => {
      this.#reloading = null
    })
    return this.#reloading
  }

  async #doReload(): Promise<boolean> {
    try {
      const next = await loadPolicyPath(this.path, this.runtime)
      this.#current = next
      for (const listener of this.#listeners) listener()
      this.log.info({ event: 'policy_reloaded', routes: next.routes.length, files: next.files.length }, 'policy reloaded')
      return true
    } catch (e) {
      const problems = e instanceof PolicyInvalidError ? e.problems.map(formatProblem) : [String(e)]
      this.log.error({ event: 'policy_reload_refused', problems }, 'policy reload refused; the previous policy stays in force')
      return false
    }
  }

  /** Call `listener` after every reload that put a new policy in force. */
  onReload(listener: () => void): void {
    this.#listeners.push(listener)
  }

  /** Reload when a file under the policy path changes. */
  watch(): void {
    if (this.#watcher !== null) return
    try {
      this.#watcher = watch(this.path, { persistent: false }, () => {
        if (this.#timer !== null) clearTimeout(this.#timer)
        this.#timer = setTimeout(() => {
          this.#timer = null
          void this.reload()
        }, RELOAD_DEBOUNCE_MS)
        this.#timer.unref()
      })
      this.#watcher.on('error', (err) => this.log.warn({ event: 'policy_watch_error', err: err.message }, 'policy watch failed; SIGHUP still reloads'))
    } catch (err) {
      this.log.warn({ event: 'policy_watch_error', err: (err as Error).message }, 'cannot watch the policy path; SIGHUP still reloads')
    }
  }

  close(): void {
    this.#watcher?.close()
    this.#watcher = null
    if (this.#timer !== null) clearTimeout(this.#timer)
  }
}
