import { StringDecoder } from 'node:string_decoder'
import { SidekeyError } from '../errors.js'
import { foldKey } from '../guard/json-keys.js'
import type { ResponsePlan, ShapedResponse } from '../guard/response-guard.js'
import { chainFilters, filterStream, type ChunkFilter } from '../http/chunk-filter.js'
import { visible } from './decide.js'
import type { JsonRpcId } from './jsonrpc.js'
import type { McpItemKind, McpPolicy } from './policy.js'

/**
 * The answers to an MCP POST, on their way back: list results filtered so the agent never sees a
 * tool, resource or prompt it may not use (`tools/list`, `resources/list`,
 * `resources/templates/list`, `prompts/list`, each page of a paginated list on its own; the
 * cursor passes untouched), and each call's outcome (result, or the error's code) noted for the
 * audit line. Works on a JSON answer (read whole, at most `MAX_LIST_BYTES`) and on an SSE stream
 * (event by event, each passed on as soon as it is complete, so progress arrives as sent). A tool's
 * result is never read into a decision: only its outcome is noted.
 */

/** Largest JSON answer to a list request, and largest single SSE event, sidekey reads to filter. */
export const MAX_LIST_BYTES = 8 * 1024 * 1024

/** The list methods, what their result holds, and which field names each item. */
const LISTS: Readonly<Record<string, { field: string; kind: McpItemKind; key: string }>> = Object.freeze({
  'tools/list': { field: 'tools', kind: 'tool', key: 'name' },
  'resources/list': { field: 'resources', kind: 'resource', key: 'uri' },
  'resources/templates/list': { field: 'resourceTemplates', kind: 'resource', key: 'uriTemplate' },
  'prompts/list': { field: 'prompts', kind: 'prompt', key: 'name' },
})

/** True when `method`'s result is a list that is filtered. */
export function isListMethod(method: string): boolean {
  return Object.hasOwn(LISTS, method)
}

/** A request id as a map key (the string "1" and the number 1 are different ids). */
export function idKey(id: JsonRpcId): string {
  return `${typeof id}:${id}`
}

/** What the response guard needs to know about the POST: the requests by id (their methods), and where outcomes go. */
export interface McpAnswers {
  readonly policy: McpPolicy
  /** Request id (idKey) -> method. */
  readonly requests: ReadonlyMap<string, string>
  /**
   * A GET stream: it carries no answer to a request of its own, but a server resuming a stream
   * (`Last-Event-ID`) may replay answers to earlier POSTs. Any answer whose result holds a list is
   * filtered then, whatever its id.
   */
  readonly byShape?: boolean
  /** Called once per answered request: `result`, or `error:CODE`. */
  readonly onOutcome: (id: JsonRpcId, outcome: string) => void
  /** Called with how many list items were hidden. */
  readonly onHidden: (count: number) => void
}

/**
 * `inner` (scrubbing, pins; null when none) with the MCP filter after it. The filter reads plain
 * text: when `inner` does not decode, the upstream is asked for `identity`, and a compressed
 * answer anyway is refused (it could not be filtered).
 */
export function mcpResponsePlan(inner: ResponsePlan | null, answers: McpAnswers): ResponsePlan {
  return {
    acceptEncoding: inner?.acceptEncoding ?? 'identity',
    scrubs: inner?.scrubs ?? false,
    // Trailers (HTTP/2) are scrubbed as before; MCP answers carry nothing to filter in them.
    trailers: (fields) => inner?.trailers(fields) ?? fields,
    begin(status, headers) {
      const shaped: ShapedResponse = inner?.begin(status, headers) ?? { headers, filter: null, stages: [] }
      const type = String(shaped.headers['content-type'] ?? '').toLowerCase()
      const sse = type.startsWith('text/event-stream')
      if (!sse && !type.startsWith('application/json')) return shaped
      const coding = String(shaped.headers['content-encoding'] ?? 'identity').toLowerCase()
      if (shaped.stages.length === 0 && coding !== 'identity') throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `the MCP server answered in content coding "${coding}" although sidekey asked for identity; it cannot filter what it cannot read`)
      const mine = sse ? sseFilter(answers) : jsonFilter(answers)
      const out = { ...shaped.headers }
      // A filtered list changes length.
      delete out['content-length']
      if (shaped.stages.length > 0) return { headers: out, filter: null, stages: [...shaped.stages, filterStream(mine)] }
      return { headers: out, filter: chainFilters(shaped.filter === null ? [mine] : [shaped.filter, mine]), stages: [] }
    },
  }
}

