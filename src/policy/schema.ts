import { NAME_PATTERN } from '../identity/workload-name.js'

/**
 * The YAML shape users write (policy format `version: v1`), as a JSON Schema validated by ajv with
 * every error collected. Kept apart from the domain types in `types.ts`: this file changes only when
 * the file format does.
 */

/** A policy file as written. */
export interface PolicyFileV1 {
  version: 'v1'
  credentials?: Record<string, CredentialV1>
  routes?: RouteV1[]
  monitoring?: MonitoringV1
  approvals?: ApprovalsV1
}

/** Where approvers are notified, and the default wait (one file at most). */
export interface ApprovalsV1 {
  webhook?: WebhookV1
  timeout_s?: number
  quarantine_after_denials?: number
  max_held?: number
  max_held_per_workload?: number
  max_body_bytes?: number
}

/** A route's conditions as written. */
export interface ConditionsV1 {
  time?: { days?: string[]; from?: string; to?: string; zone?: string }
  max_body_bytes?: number
  cel?: string[]
  rate?: { requests: number; per_s: number; window?: 'sliding' | 'fixed'; on_store_error?: 'refuse' | 'allow' }
  quota?: { requests: number; per: 'hour' | 'day'; zone?: string; on_store_error?: 'refuse' | 'allow' }
}

/** Baselines, anomaly thresholds and automated responses, as written (one file at most). */
export interface MonitoringV1 {
  learning_s?: number
  window_s?: number
  thresholds?: { sigma?: number; factor?: number; min_requests?: number; min_bytes?: number; off_hours_share?: number; probing_share?: number }
  responses?: Partial<Record<'new-destination' | 'new-tool' | 'probing' | 'rate' | 'volume' | 'off-hours', 'alert' | 'throttle' | 'quarantine'>>
  throttle?: { rps?: number; burst?: number; duration_s?: number }
  webhook?: WebhookV1
}

/** A webhook as written: where, how long to wait, how often to retry, and the payload's shape. */
export interface WebhookV1 {
  url: string | SecretRefV1
  timeout_ms?: number
  retries?: number
  format?: 'json' | 'slack'
}

/** A secret reference: one of sidekey's environment variables, or a file (exactly one). */
export type SecretRefV1 = { env: string; file?: undefined } | { file: string; env?: undefined }

/** A subject or actor token for token exchange: one of file, env or credential (checked when built). */
export interface SubjectTokenV1 {
  env?: string
  file?: string
  /** A jwt credential whose minted token is the subject. */
  credential?: string
  /** RFC 8693 token type URI (default urn:ietf:params:oauth:token-type:jwt). */
  type?: string
}

/** A static secret: exactly one of env or file (checked when built). */
export interface StaticCredentialV1 {
  type: 'static'
  env?: string
  file?: string
}

/** What both OAuth 2.0 grants take: where the token endpoint is, how sidekey authenticates, what it asks for. */
interface OAuth2GrantV1 {
  issuer?: string
  token_endpoint?: string
  client_auth?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none'
  client_secret?: SecretRefV1
  private_key?: SecretRefV1
  key_id?: string
  alg?: string
  scopes?: string[]
  audience?: string
  resource?: string
  params?: Record<string, string>
  timeout_ms?: number
  refresh_at?: number
}

/** OAuth 2.0 client credentials grant (RFC 6749 section 4.4). */
export interface ClientCredentialsV1 extends OAuth2GrantV1 {
  type: 'oauth2-client-credentials'
  client_id: string
}

/** OAuth 2.0 token exchange (RFC 8693). */
export interface TokenExchangeV1 extends OAuth2GrantV1 {
  type: 'oauth2-token-exchange'
  client_id?: string
  subject_token: SubjectTokenV1
  actor_token?: SubjectTokenV1
  requested_token_type?: string
}

/**
 * A person's delegated OAuth grant (authorization code with PKCE): connected once from the console
 * or `sidekey oauth connect`, then held and refreshed by sidekey.
 */
