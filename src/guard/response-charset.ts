import { SidekeyError } from '../errors.js'
import type { ChunkFilter } from '../http/chunk-filter.js'

/**
 * Charsets in which a scrubbed response may come back. The secret forms sidekey searches for
 * (guard/secret-forms.ts) are ASCII bytes; a client that decodes by the declared charset (Python's
 * `requests`, for one) would read an echoed secret in any other encoding that sidekey never
 * matched: EBCDIC (`ibm037`, `cp500`, `cp1140`), UTF-7 (`+` and `=` written otherwise). These keep
 * ASCII as ASCII bytes, or are UTF-16 and UTF-32 (WIDE_CHARSETS), which the response guard
 * re-encodes as UTF-8 before scrubbing (guard/response-transcode.ts).
 */
const SCRUBBABLE_CHARSETS: ReadonlySet<string> = new Set([
  'utf-8', 'utf8', 'us-ascii', 'ascii',
  'utf-16', 'utf-16le', 'utf-16be', 'utf-32', 'utf-32le', 'utf-32be',
  'latin1', 'l1', 'iso-8859-1', 'iso-8859-2', 'iso-8859-3', 'iso-8859-4', 'iso-8859-5', 'iso-8859-6', 'iso-8859-7', 'iso-8859-8', 'iso-8859-9', 'iso-8859-10', 'iso-8859-13', 'iso-8859-14', 'iso-8859-15', 'iso-8859-16',
  'windows-1250', 'windows-1251', 'windows-1252', 'windows-1253', 'windows-1254', 'windows-1255', 'windows-1256', 'windows-1257', 'windows-1258', 'cp1252',
  'koi8-r', 'koi8-u', 'gbk', 'gb2312', 'gb18030', 'big5', 'euc-jp', 'euc-kr', 'shift_jis',
])

/** The scrubbable charsets in which ASCII is not ASCII bytes: a body in one is made UTF-8 first. */
export type WideCharset = 'utf-16' | 'utf-16le' | 'utf-16be' | 'utf-32' | 'utf-32le' | 'utf-32be'

const WIDE_CHARSETS: ReadonlySet<string> = new Set<WideCharset>(['utf-16', 'utf-16le', 'utf-16be', 'utf-32', 'utf-32le', 'utf-32be'])

/**
 * A `charset` parameter, its value quoted or not, and its name too: Python's requests strips `"`
 * and `'` (and spaces) from each end of a parameter's name and value on its own, so it reads
 * `"charset"=utf-16`, and `charset"=utf-7`, as the charset (found by red-team runs: sidekey did
 * not see the charset and passed the body unread). Matched anywhere in
 * the field, so in every value of a repeated one (the repeats arrive joined with ","), and every
 * time it is given.
 */
const CHARSET_PARAMETER = /(;\s*["']?\s*charset\s*["']?\s*=\s*)(["']?)([^"';,\s]*)["']?/gi

/** The charsets `contentType` declares, lowercased, each as often as it is given (a request's too: guard/ambiguity.ts). */
export function declaredCharsets(contentType: string): string[] {
  return [...contentType.matchAll(CHARSET_PARAMETER)].map((m) => m[3]!.toLowerCase())
}

/**
 * Refuse a response to a scrubbed request whose `Content-Type` (its charsets `declared`, read once
 * per response by the caller) declares a charset outside
 * SCRUBBABLE_CHARSETS (one sent twice, with either outside, too). The request went up without
 * `Accept-Charset` (response-guard.ts), so an upstream that answers in one anyway chose to.
 */
export function refuseUnscrubbableCharset(contentType: string, declared: readonly string[] = declaredCharsets(contentType)): void {
  for (const charset of declared) {
    if (!SCRUBBABLE_CHARSETS.has(charset)) {
      throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `the upstream answered in charset "${charset.slice(0, 40)}", in which sidekey cannot find an echoed secret to mask (it reads ASCII-compatible charsets, UTF-16 and UTF-32)`)
    }
  }
}

/**
 * The UTF-16 or UTF-32 charset `contentType` declares, to re-encode the body from; null when it
 * declares none. Declared twice, and either time a wide one, the two must agree: sidekey would
 * read the body in one of them and the agent's client may pick the other (a wide one read as
 * ASCII, or UTF-16 read as UTF-32), so a disagreement is refused with
 * SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE rather than guessed.
 */
export function wideCharset(contentType: string, charsets: readonly string[] = declaredCharsets(contentType)): WideCharset | null {
  const declared = new Set(charsets)
  const wide = [...declared].find((c) => WIDE_CHARSETS.has(c))
  if (wide === undefined) return null
  if (declared.size > 1) {
    const [a, b] = [...declared]
    throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `the upstream declared two charsets for one answer, "${a!.slice(0, 40)}" and "${b!.slice(0, 40)}": sidekey cannot know which one the agent's client reads the body in, so it cannot scrub it for echoed secrets`)
  }
  return wide as WideCharset
}

