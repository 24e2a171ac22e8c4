/**
 * JSON numbers that parsers read differently. sidekey reads JSON with `JSON.parse` (CEL sees
 * doubles), while a server in Go (int64), Python (int) or Java (long, BigDecimal) reads an integer
 * literal exactly: `1234567890123456789` is `...768` to CEL and `...789` to the server, so
 * `mcp.arguments.repo_id != 1234567890123456789` passed the very id it denies, and every id within
 * 128 of an allowed one passed an allow-list (found by a red-team run). `1e999` is Infinity to
 * CEL and an error or a huge value elsewhere. Such numbers are refused wherever a condition or an
 * approver reads the body: an integer beyond 2^53 in magnitude (past which doubles skip integers)
 * or a number that is not finite as a double.
 */

/**
 * Texts that may hold such a number: 16 digits in a row, or any exponent. A one-digit exponent
 * reaches past 2^53 too: `9007199254740.993e3` is 9007199254740993 to a server that reads numbers
 * exactly and ...992 to CEL (found by a red-team run; the filter wanted two exponent digits).
 */
const MAY_HOLD_LARGE = /\d{16}|\d[eE]/

/** The first number literal in the JSON `text` that a double cannot hold exactly (as written), or null. */
export function inexactNumber(text: string): string | null {
  if (!MAY_HOLD_LARGE.test(text)) return null
  let found: string | null = null
  try {
    JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
      if (found === null && typeof value === 'number' && (!Number.isFinite(value) || (Number.isInteger(value) && Math.abs(value) > Number.MAX_SAFE_INTEGER))) found = context?.source ?? String(value)
      return value
    })
  } catch {
    return null
  }
  return found
}
