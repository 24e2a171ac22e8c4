/**
 * The sidecar as Kubernetes objects: the sidekey container, the iptables init container of
 * transparent mode, their volumes, and what the agent's containers get (proxy variables and the
 * CA-trust variables every common runtime reads). The admission webhook builds pods from this; the
 * Helm chart writes the same shape in templates, and a test holds the two to the same variables.
 */
import { CA_FILES, TRUSTSTORE_PASSWORD } from '../ca/files.js';
import { ANY_ADDRESS, DEFAULTS } from '../config.js';
/** Where things live inside the pod. */
export const PATHS = Object.freeze({
    certs: '/var/run/sidekey/certs',
    /** The public CA files (ca.pem, bundle.pem), shared read-only with the agent. */
    ca: '/etc/sidekey/ca',
    policies: '/etc/sidekey/policies',
    /** The existing CA's Secret (root-owned, 0444), copied by --ca-from into `certs` with the key at 0600. */
    caSecret: '/etc/sidekey/ca-secret',
    state: '/etc/sidekey/state',
    token: '/var/run/secrets/sidekey',
});
/** admin: loopback only; health and metrics: on the pod IP, each serving nothing else. */
export const PORTS = Object.freeze({ proxy: 3128, admin: 3129, health: 3130, metrics: 3131 });
/** A pod stops sidekey with SIGTERM, waits this long (the drain), then the kubelet's 5 s more before SIGKILL. */
export const DRAIN_SECONDS = DEFAULTS.drainTimeoutMs / 1000;
/** The ports redirected unless configured otherwise (the chart's `transparent.ports` default). */
export const DEFAULT_REDIRECTS = Object.freeze([
    { port: 443, listenPort: 15443, protocol: 'https' },
    { port: 80, listenPort: 15080, protocol: 'http' },
]);
/**
 * Variables that make common clients trust sidekey's CA, each with its value for the directory
 * that holds the trust files (`--publish-ca` in a pod, the certs directory for `sidekey run`).
 * Node adds NODE_EXTRA_CA_CERTS to its roots; the others replace their roots, so they get the
 * bundle (system roots plus the CA). docs/clients.md lists which client reads which.
 */