export interface AuthorizationCodeV1 extends OAuth2GrantV1 {
  type: 'oauth2-authorization-code'
  /** Pre-registered client; without it sidekey registers itself dynamically (RFC 7591). */
  client_id?: string
  /** With token_endpoint (no issuer): where the person is sent to consent. */
  authorization_endpoint?: string
  /** With token_endpoint (no issuer): RFC 7009 revocation endpoint. */
  revocation_endpoint?: string
  /** Instead of issuer or token_endpoint: the protected resource (an MCP server's URL) whose RFC 9728 metadata names the issuer. */
  protected_resource?: string
}

/** A JWT sidekey mints and signs for the calling workload. */
export interface JwtCredentialV1 {
  type: 'jwt'
  audience: string
  lifetime_s?: number
  refresh_at?: number
}

/** AWS STS AssumeRoleWithWebIdentity with a projected token, optionally chained into another role. */
export interface AwsWebIdentityV1 {
  type: 'aws-web-identity'
  role_arn: string
  token_file: string
  chain_role_arn?: string
  session_name?: string
  sts_endpoint?: string
  sts_region?: string
  duration_s?: number
  timeout_ms?: number
  refresh_at?: number
}

/** Google workload identity federation (STS), optionally impersonating a service account. */
export interface GcpWorkloadIdentityV1 {
  type: 'gcp-workload-identity'
  audience: string
  token_file: string
  service_account?: string
  scopes?: string[]
  sts_endpoint?: string
  iam_endpoint?: string
  lifetime_s?: number
  timeout_ms?: number
  refresh_at?: number
}

/** Microsoft Entra workload identity federation: a projected token as the client assertion. */
export interface AzureWorkloadIdentityV1 {
  type: 'azure-workload-identity'
  tenant_id: string
  client_id: string
  token_file: string
  scopes: string[]
  authority?: string
  timeout_ms?: number
  refresh_at?: number
}

/** A secret read from HashiCorp Vault (or OpenBao). */
export interface VaultCredentialV1 {
  type: 'vault'
  address: string
  auth: { method: 'kubernetes'; role: string; mount?: string; token_file?: string } | { method: 'approle'; role_id: SecretRefV1; secret_id: SecretRefV1; mount?: string }
  /** Exactly one of kv2 or path (checked when built). */
  secret: { kv2?: { mount?: string; path: string }; path?: string; field: string }
  namespace?: string
  kv_refresh_s?: number
  timeout_ms?: number
  refresh_at?: number
}

/** A credential definition as written: which fields it takes depends on its `type`. */
export type CredentialV1 =
  | StaticCredentialV1
  | ClientCredentialsV1
  | TokenExchangeV1
  | AuthorizationCodeV1
  | JwtCredentialV1
  | AwsWebIdentityV1
  | GcpWorkloadIdentityV1
  | AzureWorkloadIdentityV1
  | VaultCredentialV1

/** A route as written. */
export interface RouteV1 {
  name: string
  host: string
  ports?: number[] | '*'
  methods?: string[]
  paths?: string[]
  workloads?: string[]
  action?: 'allow' | 'deny' | 'tunnel'
  credential?: string
  inject?: InjectV1
  strip?: string[]
  addresses?: string[]
  conditions?: ConditionsV1
  approval?: { when?: string; timeout_s?: number; mode?: 'wait' | 'async'; retry_after_s?: number; approved_for_s?: number }
  scrub?: boolean
  pin_sha256?: string
  upgrades?: 'websocket'[]
  method_override?: boolean
  http2?: boolean
  mcp?: McpV1
}

/** An MCP endpoint's per-method, per-tool, per-resource and per-prompt policy, as written (docs/mcp.md). */
export interface McpV1 {
  /** The 2026-07-28 revision: no sessions, so no GET stream and no DELETE. */
  stateless?: boolean
  /** Put each call's arguments on the audit line (managed secrets masked). */
  log_arguments?: boolean
  methods?: { allow?: string[]; deny?: string[] }
  tools?: McpRuleV1[]
  resources?: McpRuleV1[]
  prompts?: McpRuleV1[]
}

