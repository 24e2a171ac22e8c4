import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Test } from 'tap'

/** A webhook receiver on a loopback port: every JSON body POSTed to it, in order of arrival. */
export interface WebhookSink {
  readonly url: string
  readonly received: Record<string, unknown>[]
}

/** Start a receiver that answers 200 to each delivery; it closes at teardown. */
export async function startWebhookSink(t: Test): Promise<WebhookSink> {
  const received: Record<string, unknown>[] = []
  const server = createServer((req, res) => {
    let text = ''
    req.on('data', (c: Buffer) => (text += c.toString()))
    req.on('end', () => {
      received.push(JSON.parse(text) as Record<string, unknown>)
      res.end('ok')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => server.close(() => r())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received }
}
