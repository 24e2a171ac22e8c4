import { readFile, stat } from 'node:fs/promises'

/** How often a file is checked for change (mounted Kubernetes Secrets and tokens rotate in place). */
const FILE_RECHECK_MS = 1000

/**
 * Where a secret's bytes come from: one of sidekey's environment variables or a file. Reading
 * never caches an absent value, so a secret that disappears fails closed on the next use.
 */
export interface SecretSource {
  /** Safe to log: `env OPENAI_API_KEY` or `file /path` (never the value). */
  readonly describe: string
  /** The value; with `oneLine`, CR and LF are removed and the ends trimmed (header-safe). */
  read(oneLine?: boolean): Promise<string>
}

/** A value in sidekey's environment, read on every use. */
export class EnvSource implements SecretSource {
  readonly describe: string

  constructor(readonly envName: string) {
    this.describe = `environment variable ${envName}`
  }

  async read(oneLine = true): Promise<string> {
    const raw = process.env[this.envName] ?? ''
    const value = oneLine ? stripLineBreaks(raw) : raw
    // The agent's copy is a placeholder, so the variable must be set where sidekey itself starts.
    if (value.trim() === '') throw new Error(`${this.describe} is not set in sidekey's environment; set it where sidekey starts (the agent's own copy does not count)`)
    return value
  }
}

/**
 * A file's contents, re-read when its modification time or size changes (checked at most once
 * a second), or on every read with `alwaysReread` (projected tokens, which rotate).
 */
export class FileSource implements SecretSource {
  readonly describe: string
  #cached: { raw: string; mtimeMs: number; size: number } | null = null
  #checkedAt = 0

  constructor(
    readonly path: string,
    private readonly alwaysReread = false,
  ) {
    this.describe = `file ${path}`
  }

  async read(oneLine = true): Promise<string> {
    const now = Date.now()
    if (this.#cached === null || this.alwaysReread || now - this.#checkedAt >= FILE_RECHECK_MS) {
      try {
        const info = await stat(this.path)
        if (this.#cached === null || this.alwaysReread || info.mtimeMs !== this.#cached.mtimeMs || info.size !== this.#cached.size) {
          this.#cached = { raw: await readFile(this.path, 'utf8'), mtimeMs: info.mtimeMs, size: info.size }
        }
        this.#checkedAt = now
      } catch (cause) {
        this.#cached = null
        throw new Error(`cannot read ${this.describe} (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause })
      }
    }
    const value = oneLine ? stripLineBreaks(this.#cached.raw) : this.#cached.raw
    if (value.trim() === '') throw new Error(`${this.describe} is empty`)
    return value
  }
}

/** CR and LF removed, ends trimmed: a trailing newline in a Secret is the commonest broken header. */
export function stripLineBreaks(value: string): string {
  return value.replace(/[\r\n]+/g, '').trim()
}
