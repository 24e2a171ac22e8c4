import { createRequire } from 'node:module';
import { lazyModule } from '../lazy-module.js';
const require = createRequire(import.meta.url);
/*
 * The parts of undici that sidekey's request path uses, loaded from undici's own files rather than
 * from its index. The index loads everything undici has (fetch, WebSocket, EventSource, mocks,
 * caches, interceptors): in a process that runs beside every agent that was about 15 MiB more
 * resident memory at idle and twice the load time, for code a proxy never runs. Each value is the
 * very object the index exports (test/unit/undici-parts.test.ts checks it), so `instanceof` and the
 * types are undici's own. undici's package.json has no `exports` map, so these paths are public to
 * Node's resolver; the lock file pins the version they were checked against.
 */
/** undici's connection pool (one per destination and checked address, forward/upstream.ts). */
export const Pool = require('undici/lib/dispatcher/pool.js');
/** undici's agent (the credential providers' connection pool, credentials/runtime.ts). */
export const Agent = require('undici/lib/dispatcher/agent.js');
/** undici's error classes, to tell a timeout from a refused connection. */
export const undiciErrors = require('undici/lib/core/errors.js');
const wholeUndici = lazyModule('undici');
/**
 * undici's `request`, for the few calls sidekey makes on its own behalf (credential providers,
 * alert webhooks): the whole package is loaded the first time one is made.
 */
export function request(...args) {
    return wholeUndici().request(...args);
}
//# sourceMappingURL=undici.js.map