/**
 * Find the JSON object keys that parsers disagree on. `JSON.parse` (and so CEL's `body`) keeps the
 * last of two equal keys; some parsers keep the first or refuse; Go's `encoding/json` matches a
 * struct field's name case-insensitively (Unicode simple case folding, so `AMOUNT`, `amount` and
 * even `ſ`/`s` or `K` (Kelvin sign)/`k` name one field) and keeps the last. RFC 8259 section 4 says
 * names SHOULD be unique and that receivers then behave unpredictably: a body a condition checked
 * must mean one thing to every parser, so any such pair is found here and the request refused.
 *
 * A `__proto__` key is found too: `JSON.parse` keeps it as an ordinary key, but a JavaScript server
 * that copies the object (`Object.assign`, most deep merges) sets the copy's prototype from it,
 * and then reads the fields under it as the object's own (found by a red-team run:
 * `"arguments":{"__proto__":{"force":true}}` passed a condition `!has(mcp.arguments.force)`).
 *
 * `JSON.parse` hides duplicates, so this walks the text itself. It runs only on text JSON.parse
 * already accepted, so it tracks structure and keys and need not validate anything.
 */

/** Two keys of one object that a parser could take for the same name. */
export interface AmbiguousKeys {
  /** Where the object is, `body`, `body.order`, `body.items[2]`, ... */
  readonly at: string
  readonly first: string
  readonly second: string
  /** `duplicate`: the very same key twice; `case`: equal only once letter case is folded; `prototype`: a `__proto__` key (`first` and `second` are it). */
  readonly kind: 'duplicate' | 'case' | 'prototype'
}

interface ObjectFrame {
  readonly kind: 'object'
  readonly path: string
  /** Folded key -> the key as written (first occurrence). */
  readonly seen: Map<string, string>
  key: string | null
}
interface ArrayFrame {
  readonly kind: 'array'
  readonly path: string
  index: number
}

/** The first pair of ambiguous keys in `text` (valid JSON), or null when every key is distinct. */
export function findAmbiguousKeys(text: string): AmbiguousKeys | null {
  const stack: (ObjectFrame | ArrayFrame)[] = []
  // In an object, a string is a key when it follows `{` or `,`.
  let expectKey = false
  const valuePath = (): string => {
    const top = stack.at(-1)
    if (top === undefined) return 'body'
    return top.kind === 'array' ? `${top.path}[${top.index}]` : `${top.path}${member(top.key ?? '')}`
  }
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    switch (c) {
      case 0x7b: // {
        stack.push({ kind: 'object', path: valuePath(), seen: new Map(), key: null })
        expectKey = true
        break
      case 0x5b: // [
        stack.push({ kind: 'array', path: valuePath(), index: 0 })
        break
      case 0x7d: // }
      case 0x5d: // ]
        stack.pop()
        expectKey = false
        break
      case 0x2c: {
        // ,
        const top = stack.at(-1)
        if (top?.kind === 'array') top.index++
        else expectKey = true
        break
      }
      case 0x22: {
        // "
        const end = stringEnd(text, i)
        if (expectKey) {
          const top = stack.at(-1) as ObjectFrame
          const raw = text.slice(i + 1, end)
          const key = raw.includes('\\') ? (JSON.parse(text.slice(i, end + 1)) as string) : raw
          if (key === '__proto__') return { at: top.path, first: key, second: key, kind: 'prototype' }
          const folded = foldKey(key)
          const earlier = top.seen.get(folded)
          if (earlier !== undefined) return { at: top.path, first: earlier, second: key, kind: earlier === key ? 'duplicate' : 'case' }
          top.seen.set(folded, key)
          top.key = key
          expectKey = false
        }
        i = end
        break
      }
      default:
        // `:`, white space, numbers, true, false, null: nothing to track.
        break
    }
  }
  return null
}

/** Index of the closing quote of the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1
  for (;;) {
    const q = text.indexOf('"', i)
    if (q < 0) return text.length - 1
    let slashes = 0
    for (let j = q - 1; j > start && text.charCodeAt(j) === 0x5c; j--) slashes++
    if (slashes % 2 === 0) return q
    i = q + 1
  }
}

// Lone UTF-16 surrogates (from `\ud800` escapes): Go decodes each to U+FFFD, so two keys that
// differ only in which lone surrogate they carry are one key to it.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/**
 * A key with letter case folded, so keys that Go's encoding/json matches to one field name (it
 * compares them under Unicode simple case folding) fold to the same string.
 */
export function foldKey(key: string): string {
  // The common case: ASCII only.
  // eslint-disable-next-line no-control-regex
  if (/^[\u0000-\u007f]*$/.test(key)) return key.toLowerCase()
  let out = ''
  for (const ch of key.replace(LONE_SURROGATE, '\ufffd')) out += foldCodePoint(ch)
  return out
}

/**
 * One code point folded: lower case of its upper case (`ſ` -> `S` -> `s`, Kelvin sign -> `k`,
 * `ς` -> `Σ` -> `σ`, micro sign -> `Μ` -> `μ`), which is Unicode simple case folding for every
 * letter an ASCII field name can be spelled with. Mappings that expand (`ß` -> `SS`) are full
 * folding, which Go does not apply, so they are not followed.
 */
function foldCodePoint(ch: string): string {
  const upper = ch.toUpperCase()
  const lower = isOneCodePoint(upper) ? upper.toLowerCase() : ch.toLowerCase()
  return isOneCodePoint(lower) ? lower : ch
}

function isOneCodePoint(s: string): boolean {
  return s.length === 1 || (s.length === 2 && s.codePointAt(0)! > 0xffff)
}

/** `.name` for an identifier-like key, `["..."]` otherwise (cut, so a long key cannot flood a message). */
function member(key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key)) return `.${key}`
  return `[${quoteKey(key)}]`
}

/** A key as JSON text, at most 64 characters of it, for a refusal message. */
export function quoteKey(key: string): string {
  return JSON.stringify(key.length > 64 ? `${key.slice(0, 64)}…` : key)
}
