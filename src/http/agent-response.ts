import type { OutgoingHttpHeaders } from 'node:http'

/**
 * The answer to one agent request, as the stages write it: the members of Node's HTTP/1.1
 * `ServerResponse` that forwarding and refusing use. On HTTP/1.1 it is that ServerResponse; on an
 * HTTP/2 stream it is `H2Response` (accept/h2-response.ts), written straight onto the stream.
 */
export interface AgentResponse {
  /** The status `flushHeaders`, `write` or `end` send when `writeHead` was not called. */
  statusCode: number
  readonly headersSent: boolean
  /** `end` was called. */
  readonly writableEnded: boolean
  /** Everything written went out (on HTTP/2: the stream's writable side finished). */
  readonly writableFinished: boolean
  readonly destroyed: boolean
  setHeader(name: string, value: number | string | readonly string[]): unknown
  getHeader(name: string): number | string | string[] | undefined
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown
  writeHead(status: number, reason: string, headers?: OutgoingHttpHeaders): unknown
  /** Send the head now, with `statusCode` and the fields set so far. */
  flushHeaders(): void
  /** Write body bytes (the head first, if it has not gone); false: wait for 'drain'. */
  write(chunk: Buffer | string): boolean
  end(callback?: () => void): unknown
  end(chunk: Buffer | string, callback?: () => void): unknown
  /** Trailer fields sent after the body (HTTP/2; HTTP/1.1 sends them only on a chunked body). */
  addTrailers(headers: OutgoingHttpHeaders | readonly [string, string][]): void
  /** End the answer abruptly. */
  destroy(err?: Error): unknown
  on(event: 'close' | 'drain', listener: () => void): unknown
  once(event: 'close' | 'drain', listener: () => void): unknown
  off(event: 'close' | 'drain', listener: () => void): unknown
}
