/**
 * The YAML shape users write (policy format `version: v1`), as a JSON Schema validated by ajv with
 * every error collected. Kept apart from the domain types in `types.ts` (after smokescreen's
 * `acl/v1/yaml_loader.go`): this file changes only when the file format does.
 */

/** A policy file as written. */
export interface PolicyFileV1 {
  version: 'v1'
  credentials?: Record<string, CredentialV1>
  routes?: RouteV1[]
}

/** A credential definition as written. */
export interface CredentialV1 {
  type: 'static'
  env?: string
  file?: string
}

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
}

/** How a credential is injected, as written. */
export interface InjectV1 {
  header?: string
  query?: string
  basic?: { username?: string; password?: string }
  value?: string
}

const headerName = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", maxLength: 128 }
const template = { type: 'string', minLength: 1, maxLength: 1024 }

/** JSON Schema for one policy file. `additionalProperties: false` everywhere: a typo is an error. */
export const policyFileSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version'],
  properties: {
    version: { const: 'v1' },
    credentials: {
      type: 'object',
      propertyNames: { pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$' },
      additionalProperties: {
        // Exactly one of env/file is checked in load.ts, where the message can say so plainly.
        type: 'object',
        additionalProperties: false,
        required: ['type'],
        properties: {
          type: { enum: ['static'] },
          env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
          file: { type: 'string', minLength: 1 },
        },
      },
    },
    routes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'host'],
        properties: {
          name: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$' },
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
            },
          },
          strip: { type: 'array', items: headerName },
          addresses: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
} as const
