import { isIP } from 'node:net';
import { blockedClass, systemResolver } from '../forward/ssrf.js';
import { INTERNAL_ADDRESS } from './provider-http.js';
/**
 * The host names sidekey learnt from a server's metadata rather than from the operator (an MCP
 * server's authorization server, an issuer's token or registration endpoint on another host), and
 * the DNS lookup that keeps connections to them outward. The literal-address check in discovery
 * (`reachesInward`) sees only what is written; a name can still resolve to 127.0.0.1 or the cloud
 * metadata service. This lookup runs when the identity-provider pool connects, so the address it
 * approves is the one connected to: a second, different DNS answer cannot slip in between.
 */
export class DiscoveredHosts {
    #hosts = new Set();
    #resolver;
    constructor(resolver = systemResolver) {
        this.#resolver = resolver;
    }
    /** Mark the host of `url` as discovered. IP literals are left to the literal check. */
    mark(url) {
        const host = hostOf(url);
        if (host !== null && isIP(host) === 0)
            this.#hosts.add(host);
    }
    /** True when connections to `host` must not reach an internal address. */
    has(host) {
        return this.#hosts.has(host.toLowerCase());
    }
    /**
     * A `lookup` for the pool's connections, answering with the resolver's addresses (the proxy's
     * own, which asks the system): for a discovered name, refused with `SIDEKEY_INTERNAL_ADDRESS`
     * when any address is internal (the SSRF guard's blocked classes). Names the operator wrote may
     * be internal (an identity provider inside the cluster).
     */
    lookup = ((hostname, options, callback) => {
        const discovered = this.has(hostname);
        this.#resolver(hostname).then((answers) => {
            const inward = discovered ? answers.find((a) => blockedClass(a.address) !== null) : undefined;
            if (inward !== undefined || answers.length === 0) {
                const where = inward === undefined ? 'no address' : `an internal address (${inward.address})`;
                callback(Object.assign(new Error(`${hostname}, which discovery found in a server's metadata, resolves to ${where}; give the endpoints in the credential definition if that is intended`), { code: INTERNAL_ADDRESS }), options.all === true ? [] : '', 4);
                return;
            }
            if (options.all === true)
                callback(null, answers.map((a) => ({ address: a.address, family: a.family })));
            else
                callback(null, answers[0].address, answers[0].family);
        }, (err) => callback(err, options.all === true ? [] : '', 4));
    });
}
/**
 * Record that `namer` (a URL sidekey fetched metadata from) named `named`: a host other than the
 * namer's own is marked discovered, unless the namer is itself written as an internal address (the
 * operator pointed sidekey inward, as on a loopback test server, and may be followed there).
 */
export function noteDiscovered(transport, namer, named) {
    if (hostOf(named) !== hostOf(namer) && !internalHost(namer))
        transport.discovered?.(named);
}
/**
 * True when `url` is written as an internal address: a loopback, private, link-local (the cloud
 * metadata service 169.254.169.254) or other range the SSRF guard blocks, or `localhost`. Not
 * parseable counts as internal.
 */
export function internalHost(url) {
    const host = hostOf(url);
    if (host === null)
        return true;
    return host === 'localhost' || host.endsWith('.localhost') || (isIP(host) !== 0 && blockedClass(host) !== null);
}
function hostOf(url) {
    try {
        return new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    }
    catch {
        return null;
    }
}
//# sourceMappingURL=discovered-hosts.js.map