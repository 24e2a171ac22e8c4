/**
 * A credential provider turns a policy's credential definition into a secret at request time.
 * Providers fail closed: `obtain` either returns a secret or throws a SidekeyError with code
 * SIDEKEY_ERR_CREDENTIAL_UNAVAILABLE, whose message names the provider but never a secret value.
 */
export interface CredentialProvider {
  /** The credential's name in policy (safe to log). */
  readonly name: string
  /** The provider type (`static`, ...), safe to log. */
  readonly type: string
  /** Obtain the secret for a request made by `workload` (null: anonymous caller). */
  obtain(workload: string | null): Promise<ObtainedCredential>
  /**
   * Forget `secret` for `workload` because an upstream answered 401 to it, so the next request
   * obtains a fresh one (at most once per key per interval: token-cache.ts). True when it was
   * forgotten. Providers without a cache leave this out.
   */
  invalidate?(workload: string | null, secret: string): boolean
  /** True when `invalidate` would forget the credential for `workload` now. */
  mayInvalidate?(workload: string | null): boolean
  /**
   * True when a 401 to this credential is worth one refresh and one more try of the same request
   * (a person's delegated grant: the provider may have revoked the access token early). Never more
   * than once per request.
   */
  readonly retryAfter401?: boolean
  /**
   * True when a token for `workload` is cached and usable now, so a request would not wait for the
   * identity provider (`sidekey explain`). Providers without a cache leave this out.
   */
  cached?(workload: string | null): boolean
}

/** A secret and where it came from, for the audit line (`source`, never `secret`). */
export interface ObtainedCredential {
  readonly secret: string
  readonly source: 'env' | 'file' | 'cache' | 'fetch'
  /** AWS temporary credentials, for routes that sign with SigV4 (`secret` is then the secret access key). */
  readonly aws?: AwsCredentials
  /** When a fetched token expires (ms since the epoch): the scanner remembers it until then. */
  readonly expiresAt?: number
}

/** Temporary AWS credentials (from STS). */
export interface AwsCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
}
