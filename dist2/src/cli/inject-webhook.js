import { readFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import { parse as parseYaml } from 'yaml';
import { ANY_ADDRESS } from '../config.js';
import { SidekeyError } from '../errors.js';
import { BadReview, review } from '../kube/inject.js';
import { DEFAULT_REDIRECTS, DRAIN_SECONDS, PORTS } from '../kube/sidecar.js';
import { readTlsFiles, watchTlsFiles } from '../kube/tls-reload.js';
import { createLogger } from '../observe/logger.js';
import { parse } from './args.js';
/** Largest AdmissionReview read (a pod spec is a few KiB; the API server caps requests at 3 MiB). */
const MAX_REVIEW_BYTES = 3 * 1024 * 1024;
/** The webhook's settings file, with defaults for what it leaves out. */
export async function loadInjectSettings(path) {
    let file = {};
    if (path !== null) {
        try {
            file = (parseYaml(await readFile(path, 'utf8')) ?? {});
        }
        catch (cause) {
            throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--config ${path}: ${cause.message}`, { cause });
        }
    }
    const str = (key, fallback) => {
        const v = file[key];
        if (v === undefined || v === null)
            return fallback;
        if (typeof v !== 'string' || v === '')
            throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--config ${path}: ${key} must be a non-empty string`);
        return v;
    };
    const objects = (key) => {
        const v = file[key] ?? [];
        if (!Array.isArray(v) || v.some((o) => o === null || typeof o !== 'object' || Array.isArray(o)))
            throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--config ${path}: ${key} must be a list of objects`);
        return v;
    };
    const known = ['image', 'imagePullPolicy', 'policiesConfigMap', 'caSecret', 'stateConfigMap', 'uid', 'native', 'noProxy', 'resources', 'tokenAudience', 'transparentPorts', 'agentSecurity', 'caSecretCertKey', 'caSecretKeyKey', 'logLevel', 'drainSeconds', 'extraEnv', 'extraVolumeMounts', 'extraVolumes'];
    const unknown = Object.keys(file).filter((k) => !known.includes(k));
    if (unknown.length > 0)
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--config ${path}: unknown setting(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
    const pull = str('imagePullPolicy', 'IfNotPresent');
    if (!['Always', 'IfNotPresent', 'Never'].includes(pull))
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--config ${path}: imagePullPolicy must be Always, IfNotPresent or Never`);
    const uid = file.uid ?? 10001;
    if (typeof uid !== 'number' || !Number.isInteger(uid) || uid < 1)
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--config ${path}: uid must be a positive integer (sidekey never runs as root)`);
    const agentSecurity = str('agentSecurity', 'refuse');
    if (agentSecurity !== 'refuse' && agentSecurity !== 'warn')
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--config ${path}: agentSecurity must be refuse or warn`);
    const redirects = file.transparentPorts === undefined ? DEFAULT_REDIRECTS : redirectedPorts(file.transparentPorts);
    if (typeof redirects === 'string')
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--config ${path}: transparentPorts ${redirects}`);
    const drainSeconds = file.drainSeconds ?? DRAIN_SECONDS;
    if (typeof drainSeconds !== 'number' || !Number.isInteger(drainSeconds) || drainSeconds < 1)
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--config ${path}: drainSeconds must be a positive integer`);
    return {
        image: str('image', 'ghcr.io/sidekey-dev/sidekey:0.1.0'),
        imagePullPolicy: pull,
        policiesConfigMap: str('policiesConfigMap', 'sidekey-policies'),
        caSecret: str('caSecret', null),
        caSecretKeys: { cert: str('caSecretCertKey', 'ca.pem'), key: str('caSecretKeyKey', 'ca-key.pem') },
        stateConfigMap: str('stateConfigMap', null),
        uid,
        native: file.native !== false,
        noProxy: str('noProxy', 'localhost,127.0.0.1,::1,.svc,.cluster.local'),
        resources: file.resources ?? { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
        tokenAudience: str('tokenAudience', null),
        redirects,
        agentSecurity,
        logLevel: str('logLevel', 'info'),
        drainSeconds,
        extraEnv: objects('extraEnv'),
        extraVolumeMounts: objects('extraVolumeMounts'),
        extraVolumes: objects('extraVolumes'),
    };
}
/** `transparentPorts` of the settings file, or what is wrong with it. */
function redirectedPorts(value) {
    if (!Array.isArray(value) || value.length === 0)
        return 'must be a non-empty list of { port, listenPort, protocol }';
    const ports = [];
    const isPort = (n, min) => typeof n === 'number' && Number.isInteger(n) && n >= min && n <= 65535;
    for (const [i, entry] of value.entries()) {
        const { port, listenPort, protocol, ...rest } = (entry ?? {});
        if (Object.keys(rest).length > 0)
            return `[${i}]: unknown key(s) ${Object.keys(rest).join(', ')}`;
        if (!isPort(port, 1))
            return `[${i}].port must be a port number`;
        if (!isPort(listenPort, 1024) || Object.values(PORTS).includes(listenPort))
            return `[${i}].listenPort must be a port from 1024 that sidekey does not use otherwise`;
        if (protocol !== 'http' && protocol !== 'https')
            return `[${i}].protocol must be http or https`;
        if (ports.some((p) => p.port === port || p.listenPort === listenPort))
            return `[${i}]: port ${port} or listenPort ${listenPort} is given twice`;
        ports.push({ port, listenPort, protocol });
    }
    return ports;
}
/**
 * `sidekey inject-webhook --tls-cert F --tls-key F [--listen HOST:PORT] [--config F]`: a mutating
 * admission webhook (HTTPS, as the API server requires) that adds the sidecar to annotated pods.
 */
