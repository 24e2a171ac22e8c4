import { join, resolve } from 'node:path';
import { createCA, loadCA } from '../ca/authority.js';
import { CA_FILES } from '../ca/files.js';
import { CA_TRUST_ENV } from '../kube/sidecar.js';
import { configFrom } from '../config.js';
import { parse } from './args.js';
/** The trust variables (kube/sidecar.ts CA_TRUST_ENV) for the trust files in `dir`. */
export function trustEnv(dir) {
    return Object.fromEntries(CA_TRUST_ENV.map(([name, value]) => [name, value(dir)]));
}
/** `sidekey ca init [--force]` and `sidekey ca show`. */
export async function ca(argv) {
    const { flags, positionals } = parse(argv, ['certs', 'home'], ['force']);
    // Absolute, so the exported trust variables hold wherever the agent's shell goes next.
    const dir = resolve(configFrom({ certs: flags.certs, home: flags.home }).certsDir);
    const action = positionals[0];
    if (action === 'init') {
        const authority = await createCA(dir, { force: flags.force === true });
        console.log(`created CA certificate ${authority.certPath}`);
        console.log(`private key ${join(dir, CA_FILES.key)} (mode 0600; never copy it to an agent)`);
        return 0;
    }
    if (action === 'show') {
        const authority = await loadCA(dir);
        console.log(`# sidekey CA certificate: ${authority.certPath}`);
        console.log(`# trust bundle (system roots + sidekey CA): ${authority.bundlePath}`);
        for (const [name, value] of Object.entries(trustEnv(dir)))
            console.log(`export ${name}=${shellQuote(value)}`);
        return 0;
    }
    console.error('usage: sidekey ca init [--force] [--certs DIR] | sidekey ca show [--certs DIR]');
    return 2;
}
export function shellQuote(s) {
    return /^[A-Za-z0-9_./:@%+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
//# sourceMappingURL=ca.js.map