import { PassThrough, Writable } from 'node:stream';
import { once } from 'node:events';
import t from 'tap';
import { OutgoingBody } from '../../src/forward/outgoing-body.js';
// The request body on its way up (src/forward/outgoing-body.ts): read from the agent at once,
// filtered and counted chunk by chunk, held until the upstream is there, written with
// backpressure, and never ended when it failed.
/** A sink that records what it was given and whether it was ended; `highWaterMark` sets when it asks for a pause. */
function recordingSink(highWaterMark = 16 * 1024) {
    const got = [];
    const sink = new Writable({
        highWaterMark,
        write(chunk, _enc, done) {
            got.push(chunk);
            done();
        },
        final(done) {
            ;
            sink.ended = true;
            done();
        },
    });
    sink.got = got;
    sink.ended = false;
    return sink;
}
const upperCase = { push: (c) => Buffer.from(c.toString().toUpperCase()), end: () => Buffer.from('!') };
const tick = () => new Promise((resolve) => setImmediate(resolve));
t.test('a body read before its upstream is there is held, then written whole, filtered and counted', async (t) => {
    const source = new PassThrough();
    let counted = 0;
    const body = new OutgoingBody(source, upperCase, (n) => (counted += n), () => t.fail('no failure'));
    source.write('hello ');
    source.end('world');
    await tick();
    const sink = recordingSink();
    body.sendTo(sink, () => t.fail('no failure'));
    await once(sink, 'finish');
    t.equal(Buffer.concat(sink.got).toString(), 'HELLO WORLD!', 'the filtered body, with what the filter held to its end');
    t.ok(sink.ended, 'the upstream body is ended');
    t.equal(counted, 12, 'every byte passed on is counted');
    t.equal(body.failure, null);
});
t.test('past the hold limit the agent is paused until the upstream is there', async (t) => {
    const source = new PassThrough({ highWaterMark: 1024 });
    const body = new OutgoingBody(source, null, () => undefined, () => t.fail('no failure'));
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    for (let i = 0; i < 8; i++)
        source.write(chunk);
    await tick();
    t.ok(source.isPaused(), 'the agent body is paused with more than the hold limit held');
    const sink = recordingSink(1024 * 1024);
    body.sendTo(sink, () => t.fail('no failure'));
    source.end();
    await once(sink, 'finish');
    t.equal(Buffer.concat(sink.got).length, 8 * chunk.length, 'nothing held is lost');
});
t.test('an upstream that asks for a pause pauses the agent, and its drain resumes it', async (t) => {
    const source = new PassThrough();
    const body = new OutgoingBody(source, null, () => undefined, () => t.fail('no failure'));
    let release = null;
    const got = [];
    const slow = new Writable({
        highWaterMark: 4,
        write(chunk, _enc, done) {
            got.push(chunk);
            release = done;
        },
    });
    body.sendTo(slow, () => t.fail('no failure'));
    source.write('0123456789');
    await tick();
    t.ok(source.isPaused(), 'the agent is paused while the upstream has not taken the chunk');
    source.end('tail');
    release();
    await tick();
    release();
    await once(slow, 'finish');
    t.equal(Buffer.concat(got).toString(), '0123456789tail');
});
t.test('a refusal before the upstream is there fails the body, and nothing is written', async (t) => {
    const source = new PassThrough();
    const refusal = new Error('a managed secret in the body');
    const failures = [];
    const refuser = {
        push: (c) => {
            if (c.includes('secret'))
                throw refusal;
            return c;
        },
        end: () => null,
    };
    const body = new OutgoingBody(source, refuser, () => undefined, (err, by) => failures.push([err, by]));
    source.write('harmless ');
    source.write('the secret');
    await tick();
    t.equal(body.failure, refusal, 'the body knows it failed before a stream is opened for it');
    t.same(failures, [[refusal, 'filter']], 'the failure is reported once, as the filter\'s');
    const out = body.readable();
    await new Promise((resolve) => out.on('close', resolve));
    t.equal(out.errored, refusal, 'a stream made for it afterwards fails with the refusal');
});
t.test('the agent\'s body failing mid-way fails the upstream body, which is never ended', async (t) => {
    const source = new PassThrough();
    const failures = [];
    const body = new OutgoingBody(source, null, () => undefined, (_err, by) => failures.push(by));
    const sink = recordingSink();
    let heard = null;
    body.sendTo(sink, (err) => (heard = err));
    source.write('part of it');
    await tick();
    const gone = new Error('the agent reset its stream');
    source.destroy(gone);
    await tick();
    t.equal(heard, gone, 'the sender hears the failure, to reset its stream');
    t.same(failures, ['agent']);
    t.notOk(sink.ended, 'the upstream body is not ended: a cut body never reads as whole');
    t.equal(Buffer.concat(sink.got).toString(), 'part of it');
});
//# sourceMappingURL=outgoing-body.test.js.map