import { SidekeyError } from '../errors.js'
import { findAmbiguousKeys, foldKey, quoteKey, type AmbiguousKeys } from '../guard/json-keys.js'
import { inexactNumber } from '../guard/json-numbers.js'

/**
 * The JSON-RPC 2.0 body of an MCP POST, parsed by sidekey itself and strictly, so that what policy
 * decides on is what the server will act on (docs/mcp.md, "Parsing"). Anything two parsers could
 * read differently is refused rather than guessed: bytes that are not UTF-8 (decoders replace
 * them differently), a key twice or two keys differing only in letter case anywhere in the
 * message (JavaScript keeps the last, some parsers the first, Go's encoding/json folds case into
 * one struct field), nesting deeper than `MAX_DEPTH`.
 */

/** A JSON-RPC id as MCP allows it: a string or an integer (never null on a request). */
export type JsonRpcId = string | number

/** A request (it has an id and gets an answer) or a notification (it has none). */
export interface McpCall {
  readonly kind: 'request' | 'notification'
  readonly id: JsonRpcId | null
  readonly method: string
  /** `params` (an object, as MCP requires), or undefined when absent. */
  readonly params: Readonly<Record<string, unknown>> | undefined
}

/** A response the client sends to a server's request (session revisions: sampling, elicitation, roots). */
export interface McpReply {
  readonly kind: 'response'
  readonly id: JsonRpcId | null
}

export type McpMessage = McpCall | McpReply

/** A parsed POST body: one message, or a batch (an array, only where the revision allows it). */
export interface McpBody {
  readonly messages: readonly McpMessage[]
  readonly batch: boolean
}

/** Deepest nesting of arrays and objects accepted in a message (the envelope takes 2 or 3 of it). */
export const MAX_DEPTH = 32

/** Most messages in one batch. */
export const MAX_BATCH = 64

/**
 * The revisions whose transport carries JSON-RPC batches: only 2025-03-26 (2025-06-18 removed
 * them). A POST without `MCP-Protocol-Version` is read as 2025-03-26, as the spec tells servers to.
 */
export function batchesAllowed(protocolVersion: string | null): boolean {
  return protocolVersion === null || protocolVersion === '2025-03-26'
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Parse `body` as sent on an MCP route with the given `MCP-Protocol-Version` (null: none). Throws SIDEKEY_ERR_MCP_INVALID. */
export function parseMcpBody(body: Buffer, protocolVersion: string | null): McpBody {
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    throw invalid('the body is not UTF-8 text', PARSE_ERROR)
  }
  // A byte order mark is refused by JSON.parse below; some servers skip it.
  if (text.charCodeAt(0) === 0xfeff) throw invalid('the body starts with a byte order mark', PARSE_ERROR)
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw invalid('the body is not JSON', PARSE_ERROR)
  }
  try {
    return parseMessages(text, value, protocolVersion)
  } catch (err) {
    throw withId(err, value)
  }
}

/** The parsed JSON as MCP messages. */
function parseMessages(text: string, value: unknown, protocolVersion: string | null): McpBody {
  // Depth before anything walks the value, then keys a parser could take for one another.
  const depth = nestingDepth(text)
  if (depth > MAX_DEPTH) throw invalid(`the message nests ${depth} levels deep; sidekey reads at most ${MAX_DEPTH}`)
  const number = inexactNumber(text)
  if (number !== null) throw invalid(`the number ${number.slice(0, 40)} cannot be read exactly as a double (CEL and sidekey's checks read doubles, the server may read it exactly); send an integer within ±2^53, or a string`)
  const keys = findAmbiguousKeys(text)
  if (keys !== null) {
    const at = keys.at.replace(/^body/, 'message')
    throw invalid(ambiguousKeysMessage(keys, at))
  }
  if (!Array.isArray(value)) return { messages: [message(value, '')], batch: false }
  if (!batchesAllowed(protocolVersion)) throw invalid(`a batch (JSON array) is not part of MCP revision ${protocolVersion}; send one message per POST`)
  if (value.length === 0) throw invalid('the batch is empty')
  if (value.length > MAX_BATCH) throw invalid(`the batch has ${value.length} messages; sidekey reads at most ${MAX_BATCH}`)
  const messages = value.map((m, i) => message(m, `batch member ${i}: `))
  const ids = new Set<string>()
  for (const m of messages) {
    if (m.id === null || m.kind === 'response') continue
    const key = `${typeof m.id}:${m.id}`
    if (ids.has(key)) throw invalid(`the id ${JSON.stringify(m.id)} is used twice in one batch`)
    ids.add(key)
  }
  if (messages.some((m) => m.kind !== 'response' && m.method === 'initialize')) throw invalid('initialize must not be part of a batch')
  return { messages, batch: true }
}

/** JSON-RPC's own codes for a body that is not JSON, and for JSON that is not a valid request. */
export const PARSE_ERROR = -32700
export const INVALID_REQUEST = -32600

