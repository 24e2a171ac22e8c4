/**
 * Preloaded into Node agents by `sidekey run` (NODE_OPTIONS=--import ...). Node 20's built-in
 * fetch ignores HTTP(S)_PROXY, so SDKs built on it (OpenAI, Anthropic) would bypass sidekey and
 * fail closed at the network instead of going through it. Installing undici's EnvHttpProxyAgent as
 * the global dispatcher makes fetch honour the proxy variables, with no change to the agent's code
 * (on Node 24 too, whose own proxy support would otherwise drop the reason of a refused tunnel).
 *
 * On Node 24 and later, `http.request` and `https.get` go through sidekey by Node's own proxy
 * support (NODE_USE_ENV_PROXY=1, which `sidekey run` sets); the preload covers fetch only.
 */
import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';
import { proxyClientSayingWhy } from './tunnel-refusal.js';
setGlobalDispatcher(new EnvHttpProxyAgent({ clientFactory: proxyClientSayingWhy }));
//# sourceMappingURL=preload.js.map