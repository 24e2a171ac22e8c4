import { SidekeyError } from '../errors.js'

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
 * A `charset` parameter, quoted or not. Matched anywhere in the field, so in every value of a
 * repeated one (the repeats arrive joined with ","), and every time it is given.
 */
const CHARSET_PARAMETER = /(;\s*charset\s*=\s*)("?)([^";,\s]*)\2/gi

/** The charsets `contentType` declares, lowercased, each as often as it is given. */
function declaredCharsets(contentType: string): string[] {
  return [...contentType.matchAll(CHARSET_PARAMETER)].map((m) => m[3]!.toLowerCase())
}

/**
 * Refuse a response to a scrubbed request whose `Content-Type` declares a charset outside
 * SCRUBBABLE_CHARSETS (one sent twice, with either outside, too). The request went up without
 * `Accept-Charset` (response-guard.ts), so an upstream that answers in one anyway chose to.
 */
export function refuseUnscrubbableCharset(contentType: string): void {
  for (const charset of declaredCharsets(contentType)) {
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
export function wideCharset(contentType: string): WideCharset | null {
  const declared = new Set(declaredCharsets(contentType))
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
