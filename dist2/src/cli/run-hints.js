import { request } from 'undici';
/** The audit reason of a tunnel whose client refused sidekey's leaf certificate (accept/intercept.ts). */
const CLIENT_REJECTED_CERTIFICATE = 'client-rejected-certificate';
/** The one line `sidekey run` prints when a client of its agent rejected sidekey's certificate. */
export function rejectedCertificateHint(host, bundlePath) {
    return `sidekey run: a client of the agent rejected sidekey's certificate for ${host}: it does not trust sidekey's CA; point its trust setting at ${bundlePath} (docs/clients.md lists what each client reads)`;
}
/**
 * Follow the decisions of the sidekey the agent talks to (the admin listener's event stream) and
 * call `say` once per host whose tunnel for `workload` ended with the client rejecting sidekey's
 * certificate: the agent usually reports that as a bare TLS error, and the fix (trusting the CA)
 * is the person's. One streamed connection for the run's lifetime, filtered by the admin listener
 * before anything is serialized, so nothing per request; a stream
 * that cannot be opened or breaks only means no hints. Returns how to stop following.
 */
export function followRejectedCertificates(adminBase, adminToken, workload, say) {
    const stop = new AbortController();
    const told = new Set();
    const onEvent = (data) => {
        let event;
        try {
            event = JSON.parse(data);
        }
        catch {
            return;
        }
        if (event.reason !== CLIENT_REJECTED_CERTIFICATE || event.workload !== workload || typeof event.host !== 'string' || told.has(event.host))
            return;
        told.add(event.host);
        say(event.host);
    };
    void (async () => {
        // Filtered by the admin listener: only this workload's rejected-certificate decisions come.
        const query = new URLSearchParams({ workload, reason: CLIENT_REJECTED_CERTIFICATE });
        const res = await request(`${adminBase}/v1/events?${query}`, { headers: { authorization: `Bearer ${adminToken}` }, signal: stop.signal, bodyTimeout: 0 });
        if (res.statusCode !== 200) {
            res.body.destroy();
            return;
        }
        res.body.setEncoding('utf8');
        let buffered = '';
        for await (const chunk of res.body) {
            buffered += chunk;
            let end;
            while ((end = buffered.indexOf('\n\n')) >= 0) {
                const message = buffered.slice(0, end);
                buffered = buffered.slice(end + 2);
                // Server-sent events (HTML living standard, 9.2.6): `event: NAME` and `data: JSON` lines.
                if (!message.startsWith('event: decision\n'))
                    continue;
                const data = message.split('\n').find((line) => line.startsWith('data: '));
                if (data !== undefined)
                    onEvent(data.slice('data: '.length));
            }
        }
    })().catch(() => undefined);
    return () => stop.abort();
}
//# sourceMappingURL=run-hints.js.map