/**
 * A JSON answer, read whole (a client parses it only once it is whole anyway) and rewritten: a
 * list answer to one of the POST's requests filtered, and so is one under any other id, by its
 * shape. An answer to a call is read too: a hostile server could put in it an answer to another
 * request the client is waiting on (a `tools/list` sent on another POST), which the client would
 * take by its id, unfiltered.
 */
function jsonFilter(answers: McpAnswers): ChunkFilter {
  const lists = answers.byShape === true || [...answers.requests.values()].some(isListMethod)
  const kept: Buffer[] = []
  let size = 0
  return {
    push(chunk) {
      size += chunk.length
      if (size <= MAX_LIST_BYTES) kept.push(chunk)
      return null
    },
    end() {
      if (size > MAX_LIST_BYTES) throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `the MCP ${lists ? 'list ' : ''}answer is larger than ${MAX_LIST_BYTES} bytes, the most sidekey reads to filter it`)
      // A client's fetch decodes the body as UTF-8 without its byte order mark, then parses it: so does this.
      const text = withoutBom(Buffer.concat(kept).toString('utf8'))
      // A list answer sidekey cannot read is not passed on unread: a client might read it. Another
      // answer that is not JSON holds no list a client could take: it passes as it came.
      if (parse(text) === undefined) {
        if (lists) throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', 'the MCP list answer is not JSON sidekey can read, so it cannot be filtered')
        return Buffer.concat(kept)
      }
      const rewritten = rewrite(answers, text)
      // Unchanged, the answer goes on byte for byte as it came.
      return rewritten === text ? Buffer.concat(kept) : Buffer.from(rewritten)
    },
  }
}

/** An SSE stream: complete events pass on at once, a list answer's `data` rewritten. */
function sseFilter(answers: McpAnswers): ChunkFilter {
  // A chunk may end inside a UTF-8 sequence: the decoder holds its first bytes for the next.
  const decoder = new StringDecoder('utf8')
  let pending = ''
  /** How far into `pending` no event end was found: the next search starts just before it. */
  let searched = 0
  let overflow = false
  let started = false
  return {
    push(chunk) {
      if (overflow) return null
      pending += decoder.write(chunk)
      let out = ''
      // A client's TextDecoderStream drops a byte order mark that opens the stream, and then sees
      // `data:` where sidekey would see "\ufeffdata:": it passes on unread, and what follows is read.
      if (!started && pending !== '') {
        started = true
        if (pending.startsWith('\ufeff')) {
          out = '\ufeff'
          pending = pending.slice(1)
        }
      }
      for (;;) {
        // From where the last search stopped (less a separator's length, which may straddle the
        // chunks): an event arriving in many chunks is searched once, not once per chunk.
        const end = eventEnd(pending, Math.max(0, searched - 3))
        if (end === null) {
          searched = pending.length
          break
        }
        out += rewriteEvent(answers, pending.slice(0, end.at), end.separator)
        pending = pending.slice(end.at + end.separator.length)
        searched = 0
      }
      // An event too long to read is not passed on unread: the stream is cut at its end.
      if (pending.length > MAX_LIST_BYTES) {
        overflow = true
        pending = ''
      }
      return out === '' ? null : Buffer.from(out)
    },
    end() {
      if (overflow) throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `an MCP event is larger than ${MAX_LIST_BYTES} bytes, the most sidekey reads`)
      // An unterminated last event is no event (the SSE rules): passed on as it came.
      pending += decoder.end()
      return pending === '' ? null : Buffer.from(pending)
    },
  }
}

/**
 * Where an event ends: a line end followed by an empty line, each of SSE's line endings (CRLF, LF,
 * CR) in any mix, as a client's parser reads them: `\n\r\n` and `\n\r` end an event too, and an
 * event read past its end would pass unfiltered. A CR followed by LF is one line end, never two.
 */
