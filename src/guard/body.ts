import type { IncomingMessage } from 'node:http'
import { agentGone, ConditionRefusal, SidekeyError } from '../errors.js'
import type { BodyBudget } from './body-budget.js'

/**
 * Buffer a request body that must be read before the request is decided (CEL over `body`, a held
 * approval, a size limit without Content-Length). Bounded: past `limit` bytes the request is
 * refused with 413 and the rest is not read. A body the agent cut short (its connection closed, its
 * HTTP/2 stream reset) fails with the request's own refusal, or SIDEKEY_ERR_AGENT_GONE.
 */
export function readBody(req: IncomingMessage, limit: number, budget: { readonly bodies: BodyBudget; readonly workload: string }): Promise<Buffer> {
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit))
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (err: Error | null): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('close', onClose)
      // Read whole or refused: its share of the budget goes back (guard/body-budget.ts).
      budget.bodies.give(budget.workload, size)
      if (err === null) resolve(Buffer.concat(chunks, size))
      else reject(err)
    }
    const onData = (chunk: Buffer): void => {
      if (size + chunk.length > limit) {
        req.pause()
        done(tooLarge(limit))
        return
      }
      try {
        budget.bodies.take(budget.workload, chunk.length)
      } catch (err) {
        req.pause()
        done(err as Error)
        return
      }
      size += chunk.length
      chunks.push(chunk)
    }
    const onEnd = (): void => done(null)
    // An HTTP/2 request fails with its own refusal (accept/h2-server-request.ts); Node's HTTP/1.1
    // request with ECONNRESET "aborted", which is the agent gone.
    const onError = (err: Error): void => done(err instanceof SidekeyError ? err : cutShort(err))
    const onClose = (): void => {
      if (!req.complete) done(cutShort())
    }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}

function cutShort(cause?: unknown): SidekeyError {
  return agentGone('the agent closed the connection before its request body ended; nothing of it was decided on or sent', cause)
}

function tooLarge(limit: number): ConditionRefusal {
  return new ConditionRefusal('SIDEKEY_ERR_BODY_TOO_LARGE', 'max_body_bytes', `the request body is larger than ${limit} bytes, the most this route accepts or inspects`)
}

/** The body as JSON, or undefined when it is empty or not JSON. */
export function parseJsonBody(body: Buffer | null): unknown {
  if (body === null || body.length === 0) return undefined
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch {
    return undefined
  }
}
