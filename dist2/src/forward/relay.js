/**
 * Copy both ways until either side ends; `done` runs once with the byte counts. With `idle`, a
 * relay that carries no byte either way for `idle.ms` is closed (`idle.onIdle` runs first): a
 * blind tunnel nobody uses must not hold a connection (and its upstream socket) for ever.
 */
export function relay(client, upstream, head, done, idle) {
    if (idle !== undefined) {
        // Every byte read from or written to the client socket re-arms its timer: that is both directions.
        client.setTimeout(idle.ms);
        client.once('timeout', () => {
            idle.onIdle();
            client.destroy();
        });
    }
    let up = head.length;
    let down = 0;
    if (head.length > 0)
        upstream.write(head);
    client.on('data', (c) => (up += c.length));
    upstream.on('data', (c) => (down += c.length));
    client.pipe(upstream);
    upstream.pipe(client);
    let finished = false;
    const finish = () => {
        if (finished)
            return;
        finished = true;
        client.destroy();
        upstream.destroy();
        done(up, down);
    };
    client.on('error', finish);
    upstream.on('error', finish);
    client.on('close', finish);
    upstream.on('close', finish);
}
//# sourceMappingURL=relay.js.map