const EVENT_END = /(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r)/g

/** Where the first event of `text` ends, searching from `from`. */
function eventEnd(text: string, from = 0): { at: number; separator: string } | null {
  EVENT_END.lastIndex = from
  const m = EVENT_END.exec(text)
  return m === null ? null : { at: m.index, separator: m[0] }
}

function rewriteEvent(answers: McpAnswers, event: string, separator: string): string {
  const lines = event.split(/\r\n|\n|\r/)
  const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(l.startsWith('data: ') ? 6 : 5))
  if (data.length === 0) return event + separator
  const text = data.join('\n')
  const rewritten = rewrite(answers, text)
  if (rewritten === text) return event + separator
  const others = lines.filter((l) => !l.startsWith('data:'))
  return [...others, `data: ${rewritten}`].join('\n') + separator
}

function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

function note(answers: McpAnswers, m: unknown): string | null {
  if (typeof m !== 'object' || m === null) return null
  const r = m as { id?: unknown; result?: unknown; error?: { code?: unknown } }
  // An answer that is not to one of the POST's requests as sidekey keys them is filtered by its
  // shape: clients match ids loosely (the SDKs look up Number(id), so "1" and " 1" answer request 1).
  if (answers.byShape === true || (typeof r.id !== 'string' && typeof r.id !== 'number') || !answers.requests.has(idKey(r.id))) return listIn(r.result)
  answers.onOutcome(r.id, 'error' in r ? `error:${String(r.error?.code ?? '?')}` : 'result')
  // By its shape too when the request was no list: a server that answers by id across a session
  // (the SDK's) can put the answer to a `tools/list` sent on another POST under this id (found by
  // a red-team run), and the client takes it as the list.
  const method = answers.requests.get(idKey(r.id))!
  return isListMethod(method) ? method : listIn(r.result)
}

/** The list method whose result `result` looks like (it holds that list's array), or null. */
function listIn(result: unknown): string | null {
  if (typeof result !== 'object' || result === null) return null
  const folded = new Set(Object.keys(result).map(foldKey))
  for (const [method, list] of Object.entries(LISTS)) if (folded.has(foldKey(list.field))) return method
  return null
}

/**
 * The keys of `object` that fold to `name` without being it. Go's encoding/json reads `"Tools"`
 * or `"NAME"` into the field sidekey reads as `tools` or `name` (the last one written wins), so a
 * client written in Go would see a list, or an item's name, that sidekey never looked at.
 */
function strayCase(object: object, name: string): string[] {
  const folded = foldKey(name)
  return Object.keys(object).filter((k) => k !== name && foldKey(k) === folded)
}

/**
 * `text` with the items of any list answer to one of our requests that the agent may not see
 * removed, and the keys a client could read as the answer's `result` or `id`, the list, or an
 * item's name, spelled in another letter case, dropped (with the item, for a name).
 */
function rewrite(answers: McpAnswers, text: string): string {
  const value = parse(text)
  if (value === undefined) return text
  let hidden = 0
  let stray = 0
  for (const m of Array.isArray(value) ? value : [value]) {
    if (typeof m !== 'object' || m === null) continue
    const envelope = m as Record<string, unknown>
    for (const k of [...strayCase(envelope, 'result'), ...strayCase(envelope, 'id')]) stray += Number(delete envelope[k])
    const method = note(answers, m)
    const list = method === null ? undefined : LISTS[method]
    const result = envelope.result
    if (list === undefined || typeof result !== 'object' || result === null) continue
    const fields = result as Record<string, unknown>
    for (const k of strayCase(fields, list.field)) stray += Number(delete fields[k])
    if (!Array.isArray(fields[list.field])) continue
    const items = fields[list.field] as unknown[]
    const shown = items.filter((item) => typeof item === 'object' && item !== null && strayCase(item, list.key).length === 0 && visible(answers.policy, list.kind, (item as Record<string, unknown>)[list.key]))
    hidden += items.length - shown.length
    fields[list.field] = shown
  }
  if (hidden === 0 && stray === 0) return text
  if (hidden > 0) answers.onHidden(hidden)
  return JSON.stringify(value)
}
