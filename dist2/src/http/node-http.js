import { createRequire } from 'node:module';
/**
 * The parts of `node:http` sidekey uses, taken through `require`. An ES module import of
 * `node:http` (even `import { createServer }`) builds the module's whole namespace, which reads
 * its lazy `WebSocket`, `CloseEvent` and `MessageEvent` exports and so loads the copy of undici
 * bundled in Node (fetch, WebSocket: about 760 KB of source; at idle, about 1 MB of JavaScript heap
 * and 1 MB outside it in sidekey) that sidekey never uses. eslint.config.js refuses a value import of `node:http` in src/; type imports are free.
 */
const http = createRequire(import.meta.url)('node:http');
/** `http.METHODS`: the methods Node's HTTP/1.1 parser accepts. */
export const METHODS = http.METHODS;
/** `http.createServer`. */
export const createServer = http.createServer;
/** `http.Agent`, the class and its instances' type. */
export const Agent = http.Agent;
/** `http.ServerResponse`, the class and its instances' type. */
export const ServerResponse = http.ServerResponse;
//# sourceMappingURL=node-http.js.map