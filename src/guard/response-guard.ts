import { createHash } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'
import { SidekeyError } from '../errors.js'
import { withoutNames } from '../inject/inject.js'
import type { Route } from '../policy/types.js'
import type { NeedleAutomaton } from './needle-automaton.js'
import { envelopeFraming, envelopePayloadFilter, textEnvelopeGuard, MESSAGE_ACCEPT_FIELDS, refuseMessageCoding } from './message-envelopes.js'
import { wrappedLinesFilter } from './wrapped-lines.js'
import { declaredCharsets, refuseUnscrubbableCharset, undeclaredWideGuard, wideCharset, withUtf8Charset } from './response-charset.js'
import { transcodeToUtf8 } from './response-transcode.js'
import { perRecordScrubber, recordFraming, recordScrubFilter } from './record-scrub.js'
import { chainFilters, filterStream, type ChunkFilter } from '../http/chunk-filter.js'
import { automatonFor, foundInTexts, maskText, scrubWith, TOKEN_MASK, VALUE_MASK } from './secret-scan.js'

/**
 * The guard on the way back: an upstream that echoes request headers (debug endpoints, error
 * pages) would hand the injected secret to the agent, and a download may not be what its route
 * pinned. For a credentialed route, every managed secret (in every form `secretForms` lists: as
 * is, URL-encoded, base64 and base64url at every alignment, so also inside the base64 of the whole
 * injected header value) is masked in response header names and values and in bodies, and across
 * the events of a streamed answer (`recordScrubFilter`); a compressed body is
 * decoded first (gzip, deflate, br), since a masked-out secret inside gzip is no scrubbing at
 * all, and anything else is refused; a body declared in UTF-16 or UTF-32 is re-encoded as UTF-8
 * (guard/response-transcode.ts), so the scrubbers read it as any other. A pinned route's 2xx body
 * is hashed as it streams (the bytes the agent gets: decoded, re-encoded, masked), and its last
 * bytes are held until the hash matches, so a wrong file never arrives whole.
 */

/** Content codings sidekey can decode to scrub; the request's Accept-Encoding is limited to them. */
const DECODABLE = 'gzip, deflate, br'

export interface ResponsePlan {
  /** Replace the agent's Accept-Encoding with what the guard can handle (null: leave it). */
  readonly acceptEncoding: string | null
  /** True when bodies are scrubbed for echoed secrets. */
  readonly scrubs: boolean
  /** Shape the response once its head arrives; throws a SidekeyError before anything is sent. */
  begin(status: number, headers: Record<string, string | string[]>): ShapedResponse
  /** The response's trailer fields (HTTP/2, gRPC) with echoed secrets masked, as its headers are. */
  trailers(fields: Record<string, string | string[]>): Record<string, string | string[]>
}

/**
 * The request's headers as the response guard needs them sent upstream: Accept-Encoding limited to
 * the codings it decodes, and, when it scrubs, no `Range` or `If-Range`. A secret echoed in a body
 * fetched in byte ranges would come back split across responses, each piece too short to know,
 * so a scrubbed route always asks for the whole body (an upstream may answer 200 to any Range).
 */
// The four lists requestHeadersFor drops, made once (withoutNames folds each list once): indexed
// by [scrubs][acceptEncoding set].
const SCRUBBED_DROPS = ['range', 'if-range', 'accept-charset', ...MESSAGE_ACCEPT_FIELDS]
const DROPPED_UPSTREAM: readonly (readonly (readonly string[])[])[] = [
  [[], ['accept-encoding']],
  [SCRUBBED_DROPS, [...SCRUBBED_DROPS, 'accept-encoding']],
]

export function requestHeadersFor(plan: ResponsePlan | null, headers: readonly string[]): string[] {
  if (plan === null) return [...headers]
  // Nor `Accept-Charset`: an answer in a charset the scrubber does not read (EBCDIC, UTF-7) would
  // carry an echoed secret past it (guard/response-charset.ts; found by a red-team run).
  const out = withoutNames(headers, DROPPED_UPSTREAM[plan.scrubs ? 1 : 0]![plan.acceptEncoding !== null ? 1 : 0]!)
  if (plan.acceptEncoding !== null) out.push('accept-encoding', plan.acceptEncoding)
  // Messages compressed inside gRPC or Connect envelopes are out of the decoders' reach
  // (guard/message-envelopes.ts): a scrubbed call asks for them uncompressed.
  if (plan.scrubs) {
    const accept = messageAcceptField(headers)
    if (accept !== null) out.push(accept, 'identity')
  }
  return out
}

