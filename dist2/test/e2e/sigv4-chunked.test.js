import t from 'tap';
import { signAws } from '../../src/credentials/cloud/aws-sigv4.js';
import { SidekeyError } from '../../src/errors.js';
import { ChunkResigner, resignBuffer, signingKey } from '../../src/inject/sigv4-chunked.js';
// Chunk-signed S3 uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD and its -TRAILER variant), checked
// against the worked examples in AWS's S3 API reference ("Signature calculations for the
// Authorization header: transferring payload in multiple chunks", and the same with trailing
// headers): 66,560 bytes of 'a' in a 64 KiB chunk and a 1 KiB chunk, signed with the documented
// example keys on 2013-05-24. The agent's chunk signatures (zeros here, as a placeholder key gives
// garbage anyway) must come out as AWS's.
const EXAMPLE = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const AMZ_DATE = '20130524T000000Z';
const ZEROS = '0'.repeat(64);
function body(signatures, trailer) {
    return Buffer.concat([
        Buffer.from(`10000;chunk-signature=${signatures[0]}\r\n`),
        Buffer.alloc(65536, 'a'),
        Buffer.from(`\r\n400;chunk-signature=${signatures[1]}\r\n`),
        Buffer.alloc(1024, 'a'),
        Buffer.from(`\r\n0;chunk-signature=${signatures[2]}\r\n`),
        Buffer.from(trailer ?? '\r\n'),
    ]);
}
const documented = ['ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648', '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497', 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'];
const documentedTrailer = ['b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2', '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7', '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992'];
const trailerWith = (signature) => `x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:${signature}\r\n\r\n`;
const signing = (seedSignature, trailer) => ({ signingKey: signingKey(EXAMPLE.secretAccessKey, '20130524', 'us-east-1', 's3'), amzDate: AMZ_DATE, scope: SCOPE, seedSignature, trailer });
t.test('the seed signature of the documented chunked PUT', async (t) => {
    const headers = {
        host: 's3.amazonaws.com',
        'x-amz-date': AMZ_DATE,
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'content-encoding': 'aws-chunked',
        'content-length': '66824',
        'x-amz-decoded-content-length': '66560',
    };
    const signed = await signAws({ method: 'PUT', url: new URL('https://s3.amazonaws.com/examplebucket/chunkObject.txt'), headers, body: null, payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' }, EXAMPLE, { service: 's3', region: 'us-east-1' }, new Date('2013-05-24T00:00:00Z'));
    t.match(signed.authorization, /Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9$/);
});
t.test('every chunk is signed again, chained from the seed: AWS\'s documented signatures come out', async (t) => {
    const out = resignBuffer(signing('4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9', false), body([ZEROS, ZEROS, ZEROS], null));
    t.ok(out.equals(body(documented, null)), 'byte for byte the documented body');
    t.equal(out.length, 66824, 'the documented Content-Length still holds');
});
t.test('the trailer variant: chunks and x-amz-trailer-signature signed again', async (t) => {
    const out = resignBuffer(signing('106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e', true), body([ZEROS, ZEROS, ZEROS], trailerWith(ZEROS)));
    t.equal(out.toString('latin1'), body(documentedTrailer, trailerWith('d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435')).toString('latin1'));
});
t.test('however the body is split on the wire, the output is the same', async (t) => {
    const input = body([ZEROS, ZEROS, ZEROS], trailerWith(ZEROS));
    const expected = body(documentedTrailer, trailerWith('d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435'));
    for (const size of [1, 2, 3, 7, 89, 90, 1000, 65536, 65627, 70000]) {
        const r = new ChunkResigner(signing('106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e', true));
        const parts = [];
        for (let at = 0; at < input.length; at += size)
            parts.push(...r.push(input.subarray(at, at + size)));
        r.end();
        t.ok(Buffer.concat(parts).equals(expected), `split every ${size} bytes`);
    }
});
t.test('malformed framing is refused with what is wrong, never passed on', async (t) => {
    const s = signing(ZEROS, false);
    const cases = [
        ['no signature extension', Buffer.from('5\r\nhello\r\n0\r\n\r\n'), /chunk header is not/],
        ['a short signature', Buffer.from('5;chunk-signature=abc\r\nhello\r\n0;chunk-signature=abc\r\n\r\n'), /chunk header is not/],
        ['a chunk without its CRLF', Buffer.from(`5;chunk-signature=${ZEROS}\r\nhelloXX0;chunk-signature=${ZEROS}\r\n\r\n`), /does not end with CRLF/],
        ['a size line that never ends', Buffer.alloc(300, 0x41), /too long/],
        ['bytes after the final chunk', Buffer.from(`0;chunk-signature=${ZEROS}\r\n\r\nGET / HTTP/1.1\r\n`), /after the final chunk/],
        ['a truncated body', Buffer.from(`5;chunk-signature=${ZEROS}\r\nhel`), /ended before the final chunk/],
        ['a chunk larger than sidekey holds', Buffer.from(`7fffffff;chunk-signature=${ZEROS}\r\n`), /larger than/, 'SIDEKEY_ERR_BODY_TOO_LARGE'],
    ];
    for (const [name, input, message, code] of cases) {
        let caught = null;
        try {
            resignBuffer(s, input);
        }
        catch (err) {
            caught = err;
        }
        t.ok(caught instanceof SidekeyError, `${name}: refused`);
        t.match(caught, { code: code ?? 'SIDEKEY_ERR_BAD_REQUEST', message }, name);
    }
    const trailer = signing(ZEROS, true);
    t.throws(() => resignBuffer(trailer, Buffer.from(`0;chunk-signature=${ZEROS}\r\nx-amz-checksum-crc32c:sOO8/Q==\r\n\r\n`)), /no x-amz-trailer-signature/, 'a trailer without its signature');
    t.throws(() => resignBuffer(trailer, Buffer.from(`0;chunk-signature=${ZEROS}\r\n${'x-amz-meta: a\r\n'.repeat(400)}`)), /too large/, 'endless trailing headers');
});
//# sourceMappingURL=sigv4-chunked.test.js.map