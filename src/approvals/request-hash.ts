import { createHash } from 'node:crypto'
import { foldHeaders } from '../http/message.js'
import type { HoldRequest } from './record.js'

/**
 * What an asynchronous approval is bound to: a SHA-256 over who asks (workload), on which route,
 * and what is sent (method, and the method sent when an override names it, host, port, path,
 * query, content type, body). A retry carrying the
 * same bytes there gets the same approval; any difference is a different request, asked about
 * anew. Other headers are left out: clients change some on every retry (the OpenAI SDK's
 * `x-stainless-retry-count`, request ids, dates), and the content type is the one that changes
 * what the body means. The hash is hex and holds no request text, so it can be a store key.
 */
export function requestHash(h: Pick<HoldRequest, 'workload' | 'route' | 'method' | 'sentMethod' | 'host' | 'port' | 'path' | 'query' | 'rawHeaders' | 'body'>): string {
  const contentType = foldHeaders(h.rawHeaders)['content-type'] ?? ''
  const hash = createHash('sha256')
  // The method as sent too, when an override names another: an upstream that ignores overrides
  // runs the method sent, so an approved PUT is not a POST saying "override: PUT" (found by a
  // red-team run). Length-prefixed fields, so no two different requests join to the same bytes.
  for (const field of [h.workload ?? '', h.route.name, h.method, h.host, String(h.port), h.path, h.query, contentType, ...(h.sentMethod === undefined || h.sentMethod === h.method ? [] : [`sent:${h.sentMethod}`])]) {
    hash.update(`${Buffer.byteLength(field)}:`).update(field)
  }
  hash.update(`${h.body?.length ?? 0}:`)
  if (h.body !== null) hash.update(h.body)
  return hash.digest('hex')
}
