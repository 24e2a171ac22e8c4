import { createHash } from 'node:crypto'
import { resolve } from 'node:path'
import type { CredentialV1, SecretRefV1, SubjectTokenV1 } from '../policy/schema.js'
import { MintedJwtProvider } from './jwt.js'
import { ClientCredentialsProvider, TokenExchangeProvider, type ExchangeSubject, type TokenRequestSettings } from './oauth2.js'
import type { CredentialProvider } from './provider.js'
import type { CredentialRuntime } from './runtime.js'
import { EnvSource, FileSource, type SecretSource } from './secret-source.js'
import { AwsWebIdentityProvider } from './cloud/aws.js'
import { GcpImpersonationProvider } from './cloud/gcp.js'
import { VaultProvider, type VaultAuth, type VaultSecret } from './cloud/vault.js'
import { EnvSecretProvider, FileSecretProvider } from './static.js'
import { TokenEndpoint, type ClientAuth, type EndpointSource } from './token-endpoint.js'

/** The fields each credential type takes (beyond `type`); anything else is a policy error. */
const FIELDS: Record<CredentialV1['type'], { required: string[]; optional: string[] }> = {
  static: { required: [], optional: ['env', 'file'] },
  'oauth2-client-credentials': {
    required: ['client_id'],
    optional: ['issuer', 'token_endpoint', 'client_auth', 'client_secret', 'private_key', 'key_id', 'alg', 'scopes', 'audience', 'resource', 'params', 'timeout_ms', 'refresh_at'],
  },
  'oauth2-token-exchange': {
    required: ['subject_token'],
    optional: ['issuer', 'token_endpoint', 'client_id', 'client_auth', 'client_secret', 'private_key', 'key_id', 'alg', 'scopes', 'audience', 'resource', 'params', 'timeout_ms', 'refresh_at', 'actor_token', 'requested_token_type'],
  },
  jwt: { required: ['audience'], optional: ['lifetime_s', 'refresh_at'] },
  'aws-web-identity': { required: ['role_arn', 'token_file'], optional: ['chain_role_arn', 'session_name', 'sts_endpoint', 'sts_region', 'duration_s', 'timeout_ms', 'refresh_at'] },
  'gcp-workload-identity': { required: ['audience', 'token_file'], optional: ['service_account', 'scopes', 'sts_endpoint', 'iam_endpoint', 'lifetime_s', 'timeout_ms', 'refresh_at'] },
  'azure-workload-identity': { required: ['tenant_id', 'client_id', 'token_file', 'scopes'], optional: ['authority', 'timeout_ms', 'refresh_at'] },
  vault: { required: ['address', 'auth', 'secret'], optional: ['namespace', 'kv_refresh_s', 'timeout_ms', 'refresh_at'] },
}

/** Google's STS and IAM Credentials endpoints, and the scope every Google API accepts. */
const GCP_STS = 'https://sts.googleapis.com/v1/token'
const GCP_IAM = 'https://iamcredentials.googleapis.com'
const GCP_SCOPE = 'https://www.googleapis.com/auth/cloud-platform'
/** Where Kubernetes mounts the pod's own service-account token (Vault's Kubernetes auth default). */
const KUBERNETES_SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token'

/** RFC 8693 section 3 token type for a JWT. */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'

/** Where a credential definition is, and how to report a problem in it. */
export interface BuildContext {
  /** Directory relative file paths are resolved against (the policy file's). */
  readonly baseDir: string
  readonly runtime: CredentialRuntime
  /** Credentials built so far (an exchange may name a jwt credential as its subject). */
  readonly built: ReadonlyMap<string, CredentialProvider>
  problem(field: string | null, message: string): void
  /** Record an environment variable that holds a secret (`sidekey run` hides it from agents). */
  secretEnv(name: string): void
  /** Record a file a secret is read from (`sidekey run`'s sandbox hides it from agents). */
  secretFile(path: string): void
}

