import { createHash } from 'node:crypto'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import type { AwsCredentials, CredentialProvider, ObtainedCredential } from '../provider.js'
import type { SecretSource } from '../secret-source.js'
import type { FetchedToken, TokenCache } from '../token-cache.js'
import type { IdpTransport } from '../token-endpoint.js'
import { callProvider, providerFailure } from '../provider-http.js'

/**
 * AWS: temporary credentials from STS AssumeRoleWithWebIdentity with the workload's projected
 * token (the IRSA / EKS pattern), optionally chained into another role with AssumeRole, cached
 * and refreshed before expiry; and Signature Version 4 for requests sidekey forwards, so the agent's
 * SDK runs with placeholder keys and never holds a real one.
 *
 * Signing is `@smithy/signature-v4`, the AWS SDK for JavaScript's own signer.
 */

/** The STS API version every call names. */
const STS_VERSION = '2011-06-15'

export interface AwsWebIdentitySettings {
  readonly roleArn: string
  readonly sessionName: string
  /** A second role assumed with the first one's credentials (role chaining), or null. */
  readonly chainRoleArn: string | null
  readonly stsEndpoint: string
  /** Region the chained AssumeRole is signed for (STS's). */
  readonly stsRegion: string
  readonly durationS: number
  readonly refreshAt: number | undefined
}

export class AwsWebIdentityProvider implements CredentialProvider {
  readonly type = 'aws-web-identity'
  readonly #key: string
  /** The cached keys, parsed once per STS answer rather than on every request. */
  #parsed: { readonly value: string; readonly aws: AwsCredentials } | null = null

  constructor(
    readonly name: string,
    readonly settings: AwsWebIdentitySettings,
    private readonly token: SecretSource,
    private readonly transport: IdpTransport,
    private readonly cache: TokenCache,
    fingerprint: string,
  ) {
    // One role session for the process: the role, not the workload, is the identity here.
    this.#key = `aws|${name}|${fingerprint}`
  }

  async obtain(): Promise<ObtainedCredential> {
    const token = await this.cache.get(this.#key, () => this.#assume(), this.settings.refreshAt)
    if (this.#parsed?.value !== token.value) this.#parsed = { value: token.value, aws: JSON.parse(token.value) as AwsCredentials }
    const { aws } = this.#parsed
    return { secret: aws.secretAccessKey, source: token.source, aws }
  }

  async #assume(): Promise<FetchedToken> {
    let identityToken: string
    try {
      identityToken = await this.token.read(true)
    } catch (cause) {
      throw providerFailure(this.name, `web identity token: ${(cause as Error).message}`, cause)
    }
    const first = await this.#sts(
      { Action: 'AssumeRoleWithWebIdentity', RoleArn: this.settings.roleArn, RoleSessionName: this.settings.sessionName, WebIdentityToken: identityToken, DurationSeconds: String(this.settings.durationS) },
      null,
    )
    if (this.settings.chainRoleArn === null) return first
    // Role chaining: AWS caps a chained session at one hour.
    const chained = await this.#sts(
      { Action: 'AssumeRole', RoleArn: this.settings.chainRoleArn, RoleSessionName: this.settings.sessionName, DurationSeconds: String(Math.min(this.settings.durationS, 3600)) },
      JSON.parse(first.value) as AwsCredentials,
    )
    return { value: chained.value, expiresAt: Math.min(first.expiresAt, chained.expiresAt) }
  }

  /** One STS Query API call (POST, form encoded); signed with `as` when given (AssumeRole). */
  async #sts(params: Record<string, string>, as: AwsCredentials | null): Promise<FetchedToken> {
    const body = new URLSearchParams({ ...params, Version: STS_VERSION }).toString()
    const url = new URL(this.settings.stsEndpoint)
    let headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', accept: 'application/xml' }
    if (as !== null) {
      const signed = await signAws({ method: 'POST', url, headers: { ...headers, host: url.host }, body: Buffer.from(body) }, as, { service: 'sts', region: this.settings.stsRegion })
      headers = { ...headers, ...signed }
    }
    const { status, text } = await callProvider(this.transport, this.name, `STS ${params.Action}`, url.toString(), { method: 'POST', headers, body })
    if (status !== 200) {
      // STS errors: <ErrorResponse><Error><Type/><Code/><Message/></Error></ErrorResponse>; the code is safe to repeat.
      const code = xmlValue(text, 'Code')
      throw providerFailure(this.name, `STS ${params.Action} answered HTTP ${status}${code !== null ? ` (${code.slice(0, 64)})` : ''}`)
    }
    const accessKeyId = xmlValue(text, 'AccessKeyId')
    const secretAccessKey = xmlValue(text, 'SecretAccessKey')
    const sessionToken = xmlValue(text, 'SessionToken')
    const expiration = xmlValue(text, 'Expiration')
    const expiresAt = expiration === null ? NaN : Date.parse(expiration)
    if (accessKeyId === null || secretAccessKey === null || sessionToken === null || !Number.isFinite(expiresAt)) {
      throw providerFailure(this.name, `STS ${params.Action} answered without complete Credentials (AccessKeyId, SecretAccessKey, SessionToken, Expiration)`)
    }
    return { value: JSON.stringify({ accessKeyId, secretAccessKey, sessionToken } satisfies AwsCredentials), expiresAt }
  }
}

/** The text of the first `<name>` element (STS answers are small and flat; entities decoded). */
function xmlValue(xml: string, name: string): string | null {
  const m = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)
  if (m === null) return null
  return m[1]!.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!)
}

