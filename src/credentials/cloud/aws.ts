import type { AwsCredentials, CredentialProvider, ObtainedCredential } from '../provider.js'
import type { SecretSource } from '../secret-source.js'
import type { FetchedToken, TokenCache } from '../token-cache.js'
import type { IdpTransport } from '../provider-http.js'
import { callProvider, providerCode, providerFailure } from '../provider-http.js'
import { signAws } from './aws-sigv4.js'

/**
 * AWS: temporary credentials from STS AssumeRoleWithWebIdentity with the workload's projected
 * token (the IRSA / EKS pattern), optionally chained into another role with AssumeRole, cached
 * and refreshed before expiry. Routes sign with them (inject/sigv4.ts), so the agent's SDK runs
 * with placeholder keys and never holds a real one.
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
    return { secret: aws.secretAccessKey, source: token.source, aws, expiresAt: token.expiresAt }
  }

  cached(): boolean {
    return this.cache.holds(this.#key)
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
      const code = providerCode(xmlValue(text, 'Code'))
      throw providerFailure(this.name, `STS ${params.Action} answered HTTP ${status}${code !== null ? ` (${code})` : ''}`)
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