/** The field in which a gRPC or Connect streaming request lists the message compressions it accepts. */
function messageAcceptField(headers: readonly string[]): string | null {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() !== 'content-type') continue
    const type = headers[i + 1]!.trim().toLowerCase()
    if (type.startsWith('application/grpc')) return 'grpc-accept-encoding'
    if (type.startsWith('application/connect+')) return 'connect-accept-encoding'
  }
  return null
}

/**
 * How the body is handled: through `filter` inline (the common case), or, when it must be decoded
 * first, through `stages` (streams piped into the agent's response).
 */
export interface ShapedResponse {
  readonly headers: Record<string, string | string[]>
  readonly filter: ChunkFilter | null
  readonly stages: Duplex[]
}

/** Measured for the audit line and metrics. */
export interface ResponseGuardStats {
  scrubbed: number
}

/**
 * The response plan for a request on `route`, or null when nothing needs guarding (no credential
 * injected, scrubbing off, no pin).
 */
export function responseGuard(route: Route, needles: Buffer[] | null, stats: ResponseGuardStats): ResponsePlan | null {
  const scrub = needles !== null && needles.length > 0
  const pin = route.pinSha256
  if (!scrub && pin === null) return null
  const automaton = scrub ? automatonFor(needles) : null
  return {
    // A pin is over the bytes as served uncompressed; scrubbing needs a coding it can decode.
    acceptEncoding: pin !== null ? 'identity' : DECODABLE,
    scrubs: scrub,
    trailers(fields) {
      if (automaton === null) return fields
      const masked = maskHeaders(automaton, fields)
      if (masked === null) return fields
      stats.scrubbed += masked.count
      return masked.headers
    },
    begin(status, headers) {
      // Copied only when changed: masked, or a content coding to decode removed from it.
      let out = headers
      const decoders: Duplex[] = []
      const filters: ChunkFilter[] = []
      if (automaton !== null) {
        const masked = maskHeaders(automaton, out)
        if (masked !== null) {
          stats.scrubbed += masked.count
          out = masked.headers
        }
        const encoding = out['content-encoding']
        if (encoding !== undefined) {
          const coding = String(encoding).toLowerCase().split(',').map((c) => c.trim()).filter((c) => c !== '' && c !== 'identity')
          for (const c of coding.reverse()) {
            const decoder = c === 'gzip' || c === 'x-gzip' ? createGunzip() : c === 'deflate' ? createInflate() : c === 'br' ? createBrotliDecompress() : null
            if (decoder === null) throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `the upstream answered in content coding "${c}", which sidekey cannot scrub for echoed secrets`)
            decoders.push(decoder)
          }
          if (coding.length > 0) {
            out = { ...out }
            delete out['content-encoding']
            delete out['content-length']
          }
        }
        const contentType = String(out['content-type'] ?? '')
        // Read once, for the three checks below.
        const charsets = declaredCharsets(contentType)
        refuseUnscrubbableCharset(contentType, charsets)
        const wide = wideCharset(contentType, charsets)
        // Every value counts: a CDN repeats the field, the repeats arrive joined with ",", and an
        // HTTP/2 agent gets the first (accept/h2-response.ts), so a framing any value names is used
        // (found by a red-team run: `text/event-stream` twice turned off joining across events).
        const mediaTypes = contentType.split(',')
        const envelopes = firstFraming(mediaTypes, envelopeFraming)
        if (envelopes !== null) refuseMessageCoding(out)
        // A body in UTF-16 or UTF-32 is made UTF-8 before any filter reads it, and the agent told
        // so: every view of the scrubber (the bytes, escapes, line breaks, events) reads ASCII, and
        // the client reads the secret out of the wide text in all of those forms (found by a
        // red-team run: `Basic base64(user:secret)` echoed in UTF-16). Not a gRPC or Connect
        // stream: its envelopes are binary, and re-encoding them would break the call. A filter,
        // first in the chain (after the content decoders' stages), not a stream stage of its own:
        // it is synchronous, as the filters are (http/chunk-filter.ts).
        if (wide !== null) {
          if (envelopes !== null) throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', `the upstream declared charset "${wide}" on a gRPC or Connect stream, whose binary messages sidekey cannot re-encode to scrub them for echoed secrets`)
          out = { ...out, 'content-type': withUtf8Charset(out['content-type']!) }
          // The length changes with the encoding.
          delete out['content-length']
          filters.push(transcodeToUtf8(wide))
        } else {
          // Undeclared, but wide by its first bytes, as a client may guess: cut.
          const sniff = undeclaredWideGuard(contentType, charsets)
          if (sniff !== null) filters.push(sniff)
        }
        const onScrub = (): void => {
          stats.scrubbed++
        }
        // The bytes as sent, then across line breaks (guard/wrapped-lines.ts: base64 in lines).
        const scrubber = (): ChunkFilter => {
          const wrapped = wrappedLinesFilter(needles!, onScrub)
          return wrapped === null ? scrubWith(automaton, onScrub) : chainFilters([scrubWith(automaton, onScrub), wrapped])!
        }
        const framing = firstFraming(mediaTypes, recordFraming)
        // The events of a stream: first across events, by the joined view of each key path, on the
        // bytes as sent (so each event's JSON still parses, and a secret's rest is masked in the
        // next event's text, never over its framing); then each event's bytes on their own.
        if (framing !== null) filters.push(recordScrubFilter(automaton, framing, onScrub))
        // gRPC and Connect messages are scrubbed each on its own, without their envelope heads.
        if (envelopes === 'binary') filters.push(envelopePayloadFilter(scrubber))
        else {
          if (envelopes === 'base64') filters.push(textEnvelopeGuard())
          filters.push(framing === null ? scrubber() : perRecordScrubber(framing, scrubber))
        }
      }
      if (pin !== null && status >= 200 && status < 300) filters.push(pinCheck(pin))
      const filter = chainFilters(filters)
      if (decoders.length === 0) return { headers: out, filter, stages: [] }
      return { headers: out, filter: null, stages: filter === null ? decoders : [...decoders, filterStream(filter)] }
    },
  }
}

