import { randomBytes } from 'node:crypto';
import t from 'tap';
import { filterStream } from '../../src/http/chunk-filter.js';
import { NeedleAutomaton, partialMatchAlarm, ROOT } from '../../src/guard/needle-automaton.js';
import { PercentDecoder, percentDecodeMapped } from '../../src/guard/percent-decode.js';
import { jsonStrings, MAX_RECORD_BYTES, recordFraming, recordScrubFilter } from '../../src/guard/record-scrub.js';
import { base64Aligned, formEncode, secretForms } from '../../src/guard/secret-forms.js';
import { automatonFor, SecretScanner, scrubFilter } from '../../src/guard/secret-scan.js';
import { maskAuditRecord, newAuditRecord } from '../../src/observe/audit.js';
// Unit tests for the pieces of secret detection and scrubbing: the forms of a secret, lenient
// percent-decoding, the one-pass search, the scanner's views and stream hold-back, scrubbing
// across the records of an event stream, and masking of audit records.
const secret = 'sk-test-openai-5f2b8e0c1d';
/** A small deterministic generator, so random cases are the same on every run. */
function random(seed) {
    let s = seed;
    return () => {
        s = (s * 1103515245 + 12345) & 0x7fffffff;
        return s / 0x7fffffff;
    };
}
t.test('base64 at every alignment is found inside any longer base64 text', async (t) => {
    const rnd = random(3);
    for (let n = 0; n < 300; n++) {
        const value = Buffer.from(Array.from({ length: 8 + Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)));
        const before = Buffer.from(Array.from({ length: Math.floor(rnd() * 7) }, () => Math.floor(rnd() * 256)));
        const after = Buffer.from(Array.from({ length: Math.floor(rnd() * 7) }, () => Math.floor(rnd() * 256)));
        for (const encoding of ['base64', 'base64url']) {
            const whole = Buffer.concat([before, value, after]).toString(encoding);
            const needle = base64Aligned(value, (before.length % 3), encoding);
            if (!whole.includes(needle))
                t.fail(`${encoding} of ${before.length}+${value.length}+${after.length} bytes misses its aligned form`);
        }
    }
    t.equal(base64Aligned(Buffer.from(secret), 0, 'base64'), Buffer.from(secret).toString('base64').replace(/=+$/, '').slice(0, -1), 'a length not a multiple of 3 drops the last, partial character');
    t.ok(Buffer.from(`x:${secret}`).toString('base64').includes(base64Aligned(Buffer.from(secret), 2, 'base64')), 'the Basic credential of "x:" + secret');
});
t.test('the forms of a secret', async (t) => {
    const forms = secretForms('a b/c+d"e\\f', 8).map((f) => f.toString('latin1'));
    for (const expected of ['a b/c+d"e\\f', encodeURIComponent('a b/c+d"e\\f'), 'a+b%2Fc%2Bd%22e%5Cf', 'a+b/c+d"e\\f', 'a b/c+d\\"e\\\\f', 'a b\\/c+d\\"e\\\\f']) {
        t.ok(forms.includes(expected), `has ${expected}`);
    }
    t.equal(formEncode('a b/c'), 'a+b%2Fc');
    const plain = secretForms(secret, 8).map((f) => f.toString('latin1'));
    t.same(new Set(plain).size, plain.length, 'no duplicates');
    t.ok(plain.every((f) => f.length >= 8), 'nothing shorter than the minimum');
    t.equal(plain.length, 1 + 3 + 4, 'as is, base64 at three alignments (base64url is the same text when no + or / occurs), and UTF-16 and UTF-32 in both byte orders');
    t.equal(secretForms('~~~~~~~~>>>?', 8).length, 3 + 6 + 6 + 4, 'as is, percent- and form-encoded (~ differs), base64 and base64url apart, of the secret and of its percent-encoding, and the four wide forms');
    t.ok(plain.includes(Buffer.from(secret, 'utf16le').toString('latin1')), 'UTF-16LE');
    t.ok(plain.includes(Buffer.from(secret, 'utf16le').swap16().toString('latin1')), 'UTF-16BE');
});
t.test('lenient percent-decoding', async (t) => {
    const decode = (s) => new PercentDecoder().push(Buffer.from(s)).toString('latin1');
    t.equal(decode('%73k%2Dtest'), 'sk-test');
    t.equal(decode('100%%20sure%zz%4'), '100% sure%zz', 'a stray % leaves the rest decodable (an escape open at the end waits)');
    const d = new PercentDecoder();
    const parts = ['a%', '7', '3b%2', 'dc%'];
    const out = parts.map((p) => d.push(Buffer.from(p)).toString('latin1')).join('') + d.end().toString('latin1');
    t.equal(out, 'asb-c%', 'escapes split across chunks decode whole');
    const mapped = percentDecodeMapped(Buffer.from('x%73k%zz'));
    t.equal(mapped.decoded.toString('latin1'), 'xsk%zz');
    t.same([...mapped.from], [0, 1, 4, 5, 6, 7, 8], 'each decoded byte knows where it began');
    t.equal(percentDecodeMapped(Buffer.from('no escapes')), null);
});
t.test('the automaton finds what a naive search finds, across chunks, ignoring case', async (t) => {
    const rnd = random(11);
    const alphabet = 'abcAB-_';
    const word = (n) => Array.from({ length: n }, () => alphabet[Math.floor(rnd() * alphabet.length)]).join('');
    for (let round = 0; round < 80; round++) {
        // Short needles, and (every other round) some long enough to have a partial-match alarm.
        const needles = Array.from({ length: 1 + Math.floor(rnd() * 6) }, () => word(round % 2 === 0 ? 2 + Math.floor(rnd() * 5) : 8 + Math.floor(rnd() * 8)));
        const text = round % 2 === 0 ? word(200) : needles.map((n) => word(3) + n.slice(0, 1 + Math.floor(rnd() * n.length))).join('') + word(20);
        const a = new NeedleAutomaton(needles.map((n) => Buffer.from(n)));
        // Naive: for each end position, the longest needle ending there (case-insensitive); or, when
        // longer, the longest prefix ending there that is two thirds of the shortest needle it
        // begins, reported as that whole needle from where it began (whatever follows). The same
        // range reported again as the text goes on is one range.
        const expected = [];
        const lower = text.toLowerCase();
        const folded = needles.map((n) => n.toLowerCase());
        for (let end = 1; end <= text.length; end++) {
            const before = lower.slice(0, end);
            const m = Math.max(0, ...folded.filter((n) => before.endsWith(n)).map((n) => n.length));
            let a = 0;
            let whole = 0;
            for (const n of folded) {
                for (let k = 1; k <= n.length; k++) {
                    const prefix = n.slice(0, k);
                    const shortest = Math.min(...folded.filter((x) => x.startsWith(prefix)).map((x) => x.length));
                    if (before.endsWith(prefix) && k >= partialMatchAlarm(shortest) && k > a)
                        [a, whole] = [k, shortest];
                }
            }
            if (m === 0 && a === 0)
                continue;
            const [start, stop] = a !== 0 && a >= m ? [end - a, Math.max(end, end - a + whole)] : [end - m, end];
            const last = expected.length;
            if (last > 0 && expected[last - 2] === start)
                expected[last - 1] = Math.max(expected[last - 1], stop);
            else
                expected.push(start, stop);
        }
        // The same text in random chunks, the state carried over.
        const found = [];
        let state = ROOT;
        for (let at = 0; at < text.length;) {
            const to = Math.min(text.length, at + 1 + Math.floor(rnd() * 30));
            const chunk = Buffer.from(text.slice(at, to));
            const local = [];
            state = a.collect(chunk, 0, chunk.length, state, local);
            for (let i = 0; i < local.length; i += 2) {
                // A range that goes on from the chunk before is reported again, from its start.
                const [start, end] = [local[i] + at, local[i + 1] + at];
                if (found.length > 0 && found.at(-2) === start)
                    found[found.length - 1] = Math.max(found.at(-1), end);
                else
                    found.push(start, end);
            }
            at = to;
        }
        if (JSON.stringify(found) !== JSON.stringify(expected))
            t.fail(`round ${round}: ${JSON.stringify(needles)} in ${text}`);
        t.equal(a.detect(Buffer.from(text), 0, text.length, ROOT) < 0, expected.length > 0);
    }
    const a = new NeedleAutomaton([Buffer.from('secret-value')]);
    const s = a.detect(Buffer.from('xx SECRET'), 0, 9, ROOT);
    t.equal(a.depth(s), 6, 'the depth is the partial match so far');
    t.equal(a.detect(Buffer.from('-v'), 0, 2, s), -1, 'two thirds of the needle (8 of 12) count as the needle');
});
t.test('a large set of needles stays correct past the dense-table budget', async (t) => {
    const secrets = Array.from({ length: 1000 }, () => `sk-${randomBytes(24).toString('base64url')}`);
    const scanner = new SecretScanner();
    for (const s of secrets)
        scanner.add(s);
    t.equal(scanner.size, 1000);
    for (const s of [secrets[0], secrets[499], secrets[999]]) {
        t.ok(scanner.foundIn(`/c?k=${s}`));
        t.ok(scanner.foundIn(`Basic ${Buffer.from(`u:${s}`).toString('base64')}`));
    }
    t.notOk(scanner.foundIn(`/c?k=sk-${randomBytes(24).toString('base64url')}`));
});
t.test('the scanner: views, fields and the body filter', async (t) => {
    const scanner = new SecretScanner();
    t.notOk(scanner.foundIn(secret), 'knows nothing yet');
    scanner.add('short');
    t.equal(scanner.size, 0, 'too short to scan for');
    scanner.add(secret);
    t.ok(scanner.foundInRequest('/', ['X-Sk-Test-Openai-5f2b8e0c1d', '1']), 'a header name');
    t.ok(scanner.foundInRequest('/x?bad=%&k=%73%6B-test-openai-5f2b8e0c1d', []), 'a stray % does not turn decoding off');
    t.notOk(scanner.foundInRequest('/', ['Proxy-Authorization', secret]), "the run token's header is sidekey's own");
    t.notOk(scanner.foundInRequest('/', ['x-a', 'sk-test-openai', 'x-b', '-5f2b8e0c1d']), 'fields are searched apart');
    t.ok(scanner.foundInFields(['ok', `${secret}.example`]));
    const run = async (chunks) => {
        const filter = filterStream(scanner.bodyFilter());
        const passed = [];
        filter.on('data', (c) => passed.push(c.toString('latin1')));
        const error = await new Promise((resolve) => {
            filter.once('error', (err) => resolve(err.code ?? err.message));
            filter.once('end', () => resolve(null));
            for (const c of chunks)
                filter.write(Buffer.from(c));
            filter.end();
            filter.resume();
        });
        return { passed, error };
    };
    const pct = [...secret].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
    const caught = await run(['k=plain+text&s=', pct.slice(0, 10), pct.slice(10)]);
    t.equal(caught.error, 'SIDEKEY_ERR_SECRET_DETECTED');
    t.equal(caught.passed.join(''), `k=plain+text&s=${pct.slice(0, 10)}`, 'the chunks before two thirds of it passed (nothing is held back); the one that reached them did not');
    const fine = await run(['100% ', 'ordinary %41 text ', 'with sk- in it']);
    t.equal(fine.error, null);
    t.equal(fine.passed.join(''), '100% ordinary %41 text with sk- in it', 'an ordinary body passes whole');
});
t.test('the two views agree with decoding the whole text first, however it is chunked', async (t) => {
    const scanner = new SecretScanner();
    scanner.add(secret);
    const needles = scanner.needles().map((n) => n.toString('latin1').toLowerCase());
    const rnd = random(29);
    const pieces = ['%', '%2', '%zz', 'x', '%25', '%73k', 'sk-te', '%2D', 'st-openai-5f2b8e0c1d', ...secret.split('').map((c) => `%${c.charCodeAt(0).toString(16)}`), 'c2stdGVzdC1vcGVuYWktNWYyYjhlMGMxZ'];
    let disagreements = 0;
    let found = 0;
    for (let round = 0; round < 2000; round++) {
        const text = Array.from({ length: 5 + Math.floor(rnd() * 40) }, () => pieces[Math.floor(rnd() * pieces.length)]).join('');
        const decoded = percentDecodeMapped(Buffer.from(text, 'latin1'))?.decoded.toString('latin1') ?? text;
        const expected = needles.some((n) => text.toLowerCase().includes(n) || decoded.toLowerCase().includes(n));
        // The same text through the streaming filter, in random chunks.
        const filter = filterStream(scanner.bodyFilter());
        let caught = false;
        filter.on('error', () => (caught = true));
        filter.resume();
        for (let at = 0; at < text.length && !caught;) {
            const to = Math.min(text.length, at + 1 + Math.floor(rnd() * 12));
            filter.write(Buffer.from(text.slice(at, to), 'latin1'));
            at = to;
        }
        await new Promise((r) => setImmediate(r));
        if (caught !== expected || scanner.foundInBuffer(Buffer.from(text, 'latin1')) !== expected)
            disagreements++;
        if (expected)
            found++;
    }
    t.equal(disagreements, 0);
    t.ok(found > 200 && found < 1800, `${found} of 2000 hold a secret (both outcomes are exercised)`);
});
t.test('masking for audit fields and headers', async (t) => {
    const scanner = new SecretScanner();
    scanner.add(secret);
    t.equal(scanner.mask(`/a/${secret}/b`), `/a/[redacted]***************/b`);
    t.equal(scanner.mask(`/a/%73k-test-openai-5f2b8e0c1d`), `/a/[redacted]*****************`, 'the whole escaped span');
    t.equal(scanner.mask(`${secret.toUpperCase()}.example`), `[redacted]***************.example`);
    t.equal(scanner.mask('/nothing/here'), '/nothing/here');
    const record = newAuditRecord('request', 'id-1');
    Object.assign(record, { host: `${secret}.example`, path: `/p/${secret}`, query_keys: [secret, 'x'], method: 'GET' });
    maskAuditRecord(record, scanner);
    t.notMatch(JSON.stringify(record), /sk-test/i);
    t.match(record, { host: /^\[redacted\]\**\.example$/, query_keys: [/^\[redacted\]/, 'x'], method: 'GET', id: 'id-1' });
});
t.test('scrubbing: same-length masks, a secret split across chunks', async (t) => {
    const scanner = new SecretScanner();
    scanner.add(secret);
    const filter = scrubFilter(scanner.needles());
    // Split after two thirds: masked whole. Split before: its first bytes (fewer than two thirds)
    // went out with their chunk, since nothing is held back; the rest is masked as it comes.
    const alarm = partialMatchAlarm(secret.length);
    const whole = [filter.push(Buffer.from(`a ${secret.slice(0, alarm + 1)}`)), filter.push(Buffer.from(`${secret.slice(alarm + 1)} b`)), filter.end()].map((b) => b?.toString() ?? '');
    t.same(whole, [`a ${'[redacted]'.padEnd(alarm + 1, '*')}`, `${'*'.repeat(secret.length - alarm - 1)} b`, '']);
    const early = scrubFilter(scanner.needles());
    const out = [early.push(Buffer.from(`a ${secret.slice(0, 9)}`)), early.push(Buffer.from(`${secret.slice(9)} b`)), early.end()].map((b) => b?.toString() ?? '').join('');
    t.equal(out, `a ${secret.slice(0, 9)}${'[redacted]'.padEnd(secret.length - 9, '*')} b`);
    t.equal(automatonFor(scanner.needles()), automatonFor(scanner.needles()), 'built once per set of secrets');
});
t.test('event streams: a secret split across records is masked from two thirds of it on, and no record is held for what it holds', async (t) => {
    const scanner = new SecretScanner();
    scanner.add(secret);
    const automaton = automatonFor(scanner.needles());
    t.equal(recordFraming('text/event-stream; charset=utf-8'), 'sse');
    t.equal(recordFraming('application/x-ndjson'), 'ndjson');
    t.equal(recordFraming('application/json'), null);
    const sse = recordScrubFilter(automaton, 'sse');
    const step = (s) => sse.push(Buffer.from(s))?.toString() ?? '';
    t.equal(step('data: {"delta":"hello"}\n\n'), 'data: {"delta":"hello"}\n\n', 'a complete ordinary event passes at once');
    // The oracle a held record was: a model spelling out candidates would have shown the agent the
    // right prefix by the event that waited. Every event below passes as soon as it is complete.
    t.equal(step('data: {"delta":"s"}\n\n'), 'data: {"delta":"s"}\n\n', 'the start of a secret passes at once');
    t.equal(step('data: {"delta":"k-test"}\n\n'), 'data: {"delta":"k-test"}\n\n', 'more of it too, short of two thirds');
    const rest = step('event: message\ndata: {"delta":"-openai-5f2b"}\n\n') + step('data: {"delta":"8e0c1d!"}\n\n') + (sse.end()?.toString() ?? '');
    // "sk-test" + "-openai-5f" is 17 of the secret's 25 characters: two thirds, masked from the
    // event that reached them on, with the rest of the secret after them.
    t.notMatch(rest, /openai|5f2b|8e0c1d/, 'from the event that reached two thirds of it, every part of the secret is masked');
    t.match(rest, /"delta":"\[redacted\]\**"/);
    t.match(rest, /"delta":"\[redac!"/, 'the text after the secret survives');
    for (const event of rest.split(/\r?\n\r?\n/).filter((e) => e !== '')) {
        const data = event.split(/\r?\n/).find((l) => l.startsWith('data: ')).slice(6);
        t.doesNotThrow(() => JSON.parse(data), `still JSON: ${data}`);
    }
    const plain = recordScrubFilter(automaton, 'sse');
    const text = ['data: sk-te\n\n', 'data: st-openai-5f2b8e0c1d\n\n'].map((s) => plain.push(Buffer.from(s))?.toString() ?? '').join('') + (plain.end()?.toString() ?? '');
    t.equal(text, 'data: sk-te\n\ndata: [redacted]**********\n\n', 'plain data lines too (the issue example): the first event, short of two thirds, went as it was');
    const escaped = recordScrubFilter(automaton, 'ndjson');
    const line = `{"a":"\\u0073k-test-openai-5f2b8e0c1d","n":1}\n`;
    const masked = (escaped.push(Buffer.from(line))?.toString() ?? '') + (escaped.end()?.toString() ?? '');
    t.notMatch(masked, /openai/, 'JSON escapes are decoded before searching');
    t.same(Object.keys(JSON.parse(masked)), ['a', 'n']);
    const big = recordScrubFilter(automaton, 'sse');
    const huge = `data: ${'x'.repeat(MAX_RECORD_BYTES + 10)}`;
    t.equal(big.push(Buffer.from(huge))?.length, huge.length, 'an oversized record is passed on, not held without bound');
});
t.test('JSON strings by key path', async (t) => {
    const seen = [];
    const ok = jsonStrings(Buffer.from('{"id":"x","choices":[{"delta":{"content":"a\\"b\\u00e9"}},"s"],"n":[1,{"k":"v"}]}'), (path, bytes) => seen.push([path, Buffer.from(bytes).toString('utf8')]));
    t.ok(ok);
    t.same(seen, [['.id', 'x'], ['.choices[].delta.content', 'a"bé'], ['.choices[]', 's'], ['.n[].k', 'v']]);
    t.notOk(jsonStrings(Buffer.from('not json'), () => undefined));
    t.notOk(jsonStrings(Buffer.from('{"open": "never closed'), () => undefined));
});
//# sourceMappingURL=secret-encodings.test.js.map