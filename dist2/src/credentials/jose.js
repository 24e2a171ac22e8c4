import { lazyModule } from '../lazy-module.js';
/** JOSE (keys, signed JWTs, client assertions), loaded by the first credential that needs it, not at start. */
export const jose = lazyModule('jose');
//# sourceMappingURL=jose.js.map