/** The framing the first of `mediaTypes` that has one names, or null. */
function firstFraming<F>(mediaTypes: readonly string[], framingOf: (mediaType: string) => F | null): F | null {
  for (const mediaType of mediaTypes) {
    const framing = framingOf(mediaType)
    if (framing !== null) return framing
  }
  return null
}

/** maskHeaders' texts to search, reused from one response to the next (the search is synchronous). */
const HEADER_TEXTS: string[] = []

/**
 * The headers with every secret masked in names (with token characters, so the name stays a
 * valid field name) and values, and how many were masked; null when none holds one (the common
 * case costs one search over all of them).
 */
function maskHeaders(automaton: NeedleAutomaton, headers: Record<string, string | string[]>): { headers: Record<string, string | string[]>; count: number } | null {
  const texts = HEADER_TEXTS
  for (const name in headers) {
    const value = headers[name]!
    texts.push(name)
    if (Array.isArray(value)) for (const v of value) texts.push(v)
    else texts.push(value)
  }
  const found = foundInTexts(automaton, texts, true)
  // Emptied at once, so it holds no header's text past this call.
  texts.length = 0
  if (!found) return null
  const out: Record<string, string | string[]> = {}
  let count = 0
  for (const [name, value] of Object.entries(headers)) {
    const maskedName = maskText(automaton, name, TOKEN_MASK)
    const values = (Array.isArray(value) ? value : [value]).map((v) => {
      const m = maskText(automaton, v, VALUE_MASK)
      if (m !== v) count++
      return m
    })
    if (maskedName !== name) count++
    const previous = out[maskedName]
    // Two names masked alike keep both values.
    const merged = previous === undefined ? values : [...(Array.isArray(previous) ? previous : [previous]), ...values]
    out[maskedName] = merged.length === 1 ? merged[0]! : merged
  }
  return { headers: out, count }
}

/**
 * Hash the body while it streams; hold back the latest chunk so that, on a mismatch, the agent
 * never receives the last bytes (a Content-Length body stays short, a chunked one unterminated).
 */
function pinCheck(expected: string): ChunkFilter {
  const hash = createHash('sha256')
  let held: Buffer | null = null
  return {
    push(chunk) {
      hash.update(chunk)
      const previous = held
      held = chunk
      return previous
    },
    end() {
      const actual = hash.digest('hex')
      if (actual !== expected) throw new SidekeyError('SIDEKEY_ERR_PIN_MISMATCH', `the download's SHA-256 is ${actual}, not the pinned ${expected}`)
      return held
    },
  }
}
