import type { IncomingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { request } from '../http/undici.js'
import { SidekeyError } from '../errors.js'

/** How sidekey reaches credential providers: the runtime's connection pool, and how long a call may take. */
export interface IdpTransport {
  readonly dispatcher: Dispatcher
  readonly timeoutMs: number
  /**
   * Mark the host of a URL that discovery found (an authorization server or endpoint named by a
   * server's metadata, not by the operator): connections to that name are refused when it resolves
   * to an internal address (loopback, private, link-local such as the cloud metadata service), at
   * connect time, so a second DNS answer cannot slip one in. Absent: nothing is marked.
   */
  readonly discovered?: (url: string) => void
}

/**
 * One call to a credential provider's API (token endpoints, AWS STS, Google IAM Credentials, Vault), with
 * the runtime's connection pool and timeout. Network failures become SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE
 * naming the credential and what went wrong, never a token; the caller reads status and body.
 */
export async function callProvider(
  transport: IdpTransport,
  credential: string,
  what: string,
  url: string,
  init: { method: 'GET' | 'POST' | 'PUT'; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
  try {
    const res = await request(url, {
      method: init.method,
      headers: init.headers,
      body: init.body,
      dispatcher: transport.dispatcher,
      headersTimeout: transport.timeoutMs,
      bodyTimeout: transport.timeoutMs,
      signal: AbortSignal.timeout(transport.timeoutMs),
    })
    return { status: res.statusCode, text: await boundedText(res.body, credential, what), headers: res.headers }
  } catch (cause) {
    if (cause instanceof SidekeyError) throw cause
    const timeout = /Timeout/.test((cause as Error).name ?? '')
    const code = (cause as { code?: string }).code
    const why = timeout ? `did not answer within ${transport.timeoutMs} ms` : code === INTERNAL_ADDRESS ? `is refused: ${(cause as Error).message}` : `is unreachable (${code ?? (cause as Error).message})`
    throw providerFailure(credential, `${what} ${why}`, cause)
  }
}

/** The error code of a connection refused because a discovered name resolved to an internal address. */
export const INTERNAL_ADDRESS = 'SIDEKEY_INTERNAL_ADDRESS'

/**
 * The most a provider's answer may hold. Token, metadata and registration answers are a few KiB;
 * a provider (or a discovered one: an MCP server's authorization server) that streams more is
 * refused rather than buffered, so it cannot exhaust sidekey's memory.
 */
export const MAX_PROVIDER_ANSWER_BYTES = 1024 * 1024

async function boundedText(body: AsyncIterable<Buffer> & { destroy(): unknown }, credential: string, what: string): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > MAX_PROVIDER_ANSWER_BYTES) {
      body.destroy()
      throw providerFailure(credential, `${what} answered more than ${MAX_PROVIDER_ANSWER_BYTES} bytes`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The refusal for a credential that cannot be obtained; `why` must hold no secret. */
export function providerFailure(credential: string, why: string, cause?: unknown, details?: Readonly<Record<string, string>>): SidekeyError {
  return new SidekeyError('SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE', `credential "${credential}": ${why}`, { cause, ...(details === undefined ? {} : { details }) })
}

/**
 * A provider's error code as the agent may be told it (RFC 6749's `error`, STS's `Code`, Google's
 * `status`): only when it has the shape of a code, at most 64 characters of letters, digits and
 * `_ . : -`. Anything else a provider put there (free text, markup, a value echoed back) is not
 * repeated to the agent; the operator's log has the HTTP status.
 */
export function providerCode(value: unknown): string | null {
  return typeof value === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(value) ? value : null
}

/** Parse a JSON answer or fail naming the provider. */
export function jsonOf<T>(credential: string, what: string, status: number, text: string): T {
  try {
    return JSON.parse(text) as T
  } catch {
    throw providerFailure(credential, `${what} answered HTTP ${status} with a body that is not JSON`)
  }
}
