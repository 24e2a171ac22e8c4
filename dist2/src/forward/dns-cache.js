/**
 * A resolver that remembers answers for a few seconds and shares one lookup among concurrent
 * requests for a name. getaddrinfo runs in libuv's small thread pool; without this, a burst of
 * requests queues behind its own lookups. The SSRF guard still checks every answer it is given,
 * and the connection still goes to the checked address, so caching changes only freshness.
 */
export function cachingResolver(inner, options = {}) {
    const ttlMs = options.ttlMs ?? 5000;
    const max = options.max ?? 1000;
    const answers = new Map();
    return (host) => {
        const now = Date.now();
        const hit = answers.get(host);
        if (hit !== undefined && now - hit.at < ttlMs)
            return hit.value;
        const value = inner(host);
        answers.set(host, { at: now, value });
        // A failed lookup is not remembered: the next request asks again.
        value.catch(() => answers.delete(host));
        if (answers.size > max)
            answers.delete(answers.keys().next().value);
        return value;
    };
}
//# sourceMappingURL=dns-cache.js.map