/**
 * Preloaded into Node agents by `sidekey run` (NODE_OPTIONS=--import ...), for agents on Node older
 * than 24. Their built-in fetch ignores HTTP(S)_PROXY, so SDKs built on it (OpenAI, Anthropic)
 * would bypass sidekey and fail closed at the network instead of going through it. Installing
 * undici's EnvHttpProxyAgent as the global dispatcher makes fetch honour the proxy variables, with
 * no change to the agent's code.
 *
 * Node 24 and later honour the proxy variables themselves, for fetch and for `http.request`, when
 * NODE_USE_ENV_PROXY=1 (which `sidekey run` also sets): there the preload loads nothing and changes
 * nothing, so the agent gets Node's own, maintained proxy support.
 */
const major = Number(process.versions.node.split('.')[0])
if (major < 24 || process.env.NODE_USE_ENV_PROXY !== '1') {
  const { EnvHttpProxyAgent, setGlobalDispatcher } = await import('undici')
  setGlobalDispatcher(new EnvHttpProxyAgent())
}
