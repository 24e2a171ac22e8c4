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