/** Build the provider for one credential definition, or report why not (returns null). */
export function buildCredential(name: string, def: CredentialV1, ctx: BuildContext): CredentialProvider | null {
  const fields = FIELDS[def.type]
  let ok = true
  const fail = (field: string | null, message: string): null => {
    ctx.problem(field, message)
    ok = false
    return null
  }
  for (const key of Object.keys(def)) {
    if (key !== 'type' && !fields.required.includes(key) && !fields.optional.includes(key)) fail(key, `${def.type} credentials do not take ${key}`)
  }
  for (const key of fields.required) if ((def as unknown as Record<string, unknown>)[key] === undefined) fail(null, `${key} is required for ${def.type}`)
  if (!ok) return null
  const fingerprint = createHash('sha256').update(JSON.stringify(def)).digest('base64url').slice(0, 12)
  const { runtime } = ctx

  if (def.type === 'static') {
    if ((def.env === undefined) === (def.file === undefined)) return fail(null, 'a static credential takes exactly one of env or file')
    if (def.env !== undefined) {
      ctx.secretEnv(def.env)
      return new EnvSecretProvider(name, def.env)
    }
    return new FileSecretProvider(name, fileOf(def.file!, ctx))
  }

  if (def.type === 'jwt') {
    const lifetimeS = def.lifetime_s ?? 300
    return new MintedJwtProvider(name, { audience: def.audience!, lifetimeS, refreshAt: def.refresh_at }, runtime, runtime.cache, fingerprint)
  }

  const transport = def.timeout_ms === undefined ? runtime.transport : { ...runtime.transport, timeoutMs: def.timeout_ms }
  // Projected tokens rotate: read the file on every use.
  const tokenFile = (path: string): SecretSource => new FileSource(fileOf(path, ctx), true)

  if (def.type === 'aws-web-identity') {
    const stsRegion = def.sts_region ?? 'us-east-1'
    return new AwsWebIdentityProvider(
      name,
      {
        roleArn: def.role_arn!,
        sessionName: def.session_name ?? 'sidekey',
        chainRoleArn: def.chain_role_arn ?? null,
        stsEndpoint: def.sts_endpoint ?? (def.sts_region !== undefined ? `https://sts.${stsRegion}.amazonaws.com/` : 'https://sts.amazonaws.com/'),
        stsRegion,
        durationS: def.duration_s ?? 3600,
        refreshAt: def.refresh_at,
      },
      tokenFile(def.token_file!),
      transport,
      runtime.cache,
      fingerprint,
    )
  }

  if (def.type === 'gcp-workload-identity') {
    const scopes = def.scopes ?? [GCP_SCOPE]
    const endpoint = new TokenEndpoint(name, { tokenEndpoint: def.sts_endpoint ?? GCP_STS }, { method: 'none', clientId: null }, transport)
    // Google STS (RFC 8693): the federated token is only good for impersonation or for APIs that
    // accept federated identities; with a service account it is exchanged once more.
    const federated = new TokenExchangeProvider(
      name,
      endpoint,
      {
        scopes,
        audience: def.audience!,
        resource: null,
        params: {},
        refreshAt: def.refresh_at,
        subject: { kind: 'file', source: tokenFile(def.token_file!), tokenType: JWT_TOKEN_TYPE },
        actor: null,
        requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
      },
      runtime.cache,
      fingerprint,
    )
    if (def.service_account === undefined) return federated
    return new GcpImpersonationProvider(name, federated, { serviceAccount: def.service_account, scopes, lifetimeS: def.lifetime_s ?? 3600, iamEndpoint: def.iam_endpoint ?? GCP_IAM, refreshAt: def.refresh_at }, transport, runtime.cache, fingerprint)
  }

  if (def.type === 'azure-workload-identity') {
    const authority = (def.authority ?? 'https://login.microsoftonline.com').replace(/\/$/, '')
    const endpoint = new TokenEndpoint(name, { tokenEndpoint: `${authority}/${def.tenant_id}/oauth2/v2.0/token` }, { method: 'federated_token', clientId: def.client_id!, token: tokenFile(def.token_file!) }, transport)
    return new ClientCredentialsProvider(name, endpoint, { scopes: def.scopes!, audience: null, resource: null, params: {}, refreshAt: def.refresh_at }, runtime.cache, fingerprint)
  }

  if (def.type === 'vault') {
    const a = def.auth!
    const auth: VaultAuth =
      a.method === 'kubernetes'
        ? { method: 'kubernetes', mount: a.mount ?? 'kubernetes', role: a.role, jwt: tokenFile(a.token_file ?? KUBERNETES_SA_TOKEN) }
        : { method: 'approle', mount: a.mount ?? 'approle', roleId: secretSource(a.role_id, ctx), secretId: secretSource(a.secret_id, ctx) }
    const s = def.secret!
    if ((s.kv2 === undefined) === (s.path === undefined)) return fail('secret', 'give exactly one of kv2 { mount, path } or path (a dynamic secret)')
    const secret: VaultSecret = s.kv2 !== undefined ? { engine: 'kv2', mount: s.kv2.mount ?? 'secret', path: s.kv2.path, field: s.field } : { engine: 'dynamic', path: s.path!, field: s.field }
    return new VaultProvider(name, { address: def.address!, namespace: def.namespace ?? null, auth, secret, kvRefreshS: def.kv_refresh_s ?? 300, refreshAt: def.refresh_at }, transport, runtime.cache, fingerprint)
  }

  // OAuth 2.0 grants
  if ((def.issuer === undefined) === (def.token_endpoint === undefined)) return fail(null, 'give exactly one of issuer (discovery) or token_endpoint')
  const endpointSource: EndpointSource = def.token_endpoint !== undefined ? { tokenEndpoint: def.token_endpoint } : { issuer: def.issuer! }
  for (const [field, url] of [['issuer', def.issuer], ['token_endpoint', def.token_endpoint]] as const) {
    if (url !== undefined && !/^https?:\/\/[^\s]+$/.test(url)) fail(field, `"${url}" is not an http(s) URL`)
  }
  const auth = clientAuth(def, ctx, fail)
  if (!ok || auth === null) return null
  const settings: TokenRequestSettings = {
    scopes: def.scopes ?? [],
    audience: def.audience ?? null,
    resource: def.resource ?? null,
    params: def.params ?? {},
    refreshAt: def.refresh_at,
  }
  const endpoint = new TokenEndpoint(name, endpointSource, auth, def.timeout_ms === undefined ? runtime.transport : { ...runtime.transport, timeoutMs: def.timeout_ms })
  if (def.type === 'oauth2-client-credentials') return new ClientCredentialsProvider(name, endpoint, settings, runtime.cache, fingerprint)

  const subject = exchangeSubject(def.subject_token!, 'subject_token', ctx, fail)
  const actor = def.actor_token === undefined ? null : exchangeSubject(def.actor_token, 'actor_token', ctx, fail)
  if (!ok || subject === null) return null
  return new TokenExchangeProvider(name, endpoint, { ...settings, subject, actor, requestedTokenType: def.requested_token_type ?? null }, runtime.cache, fingerprint)
}

