import { SidekeyError } from '../errors.js'
import { pushPart, type ChunkFilter } from '../http/chunk-filter.js'

/**
 * Compressed messages inside a response body. gRPC, gRPC-Web and Connect's streaming protocol
 * frame each message in an envelope of its own (a flags byte, a 4-byte big-endian length, the
 * payload), and a set low bit of the flags byte says the payload is compressed with the algorithm
 * the response names in `grpc-encoding` (Connect: `connect-content-encoding`). The body's own
 * Content-Encoding is identity, so the decoders of the response guard never see this compression,
 * and the scrubber would read deflated bytes: an upstream that echoes the injected credential in a
 * compressed message (a gRPC server configured for gzip compresses whenever the client accepts it,
 * and grpc-js accepts gzip by default) would hand it to the agent.
 *
 * So on a route that scrubs, sidekey asks for uncompressed messages (`grpcAcceptEncoding`), refuses
 * a response whose head names a message compression (before anything of it is sent), and cuts a
 * response the moment an envelope arrives with the compressed bit set anyway (an upstream that
 * ignores what was asked: the agent's client could not decode it either, with no compression
 * named, but a raw client could). Messages are never decompressed here: an honest upstream sends
 * none once asked, and refusing is one byte's check per message where decompressing would need
 * limits against a compression bomb.
 *
 * gRPC: PROTOCOL-HTTP2.md and compression.md of grpc/grpc; gRPC-Web: PROTOCOL-WEB.md (the
 * `-text` variants carry the same envelopes in base64); Connect: connectrpc.com/docs/protocol.
 */

/** How a response body frames its messages, by its media type; null for a body with no envelopes. */
export type EnvelopeFraming = 'binary' | 'base64'

/** The envelope framing of a media type: gRPC, gRPC-Web (binary or `-text`), Connect streaming. */
export function envelopeFraming(contentType: string | undefined): EnvelopeFraming | null {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  if (type.startsWith('application/grpc-web-text')) return 'base64'
  if (type.startsWith('application/grpc') || type.startsWith('application/connect+')) return 'binary'
  return null
}

/** The response fields that name a message compression. */
const MESSAGE_CODING_FIELDS = ['grpc-encoding', 'connect-content-encoding'] as const

/** The request fields in which a client lists the message compressions it accepts. */
export const MESSAGE_ACCEPT_FIELDS = ['grpc-accept-encoding', 'connect-accept-encoding'] as const

/**
 * Refuse a response head that names a message compression other than identity: its messages would
 * reach the agent compressed, where the scrubber cannot read them.
 */
export function refuseMessageCoding(headers: Record<string, string | string[]>): void {
  for (const name of MESSAGE_CODING_FIELDS) {
    const value = headers[name]
    if (value === undefined) continue
    const codings = (Array.isArray(value) ? value.join(',') : value).split(',').map((c) => c.trim().toLowerCase())
    const named = codings.find((c) => c !== '' && c !== 'identity')
    if (named === undefined) continue
    throw new SidekeyError(
      'SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE',
      `the upstream answered with ${name} ${JSON.stringify(named.slice(0, 32))}: compressed messages sidekey cannot scrub for echoed secrets, though it asked for identity. Send the call uncompressed (no ${name} other than identity): some servers answer in the compression the request used`,
    )
  }
}

/** The compressed bit of an envelope's flags byte (the same bit in all three protocols). */
const COMPRESSED = 0x01
const ENVELOPE_HEAD = 5
const EQUALS = 0x3d

/**
 * For gRPC-Web text bodies (binary envelopes go through `envelopePayloadFilter`): a filter that
 * passes the body on unchanged and throws `SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE` at the first
 * envelope whose compressed bit is set. It reads only envelope heads: a payload is skipped by its
 * length, never held.
 */
export function textEnvelopeGuard(): ChunkFilter {
  const envelopes = envelopeReader()
  // gRPC-Web text: base64, each message (and the trailers frame) encoded on its own, so padding may
  // come mid-body. Quads are decoded as they complete; the bytes passed on are the text as sent.
  let quad = ''
  return {
    push(chunk) {
      let text = quad + chunk.toString('latin1').replace(/[^A-Za-z0-9+/=_-]/g, '')
      const whole = text.length - (text.length % 4)
      quad = text.slice(whole)
      text = text.slice(0, whole)
      // A quad ending in padding ends one encoded run; each run is decoded on its own.
      let start = 0
      for (let i = 3; i < text.length; i += 4) {
        if (text.charCodeAt(i) !== EQUALS) continue
        envelopes.read(Buffer.from(text.slice(start, i + 1), 'base64'))
        start = i + 1
      }
      if (start < text.length) envelopes.read(Buffer.from(text.slice(start), 'base64'))
      return chunk
    },
    end: () => null,
  }
}

/**
 * For binary envelopes (gRPC, gRPC-Web, Connect): `textEnvelopeGuard`'s check of the compressed bit, and each message's payload scrubbed on its own, with a
 * scrubber made for it by `scrubberFor`, and never the 5-byte heads. Scrubbed as one stream with
 * the heads in it, the mask of most of a secret near a message's end ran on over the next head
 * (the rest of the secret's length), and the agent's client could read no message after it: the
 * call broke. A secret split across two messages is not joined: the messages of gRPC and Connect
 * hold protobuf or JSON, whose framing sits between the parts. `scrubberFor`'s filters must give
 * back as many bytes as they take, and at once (the scrubber does: it masks in place and holds
 * nothing).
 */
export function envelopePayloadFilter(scrubberFor: () => ChunkFilter): ChunkFilter {
  const envelopes = envelopeReader()
  const segments: number[] = []
  let scrubber: ChunkFilter | null = null
  return {
    push(chunk) {
      segments.length = 0
      envelopes.read(chunk, segments)
      let out: Buffer | null = null
      for (let i = 0; i < segments.length; i += 3) {
        if (segments[i + 2] === 1 || scrubber === null) scrubber = scrubberFor()
        out = pushPart(scrubber, chunk, segments[i]!, segments[i + 1]!, out)
      }
      return out ?? chunk
    },
    end: () => null,
  }
}

/**
 * Walks envelope heads across chunks: `read` throws at a compressed one, and, given `payloads`,
 * appends each stretch of payload in `bytes`: its start, its end, and 1 when it begins a message
 * (0 when it goes on with one begun in an earlier chunk).
 */
function envelopeReader(): { read(bytes: Buffer, payloads?: number[]): void } {
  /** Payload bytes of the current envelope still to skip. */
  let skip = 0
  /** Whether the next payload bytes begin their message. */
  let fresh = false
  /** The head being read (bytes of it seen so far in `headSeen`). */
  const head = Buffer.alloc(ENVELOPE_HEAD)
  let headSeen = 0
  return {
    read(bytes, payloads) {
      let at = 0
      while (at < bytes.length) {
        if (skip > 0) {
          const n = Math.min(skip, bytes.length - at)
          payloads?.push(at, at + n, fresh ? 1 : 0)
          fresh = false
          skip -= n
          at += n
          continue
        }
        head[headSeen++] = bytes[at++]!
        if (headSeen < ENVELOPE_HEAD) continue
        headSeen = 0
        if ((head[0]! & COMPRESSED) !== 0) {
          throw new SidekeyError('SIDEKEY_ERR_UNSCRUBBABLE_RESPONSE', 'the upstream sent a compressed message though sidekey asked for none: sidekey cannot scrub it for echoed secrets, so the response was cut')
        }
        skip = head.readUInt32BE(1)
        fresh = true
      }
    },
  }
}