/** One tool, resource or prompt rule: `name` (tools, prompts) or `uri` (resources), a glob. */
export interface McpRuleV1 {
  name?: string
  uri?: string
  action?: 'allow' | 'deny'
  conditions?: ConditionsV1
  approval?: RouteV1['approval']
}

/** How a credential is injected, as written. */
export interface InjectV1 {
  header?: string
  query?: string
  basic?: { username?: string; password?: string }
  value?: string
  sigv4?: { service?: string; region?: string; unsigned_payload?: boolean; allow?: string[] }
}

const headerName = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", maxLength: 128 }
const template = { type: 'string', minLength: 1, maxLength: 1024 }
const envName = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }
const secretRef = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: { env: envName, file: { type: 'string', minLength: 1 } },
}
const webhook = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { oneOf: [{ type: 'string', pattern: '^https?://' }, secretRef] },
    timeout_ms: { type: 'integer', minimum: 100, maximum: 60000 },
    retries: { type: 'integer', minimum: 0, maximum: 10 },
    format: { enum: ['json', 'slack'] },
  },
}
const celSource = { type: 'string', minLength: 1, maxLength: 2048 }
const clock = { type: 'string', pattern: '^([01][0-9]|2[0-4]):[0-5][0-9]$' }
const vaultPath = { type: 'string', pattern: '^[\\w.-]+(/[\\w.-]+)*$' }
const subjectToken = {
  type: 'object',
  additionalProperties: false,
  properties: { env: envName, file: { type: 'string', minLength: 1 }, credential: { type: 'string', minLength: 1 }, type: { type: 'string', minLength: 1 } },
}

/** The keys of each member of a union (`keyof` of a union keeps only the keys all members share). */
type KeysOfEach<U> = U extends unknown ? keyof U : never

/** Every field some credential type takes (beyond `type`). */
type CredentialField = Exclude<KeysOfEach<CredentialV1>, 'type'>

/** The shape of each credential field, the same whichever type takes it. */
const credentialFieldShapes = {
  env: envName,
  file: { type: 'string', minLength: 1 },
  issuer: { type: 'string', minLength: 1 },
  token_endpoint: { type: 'string', minLength: 1 },
  client_id: { type: 'string', minLength: 1 },
  client_auth: { enum: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] },
  client_secret: secretRef,
  private_key: secretRef,
  key_id: { type: 'string', minLength: 1 },
  alg: { enum: ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'] },
  scopes: { type: 'array', items: { type: 'string', pattern: '^[!#-\\[\\]-~]+$' } },
  audience: { type: 'string', minLength: 1 },
  resource: { type: 'string', minLength: 1 },
  params: { type: 'object', additionalProperties: { type: 'string' } },
  timeout_ms: { type: 'integer', minimum: 100, maximum: 120000 },
  refresh_at: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
  subject_token: subjectToken,
  actor_token: subjectToken,
  requested_token_type: { type: 'string', minLength: 1 },
  lifetime_s: { type: 'integer', minimum: 30, maximum: 3600 },
  token_file: { type: 'string', minLength: 1 },
  role_arn: { type: 'string', pattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\w+=,.@/-]{1,512}$' },
  chain_role_arn: { type: 'string', pattern: '^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\\w+=,.@/-]{1,512}$' },
  session_name: { type: 'string', pattern: '^[\\w+=,.@-]{2,64}$' },
  sts_endpoint: { type: 'string', pattern: '^https?://' },
  sts_region: { type: 'string', pattern: '^[a-z]{2}(-gov)?-[a-z]+-[0-9]$' },
  duration_s: { type: 'integer', minimum: 900, maximum: 43200 },
  service_account: { type: 'string', pattern: '^[^@\\s/]+@[^@\\s/]+$' },
  iam_endpoint: { type: 'string', pattern: '^https?://' },
  tenant_id: { type: 'string', pattern: '^[A-Za-z0-9.-]{1,64}$' },
  authority: { type: 'string', pattern: '^https?://' },
  address: { type: 'string', pattern: '^https?://' },
  namespace: { type: 'string', minLength: 1 },
  auth: {
    type: 'object',
    required: ['method'],
    oneOf: [
      { additionalProperties: false, required: ['method', 'role'], properties: { method: { const: 'kubernetes' }, role: { type: 'string', minLength: 1 }, mount: vaultPath, token_file: { type: 'string', minLength: 1 } } },
      { additionalProperties: false, required: ['method', 'role_id', 'secret_id'], properties: { method: { const: 'approle' }, role_id: secretRef, secret_id: secretRef, mount: vaultPath } },
    ],
  },
  secret: {
    type: 'object',
    additionalProperties: false,
    required: ['field'],
    properties: {
      kv2: { type: 'object', additionalProperties: false, required: ['path'], properties: { mount: vaultPath, path: vaultPath } },
      path: vaultPath,
      field: { type: 'string', minLength: 1 },
    },
  },
  kv_refresh_s: { type: 'integer', minimum: 10, maximum: 86400 },
  authorization_endpoint: { type: 'string', pattern: '^https?://' },
  revocation_endpoint: { type: 'string', pattern: '^https?://' },
  protected_resource: { type: 'string', pattern: '^https?://' },
} satisfies Record<CredentialField, object>