export async function injectWebhook(argv) {
    const { flags } = parse(argv, ['listen', 'tls-cert', 'tls-key', 'config']);
    if (typeof flags['tls-cert'] !== 'string' || typeof flags['tls-key'] !== 'string') {
        console.error('usage: sidekey inject-webhook --tls-cert FILE --tls-key FILE [--listen HOST:PORT (default *:8443, every address)] [--config FILE]');
        return 2;
    }
    const settings = await loadInjectSettings(typeof flags.config === 'string' ? flags.config : null);
    const log = createLogger();
    const certPath = flags['tls-cert'];
    const keyPath = flags['tls-key'];
    const { cert, key } = await readTlsFiles(certPath, keyPath).catch((cause) => {
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `cannot read the webhook's TLS certificate and key (${cause.code ?? cause.message})`, { cause });
    });
    const listen = typeof flags.listen === 'string' ? flags.listen : `${ANY_ADDRESS}:8443`;
    const m = /^(.*):([0-9]{1,5})$/.exec(listen);
    if (m === null)
        throw new SidekeyError('SIDEKEY_ERR_CONFIG', `--listen "${listen}" is not host:port`);
    const server = createServer({ cert, key }, (req, res) => void handle(req, res, settings, log));
    await new Promise((resolve, reject) => {
        server.once('error', reject);
        const host = m[1].replace(/^\[(.*)\]$/, '$1');
        if (host === ANY_ADDRESS)
            server.listen(Number(m[2]), resolve);
        else
            server.listen(Number(m[2]), host, resolve);
    });
    const stopWatching = watchTlsFiles(certPath, keyPath, (files) => server.setSecureContext(files), log);
    log.info({ event: 'webhook_started', listen, image: settings.image }, 'sidekey injection webhook started');
    await new Promise((resolve) => {
        const stop = () => {
            stopWatching();
            server.close(() => resolve());
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
    });
    return 0;
}
function send(res, status, body, error) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(error ? { 'x-sidekey-error': error } : {}) });
    res.end(text);
}
async function handle(req, res, settings, log) {
    if (req.method === 'GET' && req.url === '/healthz')
        return send(res, 200, { status: 'ok' });
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/mutate')
        return send(res, 404, { error: { code: 'SIDEKEY_ERR_NOT_FOUND', message: 'POST /mutate only' } }, 'SIDEKEY_ERR_NOT_FOUND');
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
        size += chunk.length;
        if (size > MAX_REVIEW_BYTES)
            return send(res, 413, { error: { code: 'SIDEKEY_ERR_BODY_TOO_LARGE', message: 'AdmissionReview too large' } }, 'SIDEKEY_ERR_BODY_TOO_LARGE');
        chunks.push(chunk);
    }
    try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        const answer = review(body, settings);
        const pod = (body.request) ?? {};
        // A refusal or a warning (a pod left without sidekey, or allowed with a way around it) is for the operator to see.
        const level = answer.response.allowed && answer.response.warnings === undefined ? 'info' : 'warn';
        log[level]({ event: 'admission', allowed: answer.response.allowed, namespace: pod.namespace ?? null, pod: pod.name ?? pod.object?.metadata?.generateName ?? null, injected: answer.response.patch !== undefined, warnings: answer.response.warnings ?? [], ...(answer.response.status ? { refused: answer.response.status.message } : {}) }, 'admission review answered');
        send(res, 200, answer);
    }
    catch (err) {
        const message = err instanceof BadReview ? err.message : err instanceof SyntaxError ? 'the body is not JSON' : 'cannot process the AdmissionReview';
        if (!(err instanceof BadReview) && !(err instanceof SyntaxError))
            log.error({ event: 'admission_failed', err: err.message }, 'admission review failed');
        send(res, 400, { error: { code: 'SIDEKEY_ERR_BAD_REQUEST', message } }, 'SIDEKEY_ERR_BAD_REQUEST');
    }
}
//# sourceMappingURL=inject-webhook.js.map