import type { AddressInfo } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { FLAG, FRAME, frame, literal } from './h2-frames.js'
import type { UpstreamTrust } from './upstream.js'

/**
 * A hand-made HTTP/2 upstream that writes frames as given, for upstreams that misbehave more than
 * Node's http2 server will: statuses HTTP does not define, responses cut by resets, DATA beyond
 * content-length.
 */

/** One upstream connection as the stand-in sees it: write frames to it. */
export interface RawConnection {
  readonly socket: TLSSocket
  send(...frames: Buffer[]): void
}

/**
 * An h2-only TLS server for `host` that speaks just enough HTTP/2 by hand: its SETTINGS, ACKs of
 * the client's SETTINGS and PINGs, and `onRequest` for each request HEADERS it gets.
 */
export async function rawH2Upstream(trust: UpstreamTrust, host: string, onRequest: (conn: RawConnection, streamId: number) => void): Promise<{ port: number; close(): Promise<void> }> {
  const server = createTlsServer({ ...(await trust.cert(host)), ALPNProtocols: ['h2'] })
  const sockets = new Set<TLSSocket>()
  server.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    const conn: RawConnection = { socket, send: (...frames) => void (socket.destroyed || socket.write(Buffer.concat(frames))) }
    socket.write(frame(FRAME.SETTINGS, 0, 0))
    let buffered = Buffer.alloc(0)
    let preface = false
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      if (!preface) {
        if (buffered.length < 24) return
        buffered = buffered.subarray(24)
        preface = true
      }
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3)
        if (buffered.length < 9 + length) break
        const type = buffered[3]!
        const flags = buffered[4]!
        const id = buffered.readUInt32BE(5) & 0x7fffffff
        const payload = buffered.subarray(9, 9 + length)
        buffered = buffered.subarray(9 + length)
        if (type === FRAME.SETTINGS && (flags & FLAG.ACK) === 0) conn.send(frame(FRAME.SETTINGS, FLAG.ACK, 0))
        if (type === FRAME.PING && (flags & FLAG.ACK) === 0) conn.send(frame(FRAME.PING, FLAG.ACK, 0, payload))
        if (type === FRAME.HEADERS) onRequest(conn, id)
      }
    })
  })
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening))
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise((closed) => server.close(closed))
    },
  }
}

/** A HEADERS frame of literal fields, ending the stream when `end`. */
export const headersFrame = (id: number, fields: [string, string][], end = false): Buffer =>
  frame(FRAME.HEADERS, FLAG.END_HEADERS | (end ? FLAG.END_STREAM : 0), id, Buffer.concat(fields.map(([name, value]) => literal(name, value))))

/** A DATA frame, ending the stream when `end`. */
export const dataFrame = (id: number, body: string, end = false): Buffer => frame(FRAME.DATA, end ? FLAG.END_STREAM : 0, id, Buffer.from(body))

/** A RST_STREAM frame with `code`. */
export const rstStreamFrame = (id: number, code: number): Buffer => {
  const payload = Buffer.alloc(4)
  payload.writeUInt32BE(code)
  return frame(FRAME.RST_STREAM, 0, id, payload)
}