function clientAuth(def: CredentialV1, ctx: BuildContext, fail: (field: string | null, message: string) => null): ClientAuth | null {
  const clientId = def.client_id ?? null
  const method = def.client_auth ?? (clientId === null ? 'none' : def.private_key !== undefined ? 'private_key_jwt' : 'client_secret_basic')
  if (method === 'none') {
    if (def.client_secret !== undefined || def.private_key !== undefined) return fail('client_auth', 'client_auth none takes no client_secret or private_key')
    return { method, clientId }
  }
  if (clientId === null) return fail('client_id', `client_auth ${method} needs client_id`)
  if (method === 'private_key_jwt') {
    if (def.private_key === undefined) return fail('private_key', 'private_key_jwt needs private_key')
    if (def.client_secret !== undefined) return fail('client_secret', 'private_key_jwt takes no client_secret')
    const key = secretSource(def.private_key, ctx)
    return { method, clientId, key, keyId: def.key_id ?? null, alg: def.alg ?? 'RS256' }
  }
  if (def.client_secret === undefined) return fail('client_secret', `${method} needs client_secret`)
  if (def.private_key !== undefined) return fail('private_key', `${method} takes no private_key`)
  return { method, clientId, secret: secretSource(def.client_secret, ctx) }
}

function secretSource(ref: SecretRefV1, ctx: BuildContext, alwaysReread = false): SecretSource {
  if (ref.env !== undefined) {
    ctx.secretEnv(ref.env)
    return new EnvSource(ref.env)
  }
  return new FileSource(fileOf(ref.file!, ctx), alwaysReread)
}

/** A secret file's absolute path (relative to the policy file), recorded so the sandbox hides it. */
function fileOf(path: string, ctx: BuildContext): string {
  const absolute = resolve(ctx.baseDir, path)
  ctx.secretFile(absolute)
  return absolute
}

function exchangeSubject(ref: SubjectTokenV1, field: string, ctx: BuildContext, fail: (field: string | null, message: string) => null): ExchangeSubject | null {
  const given = [ref.file, ref.env, ref.credential].filter((v) => v !== undefined).length
  if (given !== 1) return fail(field, 'give exactly one of file, env or credential')
  if (ref.credential !== undefined) {
    const provider = ctx.built.get(ref.credential)
    if (!(provider instanceof MintedJwtProvider)) return fail(field, `"${ref.credential}" is not a jwt credential defined before this one`)
    return { kind: 'minted', provider, tokenType: ref.type ?? JWT_TOKEN_TYPE }
  }
  // Projected service-account tokens rotate: read the file on every exchange.
  return { kind: 'file', source: secretSource(ref, ctx, true), tokenType: ref.type ?? JWT_TOKEN_TYPE }
}
