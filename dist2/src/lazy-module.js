import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
/**
 * A package loaded the first time it is used, not at start.
 *
 * sidekey runs beside every agent, so what a policy does not use must cost nothing: the AWS
 * signer, CEL, Redis, JOSE and the WebSocket relay are loaded only by the first policy, state file
 * or request that needs them. Loading is synchronous (`require`, which in Node 24 also loads an ES
 * module without top-level await), so the callers stay synchronous; the first use pays the load
 * once (tens of milliseconds), every later use is a field read.
 *
 * @param specifier the package (or file) as `import` would name it
 * @returns a function that returns the loaded module, loading it on the first call
 */
export function lazyModule(specifier) {
    let loaded;
    return () => (loaded ??= require(specifier));
}
//# sourceMappingURL=lazy-module.js.map