/** Every field name some credential type takes: an unknown one is a typo, a known one is the wrong type's. */
export const CREDENTIAL_FIELDS: ReadonlySet<string> = new Set(Object.keys(credentialFieldShapes))

/** Each field of a definition (but `type`), marked as its interface marks it; the compiler keeps the two in step. */
type FieldPresence<D> = { [K in Exclude<keyof D, 'type'>]-?: object extends Pick<D, K> ? 'optional' : 'required' }

/** The schema of one credential type: exactly its fields, its required ones required. */
function credentialTypeSchema<D extends CredentialV1>(type: D['type'], fields: FieldPresence<D>): object {
  const presence = Object.entries(fields) as [CredentialField, 'optional' | 'required'][]
  return {
    additionalProperties: false,
    required: presence.filter(([, p]) => p === 'required').map(([name]) => name),
    properties: { type: { const: type }, ...Object.fromEntries(presence.map(([name]) => [name, credentialFieldShapes[name]])) },
  }
}

/** The fields both OAuth 2.0 grants take (OAuth2GrantV1). */
const oauth2Grant = {
  issuer: 'optional', token_endpoint: 'optional', client_auth: 'optional', client_secret: 'optional', private_key: 'optional', key_id: 'optional', alg: 'optional',
  scopes: 'optional', audience: 'optional', resource: 'optional', params: 'optional', timeout_ms: 'optional', refresh_at: 'optional',
} as const

/** One schema per credential type, by type. */
const credentialTypeSchemas: Record<CredentialV1['type'], object> = {
  static: credentialTypeSchema<StaticCredentialV1>('static', { env: 'optional', file: 'optional' }),
  'oauth2-client-credentials': credentialTypeSchema<ClientCredentialsV1>('oauth2-client-credentials', { ...oauth2Grant, client_id: 'required' }),
  'oauth2-token-exchange': credentialTypeSchema<TokenExchangeV1>('oauth2-token-exchange', { ...oauth2Grant, client_id: 'optional', subject_token: 'required', actor_token: 'optional', requested_token_type: 'optional' }),
  'oauth2-authorization-code': credentialTypeSchema<AuthorizationCodeV1>('oauth2-authorization-code', { ...oauth2Grant, client_id: 'optional', authorization_endpoint: 'optional', revocation_endpoint: 'optional', protected_resource: 'optional' }),
  jwt: credentialTypeSchema<JwtCredentialV1>('jwt', { audience: 'required', lifetime_s: 'optional', refresh_at: 'optional' }),
  'aws-web-identity': credentialTypeSchema<AwsWebIdentityV1>('aws-web-identity', {
    role_arn: 'required', token_file: 'required', chain_role_arn: 'optional', session_name: 'optional', sts_endpoint: 'optional', sts_region: 'optional', duration_s: 'optional', timeout_ms: 'optional', refresh_at: 'optional',
  }),
  'gcp-workload-identity': credentialTypeSchema<GcpWorkloadIdentityV1>('gcp-workload-identity', {
    audience: 'required', token_file: 'required', service_account: 'optional', scopes: 'optional', sts_endpoint: 'optional', iam_endpoint: 'optional', lifetime_s: 'optional', timeout_ms: 'optional', refresh_at: 'optional',
  }),
  'azure-workload-identity': credentialTypeSchema<AzureWorkloadIdentityV1>('azure-workload-identity', { tenant_id: 'required', client_id: 'required', token_file: 'required', scopes: 'required', authority: 'optional', timeout_ms: 'optional', refresh_at: 'optional' }),
  vault: credentialTypeSchema<VaultCredentialV1>('vault', { address: 'required', auth: 'required', secret: 'required', namespace: 'optional', kv_refresh_s: 'optional', timeout_ms: 'optional', refresh_at: 'optional' }),
}