/** A request to sign: the URL's path and query exactly as they go on the wire. */
export interface SignableRequest {
  readonly method: string
  readonly url: URL
  /** Lower-case names; `host` included. */
  readonly headers: Record<string, string>
  /** The body, or null when there is none; ignored when `payloadHash` is given. */
  readonly body: Buffer | null
  /** The payload hash to sign (`x-amz-content-sha256` as sent, `UNSIGNED-PAYLOAD`), instead of hashing the body. */
  readonly payloadHash?: string
  /** Headers to sign even where the signer would leave them out (`date`, ...): those the agent's SDK signed. */
  readonly signableHeaders?: readonly string[]
}

/**
 * Sign with SigV4 and return the headers to add: authorization, x-amz-date, and
 * x-amz-security-token for temporary credentials. S3 signs its path as sent; every other
 * service's path is normalised and encoded once more, as the SDKs do.
 */
export async function signAws(req: SignableRequest, credentials: AwsCredentials | Omit<AwsCredentials, 'sessionToken'>, scope: { service: string; region: string }, at: Date = new Date()): Promise<Record<string, string>> {
  const signer = signerFor(credentials, scope)
  const query: Record<string, string | string[]> = {}
  for (const part of req.url.search.slice(1).split('&').filter(Boolean)) {
    const eq = part.indexOf('=')
    const key = decodeURIComponent((eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, '%20'))
    const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, '%20'))
    const prev = query[key]
    query[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
  }
  const headers = { ...req.headers }
  if (req.payloadHash !== undefined) headers['x-amz-content-sha256'] = req.payloadHash
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: req.url.protocol,
      hostname: req.url.hostname,
      ...(req.url.port !== '' ? { port: Number(req.url.port) } : {}),
      path: req.url.pathname,
      query,
      headers,
      body: req.body ?? undefined,
    },
    { signingDate: at, ...(req.signableHeaders !== undefined ? { signableHeaders: new Set(req.signableHeaders) } : {}) },
  )
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(signed.headers)) {
    const lower = name.toLowerCase()
    if (lower === 'authorization' || lower === 'x-amz-date' || lower === 'x-amz-security-token' || (lower === 'x-amz-content-sha256' && req.payloadHash !== undefined)) out[lower] = value
  }
  return out
}

/** Signers by keys and scope: each keeps its derived signing key for the day, so it is derived once, not per request. */
const signers = new Map<string, SignatureV4>()
const MAX_SIGNERS = 64

function signerFor(credentials: AwsCredentials | Omit<AwsCredentials, 'sessionToken'>, scope: { service: string; region: string }): SignatureV4 {
  const key = `${credentials.accessKeyId}\0${credentials.secretAccessKey}\0${'sessionToken' in credentials ? credentials.sessionToken : ''}\0${scope.service}\0${scope.region}`
  let signer = signers.get(key)
  if (signer === undefined) {
    // Keys rotate hourly: old signers are simply dropped once there are many.
    if (signers.size >= MAX_SIGNERS) signers.clear()
    signer = new SignatureV4({ service: scope.service, region: scope.region, credentials, sha256: Hash.bind(null, 'sha256'), uriEscapePath: scope.service !== 's3', applyChecksum: false })
    signers.set(key, signer)
  }
  return signer
}

/** SHA-256 of a body in hex, as SigV4 wants it. */
export function payloadSha256(body: Buffer | null): string {
  return createHash('sha256').update(body ?? Buffer.alloc(0)).digest('hex')
}

/**
 * The signing service and region of a request: from the agent SDK's own Authorization header
 * (its credential scope names both; the SDK knows services whose signing name differs from the
 * host, like bedrock-runtime -> bedrock), else the route's, else read from the AWS host name.
 */
export function awsScope(agentAuthorization: string | undefined, host: string, configured: { service: string | null; region: string | null }): { service: string; region: string } | null {
  const fromAgent = agentAuthorization === undefined ? null : /Credential=[^/,\s]+\/[0-9]{8}\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request/.exec(agentAuthorization)
  const fromHost = hostScope(host)
  const service = configured.service ?? fromAgent?.[2] ?? fromHost?.service ?? null
  const region = configured.region ?? fromAgent?.[1] ?? fromHost?.region ?? null
  return service === null || region === null ? null : { service, region }
}

/** Endpoint prefixes whose signing name differs. */
const SIGNING_NAMES: Record<string, string> = { 'bedrock-runtime': 'bedrock', 'bedrock-agent-runtime': 'bedrock', 'bedrock-agent': 'bedrock', 'runtime.sagemaker': 'sagemaker' }

function hostScope(host: string): { service: string; region: string } | null {
  const h = host.toLowerCase()
  let m = /^(?:[a-z0-9.-]+\.)?s3[.-](?:dualstack\.)?([a-z0-9-]+)\.amazonaws\.com$/.exec(h)
  if (m !== null) return { service: 's3', region: m[1]! }
  if (/^(?:[a-z0-9.-]+\.)?s3\.amazonaws\.com$/.test(h)) return { service: 's3', region: 'us-east-1' }
  if (h === 'sts.amazonaws.com') return { service: 'sts', region: 'us-east-1' }
  m = /^([a-z0-9-]+(?:\.[a-z]+)?)\.([a-z]{2}(?:-gov)?-[a-z]+-[0-9])\.amazonaws\.com$/.exec(h)
  if (m !== null) return { service: SIGNING_NAMES[m[1]!] ?? m[1]!, region: m[2]! }
  return null
}