/**
 * A refusal of JSON that is one message with a usable id carries that id (`jsonrpc_id`), so the
 * JSON-RPC error answers the request the client is waiting on.
 */
function withId(err: unknown, value: unknown): unknown {
  if (!(err instanceof SidekeyError) || typeof value !== 'object' || value === null || Array.isArray(value)) return err
  const id = (value as Record<string, unknown>).id
  if (!isId(id)) return err
  return new SidekeyError(err.code, err.message, { details: { ...err.details, jsonrpc_id: id } })
}

function invalid(why: string, jsonrpcCode = INVALID_REQUEST): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_MCP_INVALID', `the MCP request is not valid JSON-RPC 2.0: ${why}`, { details: { jsonrpc_code: jsonrpcCode } })
}

function isId(v: unknown): v is JsonRpcId {
  return typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v))
}

function message(v: unknown, where: string): McpMessage {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(`${where}a message must be a JSON object`)
  const m = v as Record<string, unknown>
  misspelledMember(m, ENVELOPE, where)
  if (typeof m.params === 'object' && m.params !== null) {
    misspelledMember(m.params as Record<string, unknown>, PARAMS, `${where}params: `)
    const ref = (m.params as Record<string, unknown>).ref
    if (typeof ref === 'object' && ref !== null) misspelledMember(ref as Record<string, unknown>, REF, `${where}params.ref: `)
  }
  if (m.jsonrpc !== '2.0') throw invalid(`${where}"jsonrpc" must be "2.0"`)
  if ('method' in m) {
    if (typeof m.method !== 'string' || m.method === '') throw invalid(`${where}"method" must be a non-empty string`)
    if ('result' in m || 'error' in m) throw invalid(`${where}a message with "method" carries no "result" or "error"`)
    if ('params' in m && (typeof m.params !== 'object' || m.params === null || Array.isArray(m.params))) throw invalid(`${where}"params" must be an object`)
    const params = m.params as Record<string, unknown> | undefined
    if (!('id' in m)) return { kind: 'notification', id: null, method: m.method, params }
    if (!isId(m.id)) throw invalid(`${where}"id" must be a string or an integer`)
    return { kind: 'request', id: m.id, method: m.method, params }
  }
  if (!('result' in m) === !('error' in m)) throw invalid(`${where}a message without "method" is a response, with exactly one of "result" and "error"`)
  if (!('id' in m) || !(isId(m.id) || (m.id === null && 'error' in m))) throw invalid(`${where}a response needs the id of the request it answers`)
  return { kind: 'response', id: m.id as JsonRpcId | null }
}

/**
 * The members sidekey reads a message by, in the envelope, in `params` and in a completion's
 * `ref`. Go's encoding/json (the official Go SDK, GitHub's MCP server) fills a struct field from a
 * key of any letter case: `{"id":1,"Method":"tools/call","params":{...},"result":{}}` is a
 * response to sidekey (no `method`) and a tools/call to such a server, and
 * `{"name":"x","Arguments":{...}}` has arguments CEL never saw. A key that folds to one of these
 * without being it is refused.
 */
const ENVELOPE: ReadonlySet<string> = new Set(['jsonrpc', 'id', 'method', 'params', 'result', 'error'])
const PARAMS: ReadonlySet<string> = new Set(['name', 'uri', 'arguments', 'ref', 'cursor', '_meta', 'taskId'])
const REF: ReadonlySet<string> = new Set(['type', 'name', 'uri'])
const FOLDED: ReadonlyMap<ReadonlySet<string>, ReadonlyMap<string, string>> = new Map([ENVELOPE, PARAMS, REF].map((set) => [set, new Map([...set].map((k) => [foldKey(k), k]))]))

function misspelledMember(object: Record<string, unknown>, members: ReadonlySet<string>, where: string): void {
  const folded = FOLDED.get(members)!
  for (const key of Object.keys(object)) {
    if (members.has(key)) continue
    const meant = folded.get(foldKey(key))
    if (meant !== undefined) throw invalid(`${where}the key ${quoteKey(key)} differs from ${quoteKey(meant)} only in letter case; some parsers take it for ${quoteKey(meant)}`)
  }
}

/** How deep arrays and objects nest in `text` (valid JSON), counting brackets outside strings. */
export function nestingDepth(text: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth)
    else if (c === 0x7d || c === 0x5d) depth--
  }
  return deepest
}

/** Why the keys `findAmbiguousKeys` found make a message mean different things to different servers. */
function ambiguousKeysMessage(keys: AmbiguousKeys, at: string): string {
  if (keys.kind === 'duplicate') return `the key ${quoteKey(keys.first)} is given twice in ${at}; parsers disagree on which counts`
  if (keys.kind === 'case') return `the keys ${quoteKey(keys.first)} and ${quoteKey(keys.second)} in ${at} differ only in letter case; some parsers take them for one`
  return `${at} has a "__proto__" key; a JavaScript server that copies the object takes it for the prototype and reads what is under it as the object's own fields`
}