/**
 * A credential definition: `type` picks the one schema that applies (if/then rather than oneOf,
 * so an error comes from that type's schema alone and names the field that is wrong for it).
 */
const credentialDefinition = {
  type: 'object',
  required: ['type'],
  properties: { type: { enum: Object.keys(credentialTypeSchemas) } },
  allOf: Object.entries(credentialTypeSchemas).map(([type, schema]) => ({ if: { required: ['type'], properties: { type: { const: type } } }, then: schema })),
}

const mcpGlobs = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 } }

/**
 * A tool, resource or prompt rule: `key` names what its glob matches (`name` or `uri`). Its
 * conditions and approval are a route's (the same schema, by reference).
 */
function mcpRules(key: 'name' | 'uri'): object {
  return {
    type: 'array',
    items: {
      type: 'object',
      additionalProperties: false,
      required: [key],
      properties: {
        [key]: { type: 'string', minLength: 1, maxLength: 1024 },
        action: { enum: ['allow', 'deny'] },
        conditions: { $ref: '#/properties/routes/items/properties/conditions' },
        approval: { $ref: '#/properties/routes/items/properties/approval' },
      },
    },
  }
}

/** A route's `mcp:` block (docs/mcp.md). */
const mcpSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    stateless: { type: 'boolean' },
    log_arguments: { type: 'boolean' },
    methods: { type: 'object', additionalProperties: false, properties: { allow: mcpGlobs, deny: mcpGlobs } },
    tools: mcpRules('name'),
    resources: mcpRules('uri'),
    prompts: mcpRules('name'),
  },
}

