import { Transform } from 'node:stream'
import { SidekeyError } from '../errors.js'

/** Secrets shorter than this are not scanned for (too many false matches, too little to steal). */
const MIN_SECRET_LENGTH = 8

/** Bound on remembered secrets (tokens rotate; the oldest are forgotten first). */
const MAX_SECRETS = 1000

/**
 * Outbound secret detection. sidekey holds the secrets; an agent that sends one (in the URL, a
 * header or the body) learned it somewhere it should not have and is, most likely, exfiltrating
 * it. The scanner remembers every secret sidekey reads or obtains, in the forms an agent would use
 * to smuggle it (as is, URL-encoded, base64, base64url), and checks the agent's own request before
 * anything is injected.
 */
export class SecretScanner {
  /** Secret value -> the needles (forms) it is searched as. Insertion order is age. */
  readonly #secrets = new Map<string, Buffer[]>()
  #needles: Buffer[] = []
  /** The same needles as strings, for URL and header checks (built once, not per request). */
  #texts: string[] = []
  #longest = 0

  /** Remember a secret (idempotent). */
  add(secret: string): void {
    if (secret.length < MIN_SECRET_LENGTH) return
    if (this.#secrets.has(secret)) return
    const forms = new Set([secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')])
    this.#secrets.set(secret, [...forms].map((f) => Buffer.from(f)))
    if (this.#secrets.size > MAX_SECRETS) this.#secrets.delete(this.#secrets.keys().next().value as string)
    this.#needles = [...this.#secrets.values()].flat()
    this.#texts = this.#needles.map((n) => n.toString())
    this.#longest = Math.max(0, ...this.#needles.map((n) => n.length))
  }

  get size(): number {
    return this.#secrets.size
  }

  /** Every form of every known secret, plus `extra` forms (e.g. a Basic credential as sent). */
  needles(extra: readonly string[] = []): Buffer[] {
    // The common case (no extra form) shares the array built when a secret was added.
    if (extra.length === 0) return this.#needles
    return [...this.#needles, ...extra.filter((e) => e.length >= MIN_SECRET_LENGTH).map((e) => Buffer.from(e))]
  }

  /** True when `text` holds any known secret in any of its forms. */
  foundIn(text: string): boolean {
    if (this.#needles.length === 0 || text.length < MIN_SECRET_LENGTH) return false
    for (const needle of this.#texts) if (text.includes(needle)) return true
    return false
  }

  /** True when a buffered body holds any known secret in any of its forms. */
  foundInBuffer(body: Buffer): boolean {
    for (const needle of this.#needles) if (body.includes(needle)) return true
    return false
  }

  /** True when any header value (or the URL) holds a known secret. */
  foundInRequest(path: string, rawHeaders: readonly string[]): boolean {
    if (this.#needles.length === 0) return false
    if (this.foundIn(safeDecode(path))) return true
    for (let i = 0; i < rawHeaders.length; i += 2) {
      if (rawHeaders[i]!.toLowerCase() === 'proxy-authorization') continue
      if (this.foundIn(rawHeaders[i + 1]!)) return true
    }
    return false
  }

  /**
   * A pass-through for the request body that fails with SIDEKEY_ERR_SECRET_DETECTED when a known
   * secret goes by. It holds back the last (longest needle - 1) bytes of each chunk until the next
   * one arrives, so a secret split across chunks is caught before any part of it is forwarded.
   */
  bodyFilter(): Transform {
    const needles = this.#needles
    const keep = Math.max(0, this.#longest - 1)
    let held: Buffer = Buffer.alloc(0)
    return new Transform({
      transform(chunk: Buffer, _enc, done) {
        const window = held.length === 0 ? chunk : Buffer.concat([held, chunk])
        if (needles.some((n) => window.includes(n))) {
          done(detected())
          return
        }
        const cut = Math.max(0, window.length - keep)
        held = window.subarray(cut)
        done(null, cut > 0 ? window.subarray(0, cut) : undefined)
      },
      flush(done) {
        done(null, held.length > 0 ? held : undefined)
      },
    })
  }
}

/** Replace each occurrence of a needle in `text` with a mask of the same length. */
export function maskIn(text: string, needles: readonly string[]): string {
  let out = text
  for (const n of needles) if (out.includes(n)) out = out.split(n).join(mask(n.length))
  return out
}

/** `[redacted]` padded with `*` (or cut) to `length`, so Content-Length stays true. */
function mask(length: number): string {
  return '[redacted]'.padEnd(length, '*').slice(0, length)
}

/** A synchronous filter over a body's chunks: what to pass on now, and what is left at the end. */
export interface ChunkFilter {
  push(chunk: Buffer): Buffer | null
  /** Throws (a SidekeyError) when the body as a whole is refused. */
  end(): Buffer | null
}

/**
 * A streaming scrubber: replaces every needle in the bytes passing through with a same-length
 * mask. At the end of each chunk it holds back only a tail that could be the start of a needle
 * (so a secret split across chunks is still caught) and passes everything else on at once, so
 * server-sent events are not delayed. Synchronous, so the common path needs no stream machinery.
 */
export function scrubFilter(needles: readonly Buffer[], onScrub: () => void = () => undefined): ChunkFilter {
  const masks = needles.map((n) => Buffer.from(mask(n.length)))
  const firsts = new Set(needles.map((n) => n[0]!))
  const longest = Math.max(0, ...needles.map((n) => n.length))
  let held: Buffer | null = null
  const scrub = (window: Buffer): Buffer => {
    let out: Buffer | null = null
    for (let i = 0; i < needles.length; i++) {
      const needle = needles[i]!
      let at = (out ?? window).indexOf(needle)
      while (at >= 0) {
        out ??= Buffer.from(window)
        masks[i]!.copy(out, at)
        onScrub()
        at = out.indexOf(needle, at + needle.length)
      }
    }
    return out ?? window
  }
  /** Where the tail that might begin a needle starts (window.length when none can). */
  const partialStart = (window: Buffer): number => {
    for (let p = Math.max(0, window.length - longest + 1); p < window.length; p++) {
      if (!firsts.has(window[p]!)) continue
      const tail = window.subarray(p)
      if (needles.some((n) => n.length > tail.length && n.subarray(0, tail.length).equals(tail))) return p
    }
    return window.length
  }
  return {
    push(chunk) {
      const window = scrub(held === null ? chunk : Buffer.concat([held, chunk]))
      const cut = partialStart(window)
      held = cut < window.length ? Buffer.from(window.subarray(cut)) : null
      return cut > 0 ? window.subarray(0, cut) : null
    },
    end() {
      const rest = held
      held = null
      return rest
    },
  }
}

/** A ChunkFilter as a Transform (for bodies that pass through decoders first). */
export function filterStream(filter: ChunkFilter): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      done(null, filter.push(chunk) ?? undefined)
    },
    flush(done) {
      try {
        done(null, filter.end() ?? undefined)
      } catch (err) {
        done(err as Error)
      }
    },
  })
}

/** The refusal for a request that carries a managed secret. */
export function detected(): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_SECRET_DETECTED', 'the request carries a secret that sidekey manages; it was refused and reported')
}

function safeDecode(s: string): string {
  try {
    return `${s}\n${decodeURIComponent(s)}`
  } catch {
    return s
  }
}
