import { blockedClass } from '../forward/ssrf.js';
import { normalizeHost, parseAuthority } from '../policy/host.js';
import { SidekeyError } from '../errors.js';
/** Addresses a listener binds to that no client ever names in a Host header. */
const WILDCARDS = new Set(['0.0.0.0', '::', '*']);
/** A page can send refused requests in a loop: one log line per name and minute is enough. */
const LOG_EVERY_MS = 60_000;
const LOGGED_NAMES_MAX = 256;
/**
 * The Host names the admin listener answers to: the defence against DNS rebinding
 * (docs/security.md). A page on `evil.example` that re-points its own name at 127.0.0.1 is, to
 * the browser, still same-origin with itself, so it may read whatever the admin listener answers: routes,
 * workloads, metrics, explain. What the browser cannot change is the Host header, which carries
 * the attacker's name (RFC 9110 section 7.2). So the listener answers only requests whose Host
 * (and absolute-form target, RFC 9112 section 3.2.2) names it: `localhost`, a loopback address
 * (127.0.0.0/8, ::1), its own bind address, the issuer's host, and the names an operator adds
 * with `--admin-hosts` (the pod IP or Service name Prometheus scrapes).
 *
 * The port is not compared: a rebinding page reaches the listener only on the listener's own port,
 * so the name is what tells it apart, and a forwarded port (`kubectl port-forward 8080:3129`,
 * `ssh -L`) carries the local port in Host.
 */
export class AdminHostCheck {
    log;
    #names;
    #logged = new Map();
    /** `names`: the bind address, the issuer's host and `--admin-hosts` (wildcards are skipped). */
    constructor(names, log) {
        this.log = log;
        const canonical = names.map((n) => normalizeHost(n)).filter((n) => n !== null && !WILDCARDS.has(n));
        this.#names = new Set(['localhost', ...canonical]);
    }
    /**
     * Throws SIDEKEY_ERR_ADMIN_HOST unless the request names this listener: exactly one Host header
     * whose name is allowed, and, for an absolute-form target, an allowed authority there too.
     */
    check(req) {
        const what = this.#refused(req);
        if (what === null)
            return;
        const now = Date.now();
        if ((this.#logged.get(what) ?? 0) <= now - LOG_EVERY_MS) {
            if (this.#logged.size >= LOGGED_NAMES_MAX)
                this.#logged.clear();
            this.#logged.set(what, now);
            this.log.warn({ event: 'admin_host_refused', refused: what, method: req.method, path: (req.url ?? '').slice(0, 200), remote: req.socket.remoteAddress }, 'admin request refused: it does not name this listener (DNS rebinding?)');
        }
        throw new SidekeyError('SIDEKEY_ERR_ADMIN_HOST', `the admin listener answers only to localhost, loopback addresses and its configured names (--admin, --issuer, --admin-hosts), a defence against DNS rebinding; this request has ${what}. Call it as http://127.0.0.1:${req.socket.localPort ?? 'PORT'}, or add the name to --admin-hosts (SIDEKEY_ADMIN_HOSTS).`);
    }
    /** What the request names that this listener does not answer to, or null when it names it. */
    #refused(req) {
        const hosts = req.headersDistinct.host ?? [];
        if (hosts.length !== 1)
            return hosts.length === 0 ? 'no Host header' : 'more than one Host header';
        if (!this.#allows(hosts[0]))
            return `Host "${hosts[0].slice(0, 100)}"`;
        const target = req.url ?? '/';
        if (target.startsWith('/') || target === '*')
            return null;
        let authority;
        try {
            authority = new URL(target).host;
        }
        catch {
            return 'a request target that is neither a path nor a URL';
        }
        return this.#allows(authority) ? null : `the URL host "${authority.slice(0, 100)}"`;
    }
    #allows(raw) {
        const authority = parseAuthority(raw, 80);
        return authority !== null && (this.#names.has(authority.host) || blockedClass(authority.host) === 'loopback');
    }
}
//# sourceMappingURL=host-check.js.map