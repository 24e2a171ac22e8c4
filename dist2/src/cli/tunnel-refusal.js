import { Pool } from 'undici';
/** The header a refusal carries its message in (accept/refuse.ts), for clients that drop the reason phrase. */
const MESSAGE_HEADER = 'x-sidekey-message';
/** An error whose message is the refusal a proxy answered a CONNECT with. */
class TunnelRefused extends Error {
    status;
    constructor(status, message) {
        super(message);
        this.status = status;
        this.name = 'TunnelRefused';
    }
}
/**
 * The client undici's ProxyAgent opens CONNECT tunnels with (its `clientFactory`), changed in one
 * way: a refused CONNECT becomes an error that says why. undici reports any refused tunnel as
 * `Proxy response (403) !== 200 when HTTP Tunneling` and fetch as `fetch failed`, dropping the
 * reason phrase where sidekey says what was refused and what to change; the agent, an LLM, then
 * takes it for a network glitch. The error here is fetch's `cause`.
 */
export function proxyClientSayingWhy(origin, options) {
    const pool = new Pool(origin, options);
    const connect = pool.connect.bind(pool);
    Object.assign(pool, {
        async connect(o) {
            const answer = await connect(o);
            const message = answer.headers[MESSAGE_HEADER];
            if (answer.statusCode === 200 || typeof message !== 'string')
                return answer;
            answer.socket.on('error', () => undefined).destroy();
            // The same words as the reason phrase: `sidekey: MESSAGE (CODE)`.
            throw new TunnelRefused(answer.statusCode, `the proxy refused the tunnel to ${o.path}: ${answer.statusCode} sidekey: ${message} (${String(answer.headers['x-sidekey-error'])})`);
        },
    });
    return pool;
}
//# sourceMappingURL=tunnel-refusal.js.map