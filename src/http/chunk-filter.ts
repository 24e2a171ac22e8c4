import { Transform } from 'node:stream'

/**
 * A synchronous filter over a body's chunks: what to pass on now, and what is left at the end.
 * Bodies pass their filters as plain function calls, so a request or response with several
 * filters (outbound secret detection, a `_method` field, chunk re-signing; scrubbing, envelope
 * checks, a pin) costs one stream stage, or none, instead of a stream per filter.
 */
export interface ChunkFilter {
  /** Throws (a SidekeyError) when the chunk is refused. */
  push(chunk: Buffer): Buffer | null
  /** Throws (a SidekeyError) when the body as a whole is refused. */
  end(): Buffer | null
}

/** Filters applied one after the other; null for none. */
export function chainFilters(filters: readonly ChunkFilter[]): ChunkFilter | null {
  if (filters.length <= 1) return filters[0] ?? null
  return {
    push(chunk) {
      let c: Buffer | null = chunk
      for (const f of filters) {
        if (c === null) break
        c = f.push(c)
      }
      return c
    },
    end() {
      // What one filter still held passes through the later ones before they end.
      let carry: Buffer | null = null
      for (const f of filters) {
        const pushed: Buffer | null = carry === null ? null : f.push(carry)
        const rest = f.end()
        carry = pushed === null ? rest : rest === null ? pushed : Buffer.concat([pushed, rest])
      }
      return carry
    },
  }
}

/**
 * Push `chunk[from, to)` through `filter`, one that gives back as many bytes as it takes, at once
 * (the scrubber: it masks in place and holds nothing), and write what it changed into `out`, a
 * copy of `chunk` made at the first change. Returns `out`. For filters run on parts of a body
 * each on its own: the messages of a gRPC stream, the events of an SSE stream.
 */
export function pushPart(filter: ChunkFilter, chunk: Buffer, from: number, to: number, out: Buffer | null): Buffer | null {
  const part = chunk.subarray(from, to)
  const pushed = filter.push(part)
  if (pushed === part) return out
  if (pushed === null || pushed.length !== part.length) throw new Error('a filter run on parts of a body must give back what it takes, at once')
  const copy = out ?? Buffer.from(chunk)
  pushed.copy(copy, from)
  return copy
}

/** A ChunkFilter as a Transform (for bodies that pass through decoders first, and for tests). */
export function filterStream(filter: ChunkFilter): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      let pass: Buffer | null
      try {
        pass = filter.push(chunk)
      } catch (err) {
        done(err as Error)
        return
      }
      done(null, pass ?? undefined)
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