export const CA_TRUST_ENV = [
    ['NODE_EXTRA_CA_CERTS', (dir) => `${dir}/${CA_FILES.cert}`],
    ...['SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE', 'AWS_CA_BUNDLE', 'GIT_SSL_CAINFO', 'GRPC_DEFAULT_SSL_ROOTS_FILE_PATH', 'PIP_CERT'].map((name) => [name, (dir) => `${dir}/${CA_FILES.bundle}`]),
    // The environment outranks every npmrc, and a global npmrc with its own cafile is common.
    ['npm_config_cafile', (dir) => `${dir}/${CA_FILES.bundle}`],
    // wget on GnuTLS (Debian's) reads no trust variable, only its startup file.
    ['WGETRC', (dir) => `${dir}/${CA_FILES.wgetrc}`],
    ['JAVA_TOOL_OPTIONS', (dir) => javaTrustOptions(`${dir}/${CA_FILES.truststore}`)],
];
/** JVM options that make Java trust the PKCS#12 store at `path` (system roots plus sidekey's CA). */
function javaTrustOptions(path) {
    return `-Djavax.net.ssl.trustStore=${path} -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=${TRUSTSTORE_PASSWORD}`;
}
/** Variables for the agent's containers. */
export function agentEnv(mode, noProxy) {
    const trust = CA_TRUST_ENV.map(([name, value]) => ({ name, value: value(PATHS.ca) }));
    if (mode === 'transparent')
        return trust;
    const proxy = `http://127.0.0.1:${PORTS.proxy}`;
    return [
        ...['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'].map((name) => ({ name, value: proxy })),
        ...['NO_PROXY', 'no_proxy'].map((name) => ({ name, value: noProxy })),
        // Node 24+ reads the proxy variables for fetch and http when this is set.
        { name: 'NODE_USE_ENV_PROXY', value: '1' },
        ...trust,
    ];
}
/** httpGet probes on the health listener, with explicit timeouts (an exec probe started a whole Node process each time). */
export function sidekeyProbes() {
    const get = (path) => ({ httpGet: { path, port: PORTS.health } });
    return {
        // A native sidecar holds the pod's later containers until this passes.
        startupProbe: { ...get('/readyz'), periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 120 },
        readinessProbe: { ...get('/readyz'), periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
        livenessProbe: { ...get('/healthz'), periodSeconds: 20, timeoutSeconds: 2, failureThreshold: 3 },
    };
}
/** The sidekey container. */
export function sidekeyContainer(s, p) {
    return {
        name: 'sidekey',
        image: s.image,
        imagePullPolicy: s.imagePullPolicy,
        ...(s.native ? { restartPolicy: 'Always' } : {}),
        args: [
            'start',
            '--listen', `127.0.0.1:${PORTS.proxy}`,
            '--admin', `127.0.0.1:${PORTS.admin}`,
            '--health', `${ANY_ADDRESS}:${PORTS.health}`,
            '--policies', PATHS.policies,
            '--certs', PATHS.certs,
            ...(s.caSecret !== null ? ['--ca-from', PATHS.caSecret] : []),
            '--publish-ca', PATHS.ca,
            '--workload', p.workload,
            '--drain-timeout', String(s.drainSeconds * 1000),
            // A plain sidecar outlives a Job's agent unless the agent stops it (docs/kubernetes.md).
            ...(s.native ? [] : ['--shutdown-endpoint']),
            ...(p.mode === 'transparent' ? transparentArgs(s.redirects) : []),
            ...(s.stateConfigMap !== null ? ['--state', `${PATHS.state}/state.yaml`] : []),
            ...(p.reportOnly ? ['--report-only'] : []),
        ],
        env: [{ name: 'SIDEKEY_LOG_LEVEL', value: s.logLevel }, ...s.extraEnv],
        ports: [{ name: 'health', containerPort: PORTS.health, protocol: 'TCP' }],
        ...sidekeyProbes(),
        // Without native sidecars the kubelet starts containers in order, the next one once this hook
        // returns: sidekey goes first, and the agent starts when it is ready.
        ...(s.native ? {} : { lifecycle: { postStart: { exec: { command: ['node', '/app/dist/src/cli/main.js', 'health', '--ready', '--wait', '120'] } } } }),
        resources: s.resources,
        securityContext: {
            runAsUser: s.uid,
            runAsGroup: s.uid,
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
            seccompProfile: { type: 'RuntimeDefault' },
        },
        volumeMounts: [
            { name: 'sidekey-certs', mountPath: PATHS.certs },
            { name: 'sidekey-ca-public', mountPath: PATHS.ca },
            { name: 'sidekey-policies', mountPath: PATHS.policies, readOnly: true },
            ...(s.caSecret !== null ? [{ name: 'sidekey-ca-secret', mountPath: PATHS.caSecret, readOnly: true }] : []),
            ...(s.stateConfigMap !== null ? [{ name: 'sidekey-state', mountPath: PATHS.state, readOnly: true }] : []),
            ...s.extraVolumeMounts,
            ...(s.tokenAudience !== null ? [{ name: 'sidekey-token', mountPath: PATHS.token, readOnly: true }] : []),
        ],
    };
}
/** sidekey's transparent listeners: one per redirected port, each told the port it stands for. */
function transparentArgs(redirects) {
    return ['http', 'https'].flatMap((protocol) => {
        const mine = redirects.filter((r) => r.protocol === protocol);
        return mine.length === 0 ? [] : [`--transparent-${protocol}`, mine.map((r) => `${r.port}=127.0.0.1:${r.listenPort}`).join(',')];
    });
}
/**
 * The init container that programs iptables for transparent mode: the only one with a capability
 * (NET_ADMIN; the nft backend needs no NET_RAW). It excludes sidekey's user and group id (the
 * sidekey container runs with both set to `uid`) and allows DNS only to the pod's resolv.conf.
 */
export function iptablesInitContainer(s, p) {
    return {
        name: 'sidekey-iptables',
        image: s.image,
        imagePullPolicy: s.imagePullPolicy,
        command: ['node', '/app/dist/src/cli/main.js', 'iptables', '--apply', '--uid', String(s.uid), '--gid', String(s.uid), '--redirect', s.redirects.map((r) => `${r.port}:${r.listenPort}`).join(','), ...(p.blockOtherEgress ? ['--block-other-egress'] : [])],
        resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '64Mi' } },
        securityContext: {
            runAsUser: 0,
            runAsNonRoot: false,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] },
        },
    };
}
/** The pod volumes the sidecar uses. */
export function sidecarVolumes(s) {
    return [
        { name: 'sidekey-certs', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
        { name: 'sidekey-ca-public', emptyDir: { sizeLimit: '4Mi' } },
        { name: 'sidekey-policies', configMap: { name: s.policiesConfigMap } },
        // Readable by sidekey's non-root user without an fsGroup; only the sidekey container mounts it,
        // and sidekey copies the key into the memory-backed certs directory at 0600 (--ca-from).
        ...(s.caSecret !== null ? [{ name: 'sidekey-ca-secret', secret: { secretName: s.caSecret, defaultMode: 0o444, items: [{ key: s.caSecretKeys.cert, path: 'ca.pem' }, { key: s.caSecretKeys.key, path: 'ca-key.pem' }] } }] : []),
        ...(s.stateConfigMap !== null ? [{ name: 'sidekey-state', configMap: { name: s.stateConfigMap } }] : []),
        ...s.extraVolumes,
        ...(s.tokenAudience !== null
            ? [{ name: 'sidekey-token', projected: { sources: [{ serviceAccountToken: { audience: s.tokenAudience, expirationSeconds: 3600, path: 'token' } }] } }]
            : []),
    ];
}
//# sourceMappingURL=sidecar.js.map