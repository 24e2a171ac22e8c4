import { createServer } from 'node:http';
/** Start a receiver that answers 200 to each delivery; it closes at teardown. */
export async function startWebhookSink(t) {
    const received = [];
    const server = createServer((req, res) => {
        let text = '';
        req.on('data', (c) => (text += c.toString()));
        req.on('end', () => {
            received.push(JSON.parse(text));
            res.end('ok');
        });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise((r) => server.close(() => r())));
    return { url: `http://127.0.0.1:${server.address().port}`, received };
}
//# sourceMappingURL=webhook.js.map