/** JSON Schema for one policy file. `additionalProperties: false` everywhere: a typo is an error. */
export const policyFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: {
    version: { const: 'v1' },
    credentials: {
      type: 'object',
      propertyNames: { pattern: NAME_PATTERN },
      additionalProperties: credentialDefinition,
    },
    monitoring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        learning_s: { type: 'integer', minimum: 0 },
        window_s: { type: 'integer', minimum: 1, maximum: 3600 },
        thresholds: {
          type: 'object',
          additionalProperties: false,
          properties: {
            sigma: { type: 'number', minimum: 0 },
            factor: { type: 'number', minimum: 1 },
            min_requests: { type: 'integer', minimum: 1 },
            min_bytes: { type: 'integer', minimum: 0 },
            off_hours_share: { type: 'number', minimum: 0, maximum: 1 },
            probing_share: { type: 'number', minimum: 0, maximum: 1 },
          },
        },
        responses: {
          type: 'object',
          additionalProperties: false,
          properties: Object.fromEntries(['new-destination', 'new-tool', 'probing', 'rate', 'volume', 'off-hours'].map((k) => [k, { enum: ['alert', 'throttle', 'quarantine'] }])),
        },
        throttle: {
          type: 'object',
          additionalProperties: false,
          properties: { rps: { type: 'number', exclusiveMinimum: 0 }, burst: { type: 'integer', minimum: 1 }, duration_s: { type: 'integer', minimum: 1 } },
        },
        webhook,
      },
    },
    approvals: {
      type: 'object',
      additionalProperties: false,
      properties: {
        webhook,
        timeout_s: { type: 'integer', minimum: 1, maximum: 86400 },
        quarantine_after_denials: { type: 'integer', minimum: 0, maximum: 1000 },
        max_held: { type: 'integer', minimum: 1, maximum: 100000 },
        max_held_per_workload: { type: 'integer', minimum: 1, maximum: 100000 },
        // At most 1 MiB: a record travels whole to the console's event stream, the webhook and Redis.
        max_body_bytes: { type: 'integer', minimum: 0, maximum: 1048576 },
      },
    },
    routes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'host'],
        properties: {
          name: { type: 'string', pattern: NAME_PATTERN },
          host: { type: 'string', minLength: 1, maxLength: 255 },
          ports: {
            oneOf: [
              { const: '*' },
              { type: 'array', minItems: 1, items: { type: 'integer', minimum: 1, maximum: 65535 } },
            ],
          },
          methods: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z]+$' } },
          paths: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^/' } },
          workloads: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          action: { enum: ['allow', 'deny', 'tunnel'] },
          credential: { type: 'string' },
          inject: {
            // Exactly one of header/query/basic is checked in load.ts.
            type: 'object',
            additionalProperties: false,
            properties: {
              header: headerName,
              query: { type: 'string', minLength: 1, maxLength: 128 },
              basic: {
                type: 'object',
                additionalProperties: false,
                properties: { username: template, password: template },
              },
              value: template,
              sigv4: {
                type: 'object',
                additionalProperties: false,
                properties: { service: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' }, region: { type: 'string', pattern: '^[a-z]{2}(-gov)?-[a-z]+-[0-9]$' }, unsigned_payload: { type: 'boolean' }, allow: { type: 'array', items: { type: 'string', pattern: '^[?]?[A-Za-z0-9-]{1,64}$' } } },
              },
            },
          },
          strip: { type: 'array', items: headerName },
          addresses: { type: 'array', items: { type: 'string' } },
          conditions: {
            type: 'object',
            additionalProperties: false,
            properties: {
              time: {
                type: 'object',
                additionalProperties: false,
                required: ['from', 'to'],
                properties: {
                  days: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[a-zA-Z]{3}(-[a-zA-Z]{3})?$' } },
                  from: clock,
                  to: clock,
                  zone: { type: 'string', minLength: 1 },
                },
              },
              max_body_bytes: { type: 'integer', minimum: 0, maximum: 1073741824 },
              cel: { type: 'array', minItems: 1, items: celSource },
              rate: {
                type: 'object',
                additionalProperties: false,
                required: ['requests', 'per_s'],
                properties: { requests: { type: 'integer', minimum: 1 }, per_s: { type: 'integer', minimum: 1, maximum: 86400 }, window: { enum: ['sliding', 'fixed'] }, on_store_error: { enum: ['refuse', 'allow'] } },
              },
              quota: {
                type: 'object',
                additionalProperties: false,
                required: ['requests', 'per'],
                properties: { requests: { type: 'integer', minimum: 1 }, per: { enum: ['hour', 'day'] }, zone: { type: 'string', minLength: 1 }, on_store_error: { enum: ['refuse', 'allow'] } },
              },
            },
          },
          approval: {
            type: 'object',
            additionalProperties: false,
            properties: {
              when: celSource,
              timeout_s: { type: 'integer', minimum: 1, maximum: 86400 },
              mode: { enum: ['wait', 'async'] },
              retry_after_s: { type: 'integer', minimum: 1, maximum: 3600 },
              approved_for_s: { type: 'integer', minimum: 1, maximum: 2592000 },
            },
          },
          scrub: { type: 'boolean' },
          pin_sha256: { type: 'string', pattern: '^[0-9a-fA-F]{64}$' },
          // Only WebSocket frames can be inspected, so it is the only protocol a route can allow.
          upgrades: { type: 'array', uniqueItems: true, items: { enum: ['websocket'] } },
          method_override: { type: 'boolean' },
          mcp: mcpSchema,
          http2: { type: 'boolean' },
        },
      },
    },
  },
} as const
