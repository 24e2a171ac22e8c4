import t from 'tap';
import { SidekeyError } from '../../src/errors.js';
import { partialMatchAlarm } from '../../src/guard/needle-automaton.js';
import { scrubFilter, SecretScanner } from '../../src/guard/secret-scan.js';
import { closeFrame, echoScrubber, FrameRefusal, FrameRewriter, secretTripwire } from '../../src/guard/websocket-frames.js';
import { closeOf, decodeFrames, frame } from '../helpers/ws-frames.js';
// The frame guard alone (RFC 6455 section 5): frames parsed from bytes split anywhere, payloads
// checked or scrubbed across frame and fragment boundaries, and every frame the receiving side
// could read differently refused with the close code it deserves.
const SECRET = 'sk-live-frames-9d1c2b7a4e';
const scanner = new SecretScanner();
scanner.add(SECRET);
const passThrough = { data: (c) => c, endMessage: () => null, control: (p) => p };
/** Feed `bytes` to `rewriter` in pieces of `size` bytes; the forwarded bytes, joined. */
function feed(rewriter, bytes, size = bytes.length) {
    const out = [];
    for (let at = 0; at < bytes.length; at += size)
        out.push(rewriter.push(bytes.subarray(at, at + size)));
    return Buffer.concat(out);
}
function refusal(fn) {
    try {
        fn();
    }
    catch (err) {
        return err;
    }
    throw new Error('nothing was refused');
}
t.test('frames pass unchanged, whole or one byte at a time, in every length form', async (t) => {
    const stream = Buffer.concat([
        frame({ opcode: 1, payload: 'hello' }),
        frame({ opcode: 2, payload: Buffer.alloc(300, 7) }),
        frame({ opcode: 2, payload: Buffer.alloc(70_000, 9) }),
        frame({ opcode: 1, payload: 'tiny in a 64-bit length', lengthForm: 64 }),
        frame({ opcode: 9, payload: '' }),
        frame({ opcode: 1, payload: 'frag-1 ', fin: false }),
        frame({ opcode: 10, payload: 'pong in between' }),
        frame({ opcode: 0, payload: 'frag-2' }),
        frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]) }),
    ]);
    for (const size of [stream.length, 1, 3, 1000]) {
        t.same(feed(new FrameRewriter('agent', secretTripwire(scanner)), stream, size), stream, `agent frames in pieces of ${size}`);
    }
    const unmasked = Buffer.concat([frame({ opcode: 1, payload: 'server says hi', mask: false }), frame({ opcode: 2, payload: Buffer.alloc(66_000, 1), mask: false, lengthForm: 64 })]);
    t.same(feed(new FrameRewriter('upstream', echoScrubber(() => scrubFilter(scanner.needles()))), unmasked, 7), unmasked, 'upstream frames');
});
t.test('the agent sending a managed secret is refused before any byte of it goes on', async (t) => {
    const cases = [
        ['in one text frame', [frame({ opcode: 1, payload: `token=${SECRET}` })]],
        ['base64 in a binary frame', [frame({ opcode: 2, payload: `x${Buffer.from(SECRET).toString('base64')}` })]],
        ['URL-encoded', [frame({ opcode: 1, payload: `q=${encodeURIComponent(SECRET)}` })]],
        ['in a ping', [frame({ opcode: 9, payload: SECRET })]],
        ['in a close reason', [frame({ opcode: 8, payload: Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from(SECRET)]) })]],
        ['split across two fragments', [frame({ opcode: 1, payload: `a${SECRET.slice(0, 11)}`, fin: false }), frame({ opcode: 0, payload: `${SECRET.slice(11)}z` })]],
        ['split across three fragments with a ping between', [frame({ opcode: 2, payload: SECRET.slice(0, 5), fin: false }), frame({ opcode: 9, payload: 'ping' }), frame({ opcode: 0, payload: SECRET.slice(5, 12), fin: false }), frame({ opcode: 0, payload: SECRET.slice(12) })]],
        ['after 70 000 bytes of a 64-bit frame', [frame({ opcode: 2, payload: Buffer.concat([Buffer.alloc(70_000, 0x61), Buffer.from(SECRET)]) })]],
    ];
    for (const [name, frames] of cases) {
        for (const size of [1, 5, 100_000]) {
            const rewriter = new FrameRewriter('agent', secretTripwire(scanner));
            const forwarded = [];
            const err = refusal(() => {
                for (const f of frames)
                    forwarded.push(feed(rewriter, f, size));
            });
            t.equal(err.code, 'SIDEKEY_ERR_SECRET_DETECTED', `${name} (pieces of ${size})`);
            const { frames: whole, partialPayload } = decodeFrames(Buffer.concat(forwarded));
            const sent = Buffer.concat([...whole.map((f) => f.payload), partialPayload]).toString('latin1');
            t.notOk(sent.includes(SECRET.slice(0, 4)), `${name}: no part of the secret was forwarded (pieces of ${size})`);
        }
    }
});
t.test('a clean message is released whole at its end; a secret split across messages is still caught', async (t) => {
    const rewriter = new FrameRewriter('agent', secretTripwire(scanner));
    const first = frame({ opcode: 1, payload: 'hi' });
    t.same(rewriter.push(first), first, 'a short message is not held back waiting for more');
    t.ok(rewriter.atFrameBoundary);
    const partial = frame({ opcode: 1, payload: `start ${SECRET.slice(0, 10)}` });
    t.same(rewriter.push(partial), partial, 'its end releases it');
    const err = refusal(() => rewriter.push(frame({ opcode: 1, payload: `${SECRET.slice(10)} end` })));
    t.equal(err.code, 'SIDEKEY_ERR_SECRET_DETECTED', 'the rest in the next message is caught');
    const held = new FrameRewriter('agent', secretTripwire(scanner));
    const fragment = frame({ opcode: 1, payload: 'abc', fin: false });
    t.same(held.push(fragment), fragment.subarray(0, 6), 'a fragment shorter than a secret is held (header only)');
    t.notOk(held.atFrameBoundary, 'a close frame cannot follow a half-sent frame');
});
t.test('frames the receiving side could read differently are refused with 1002', async (t) => {
    const agent = () => new FrameRewriter('agent', passThrough);
    const upstream = () => new FrameRewriter('upstream', passThrough);
    const cases = [
        ['unmasked from the agent', agent, frame({ opcode: 1, payload: 'x', mask: false }), /must be masked/, 1002],
        ['masked from the upstream', upstream, frame({ opcode: 1, payload: 'x' }), /must not be masked/, 1002],
        ['RSV1 (compressed) from the agent', agent, frame({ opcode: 1, payload: 'x', rsv: 0x40 }), /RSV1/, 1002],
        ['RSV1 (compressed) from the upstream', upstream, frame({ opcode: 1, payload: 'x', rsv: 0x40, mask: false }), /RSV1/, 1002],
        ['RSV2', agent, frame({ opcode: 2, payload: 'x', rsv: 0x20 }), /RSV2 or RSV3/, 1002],
        ['reserved data opcode', agent, frame({ opcode: 3, payload: 'x' }), /opcode 0x3/, 1002],
        ['reserved control opcode', agent, frame({ opcode: 0xb, payload: 'x' }), /opcode 0xb/, 1002],
        ['fragmented ping', agent, frame({ opcode: 9, payload: 'x', fin: false }), /cannot be fragmented/, 1002],
        ['ping over 125 bytes', agent, frame({ opcode: 9, payload: Buffer.alloc(126) }), /at most 125/, 1002],
        ['continuation of nothing', agent, frame({ opcode: 0, payload: 'x' }), /continuation/, 1002],
        ['new message inside a fragmented one', agent, Buffer.concat([frame({ opcode: 1, payload: 'a', fin: false }), frame({ opcode: 2, payload: 'b' })]), /before the fragmented one ended/, 1002],
        ['64-bit length with its top bit set', agent, Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]), /most significant bit/, 1002],
        ['64-bit length beyond 2^53', agent, Buffer.from([0x82, 0xff, 0x00, 0x40, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]), /2\^53/, 1009],
    ];
    for (const [name, make, bytes, message, close] of cases) {
        for (const size of [1, bytes.length]) {
            const err = refusal(() => feed(make(), bytes, size));
            t.ok(err instanceof FrameRefusal, name);
            t.match(err, { code: 'SIDEKEY_ERR_WEBSOCKET_FRAME', closeCode: close, message }, `${name} (pieces of ${size})`);
        }
    }
});
t.test('frames queued behind held-back bytes are bounded', async (t) => {
    const rewriter = new FrameRewriter('agent', secretTripwire(scanner));
    rewriter.push(frame({ opcode: 1, payload: 'held', fin: false }));
    const empties = Buffer.concat(Array.from({ length: 1100 }, () => frame({ opcode: 0, payload: '', fin: false })));
    t.match(refusal(() => rewriter.push(empties)), { code: 'SIDEKEY_ERR_WEBSOCKET_FRAME', closeCode: 1008, message: /over 1024 frames wait/ });
    const flowing = new FrameRewriter('agent', secretTripwire(scanner));
    const pings = Buffer.concat(Array.from({ length: 1100 }, () => frame({ opcode: 9, payload: 'p' })));
    t.equal(flowing.push(pings).length, pings.length, 'with nothing held, any number of frames flows');
});
t.test('the upstream echoing a secret: masked in place, across fragments and reads, frames keep their lengths', async (t) => {
    const scrubbed = () => new FrameRewriter('upstream', echoScrubber(() => scrubFilter(scanner.needles())));
    const stream = Buffer.concat([
        frame({ opcode: 1, payload: `{"auth":"Bearer ${SECRET}"}`, mask: false }),
        frame({ opcode: 1, payload: `part ${SECRET.slice(0, 9)}`, fin: false, mask: false }),
        frame({ opcode: 9, payload: 'keepalive', mask: false }),
        frame({ opcode: 0, payload: `${SECRET.slice(9)} done`, mask: false }),
        frame({ opcode: 2, payload: Buffer.from(SECRET).toString('base64'), mask: false }),
        frame({ opcode: 8, payload: Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from(SECRET)]), mask: false }),
    ]);
    for (const size of [1, 4, stream.length]) {
        const out = feed(scrubbed(), stream, size);
        t.equal(out.length, stream.length, `same length (pieces of ${size})`);
        // Nothing is held back for what it could become: read a byte or four at a time, the first
        // bytes of the secret (short of two thirds) go before the rest shows it is one.
        t.notOk(out.toString('latin1').includes(SECRET.slice(0, partialMatchAlarm(SECRET.length))), 'never two thirds of the secret');
        t.notOk(out.toString('latin1').includes(SECRET.slice(-6)), 'nor its end');
        t.notOk(out.toString('latin1').includes(Buffer.from(SECRET).toString('base64')), 'no base64 form left');
        const { frames, rest } = decodeFrames(out);
        t.equal(rest.length, 0);
        t.same(frames.map((f) => f.opcode), [1, 1, 9, 0, 2, 8], 'same frames, same order (the ping stays between the fragments)');
        const whole = size === stream.length;
        t.match(frames[0].payload.toString(), whole ? /^\{"auth":"Bearer \[redacted\]\**"\}$/ : /^\{"auth":"Bearer [^"]*\*"\}$/);
        // The fragments split the secret after 9 bytes, short of two thirds: those went out with the
        // first (and more, short of two thirds, when the frames are read a few bytes at a time).
        const fragments = Buffer.concat([frames[1].payload, frames[3].payload]).toString();
        if (whole)
            t.equal(fragments, `part ${SECRET.slice(0, 9)}${'[redacted]'.padEnd(SECRET.length - 9, '*')} done`, 'masked across fragments');
        else
            t.ok(fragments.length === `part ${SECRET} done`.length && new RegExp(`^part ${SECRET.slice(0, 9)}[^ ]*\\*+ done$`).test(fragments), `masked across fragments: ${fragments}`);
        t.same(closeOf(frames[5].payload).code, 4000, 'the close code is kept');
    }
});
t.test('a close frame to the agent carries the code and a reason cut to 123 bytes', async (t) => {
    const f = closeFrame(1008, 'SIDEKEY_ERR_SECRET_DETECTED: reported');
    const { frames } = decodeFrames(f);
    t.match(frames[0], { fin: true, opcode: 8, masked: false });
    t.same(closeOf(frames[0].payload), { code: 1008, reason: 'SIDEKEY_ERR_SECRET_DETECTED: reported' });
    t.equal(closeFrame(1002, 'x'.repeat(500)).length, 2 + 2 + 123);
});
//# sourceMappingURL=websocket-frames.test.js.map