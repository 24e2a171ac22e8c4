import { NAME_PATTERN } from '../identity/workload-name.js';
const headerName = { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", maxLength: 128 };
const template = { type: 'string', minLength: 1, maxLength: 1024 };
const envName = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' };
const secretRef = {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    maxProperties: 1,
    properties: { env: envName, file: { type: 'string', minLength: 1 } },
};
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
};
const celSource = { type: 'string', minLength: 1, maxLength: 2048 };
const clock = { type: 'string', pattern: '^([01][0-9]|2[0-4]):[0-5][0-9]$' };
const vaultPath = { type: 'string', pattern: '^[\\w.-]+(/[\\w.-]+)*$' };
const subjectToken = {
    type: 'object',
    additionalProperties: false,
    properties: { env: envName, file: { type: 'string', minLength: 1 }, credential: { type: 'string', minLength: 1 }, type: { type: 'string', minLength: 1 } },
};
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
};
/** Every field name some credential type takes: an unknown one is a typo, a known one is the wrong type's. */
export const CREDENTIAL_FIELDS = new Set(Object.keys(credentialFieldShapes));
/** The schema of one credential type: exactly its fields, its required ones required. */
function credentialTypeSchema(type, fields) {
    const presence = Object.entries(fields);
    return {
        additionalProperties: false,
        required: presence.filter(([, p]) => p === 'required').map(([name]) => name),
        properties: { type: { const: type }, ...Object.fromEntries(presence.map(([name]) => [name, credentialFieldShapes[name]])) },
    };
}
/** The fields both OAuth 2.0 grants take (OAuth2GrantV1). */
const oauth2Grant = {
    issuer: 'optional', token_endpoint: 'optional', client_auth: 'optional', client_secret: 'optional', private_key: 'optional', key_id: 'optional', alg: 'optional',
    scopes: 'optional', audience: 'optional', resource: 'optional', params: 'optional', timeout_ms: 'optional', refresh_at: 'optional',
};
/** One schema per credential type, by type. */
const credentialTypeSchemas = {
    static: credentialTypeSchema('static', { env: 'optional', file: 'optional' }),
    'oauth2-client-credentials': credentialTypeSchema('oauth2-client-credentials', { ...oauth2Grant, client_id: 'required' }),
    'oauth2-token-exchange': credentialTypeSchema('oauth2-token-exchange', { ...oauth2Grant, client_id: 'optional', subject_token: 'required', actor_token: 'optional', requested_token_type: 'optional' }),
    'oauth2-authorization-code': credentialTypeSchema('oauth2-authorization-code', { ...oauth2Grant, client_id: 'optional', authorization_endpoint: 'optional', revocation_endpoint: 'optional', protected_resource: 'optional' }),
    jwt: credentialTypeSchema('jwt', { audience: 'required', lifetime_s: 'optional', refresh_at: 'optional' }),
    'aws-web-identity': credentialTypeSchema('aws-web-identity', {
        role_arn: 'required', token_file: 'required', chain_role_arn: 'optional', session_name: 'optional', sts_endpoint: 'optional', sts_region: 'optional', duration_s: 'optional', timeout_ms: 'optional', refresh_at: 'optional',
    }),
    'gcp-workload-identity': credentialTypeSchema('gcp-workload-identity', {
        audience: 'required', token_file: 'required', service_account: 'optional', scopes: 'optional', sts_endpoint: 'optional', iam_endpoint: 'optional', lifetime_s: 'optional', timeout_ms: 'optional', refresh_at: 'optional',
    }),
    'azure-workload-identity': credentialTypeSchema('azure-workload-identity', { tenant_id: 'required', client_id: 'required', token_file: 'required', scopes: 'required', authority: 'optional', timeout_ms: 'optional', refresh_at: 'optional' }),
    vault: credentialTypeSchema('vault', { address: 'required', auth: 'required', secret: 'required', namespace: 'optional', kv_refresh_s: 'optional', timeout_ms: 'optional', refresh_at: 'optional' }),
};
/**
 * A credential definition: `type` picks the one schema that applies (if/then rather than oneOf,
 * so an error comes from that type's schema alone and names the field that is wrong for it).
 */
const credentialDefinition = {
    type: 'object',
    required: ['type'],
    properties: { type: { enum: Object.keys(credentialTypeSchemas) } },
    allOf: Object.entries(credentialTypeSchemas).map(([type, schema]) => ({ if: { required: ['type'], properties: { type: { const: type } } }, then: schema })),
};
const mcpGlobs = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 } };
/**
 * A tool, resource or prompt rule: `key` names what its glob matches (`name` or `uri`). Its
 * conditions and approval are a route's (the same schema, by reference).
 */
function mcpRules(key) {
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
    };
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
};
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
                                properties: { service: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' }, region: { type: 'string', pattern: '^[a-z]{2}(-gov)?-[a-z]+-[0-9]$' }, unsigned_payload: { type: 'boolean' } },
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
};
//# sourceMappingURL=schema.js.map