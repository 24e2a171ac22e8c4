import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
/** Changes within this window are read once (the kubelet's swap is several renames). */
const RELOAD_DEBOUNCE_MS = 200;
/** Read both files; refuse a pair that does not make a TLS context (a key that is not the certificate's). */
export async function readTlsFiles(certPath, keyPath) {
    const [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)]);
    createSecureContext({ cert, key });
    return { cert, key };
}
/**
 * Reload the webhook's TLS certificate when it rotates on disk: cert-manager renews it into the
 * Secret, and the kubelet updates the Secret volume by swapping its `..data` symlink, which the
 * directory watch hears. A pair read halfway through a rotation (the new certificate with the old
 * key) fails the check and is skipped: the next event, or the next rotation, brings a whole one,
 * and the certificate in use stays until then. Returns a function that stops watching.
 */
export function watchTlsFiles(certPath, keyPath, apply, log) {
    let timer = null;
    const reload = () => {
        timer = null;
        readTlsFiles(certPath, keyPath).then((files) => {
            apply(files);
            log.info({ event: 'webhook_tls_reloaded', cert: certPath }, 'webhook TLS certificate reloaded');
        }, (err) => log.warn({ event: 'webhook_tls_reload_failed', err: err.message }, 'webhook TLS certificate not reloaded; the one in use stays'));
    };
    const watchers = [...new Set([dirname(certPath), dirname(keyPath)])].map((dir) => watch(dir, { persistent: false }, () => {
        if (timer !== null)
            clearTimeout(timer);
        timer = setTimeout(reload, RELOAD_DEBOUNCE_MS);
        timer.unref();
    }));
    return () => {
        if (timer !== null)
            clearTimeout(timer);
        for (const w of watchers)
            w.close();
    };
}
//# sourceMappingURL=tls-reload.js.map