/**
 * `value` (a Content-Type, or its repeats) with every `charset` parameter saying `utf-8`: what a
 * body re-encoded from UTF-16 or UTF-32 is in when it reaches the agent.
 */
export function withUtf8Charset(value: string | string[]): string | string[] {
  const rewrite = (v: string): string => v.replace(CHARSET_PARAMETER, '$1utf-8')
  return Array.isArray(value) ? value.map(rewrite) : rewrite(value)
}

/** Whether a response of `contentType` is text a client may decode by guessing its charset: JSON, XML, `text/*`, or undeclared. */
function textual(contentType: string): boolean {
  const type = contentType.split(/[;,]/)[0]!.trim().toLowerCase()
  return type === '' || type.startsWith('text/') || /[/+](json|xml)$/.test(type)
}

/**
 * Whether the first four bytes of a body are UTF-16 or UTF-32 as clients guess it without a
 * declared charset: a byte order mark, or the NUL pattern of ASCII text (RFC 4627 section 3, which
 * Python's requests applies to `.json()`).
 */
function looksWide(head: Uint8Array): boolean {
  const [a, b, c, d] = head
  if ((a === 0xff && b === 0xfe) || (a === 0xfe && b === 0xff)) return true
  if (a === 0 && b === 0 && c === 0xfe && d === 0xff) return true
  const zero = [a === 0, b === 0, c === 0, d === 0]
  const pattern = zero.map((z) => (z ? '0' : 'x')).join('')
  return pattern === '000x' || pattern === '0x0x' || pattern === 'x000' || pattern === 'x0x0'
}

/**
 * For a scrubbed text response that declares no charset: a filter that cuts the body when its
 * first bytes say UTF-16 or UTF-32 (a byte order mark, or NULs between ASCII letters), or null for
 * a response it does not apply to. A client that guesses the charset (Python's requests does for
 * JSON, by RFC 4627's pattern, and for text by its byte order mark) reads such a body wide, while
 * sidekey, told nothing, scrubs it as bytes: only the secret as is and JSON-escaped are searched
 * wide (guard/secret-forms.ts), and a Basic credential's base64 or an escaped form passed (found
 * by a red-team run). Declared, the body would be re-encoded (guard/response-transcode.ts);
 * undeclared, its length may already be promised, so it is cut before anything of it past the
 * first four bytes is sent. Nothing is held back: the decision is made on bytes that pass anyway.
 */
export function undeclaredWideGuard(contentType: string, declared: readonly string[] = declaredCharsets(contentType)): ChunkFilter | null {
  if (declared.length > 0 || !textual(contentType)) return null
  const head: number[] = []
  return {
    push(chunk) {
      if (head.length >= 4) return chunk
      for (let i = 0; i < chunk.length && head.length < 4; i++) head.push(chunk[i]!)
      if (head.length === 4 && looksWide(Uint8Array.from(head))) {
        throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', 'the upstream answered in UTF-16 or UTF-32 (a byte order mark, or NUL bytes between its first letters) without declaring a charset: a client may read it so, where sidekey would scrub it as bytes, so the response was cut. Answer in UTF-8, or declare the charset')
      }
      return chunk
    },
    end: () => null,
  }
}
