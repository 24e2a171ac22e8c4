import t from 'tap'
import { maskedRefusal, reasonPhrase, refusalBody, refusalHeaders } from '../../src/accept/refuse.js'
import { SecretScanner } from '../../src/guard/secret-scan.js'
import { rejectsCertificate } from '../../src/accept/intercept.js'
import { SidekeyError } from '../../src/errors.js'

// The reason phrase is what most clients show of a refused CONNECT (issue #19): it must say why,
// and stay a valid status line whatever the message holds (RFC 9112 section 4: visible ASCII and
// spaces, so nothing can end the line early or inject a header).

t.test('the reason phrase: `sidekey: MESSAGE (CODE)`, in the bytes a status line allows', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['plain', 'no route allows example.com:443', /^sidekey: no route allows example\.com:443 \(SIDEKEY_ERR_NO_ROUTE\)$/],
    ['CR/LF cannot end the line', 'a\r\nSet-Cookie: x=1\r\n\r\nb', /^sidekey: a Set-Cookie: x=1 b \(SIDEKEY_ERR_NO_ROUTE\)$/],
    ['tabs and other controls become a space', 'a\tb\x00c\x7fd', /^sidekey: a b c d \(SIDEKEY_ERR_NO_ROUTE\)$/],
    ['non-ASCII (a host in Unicode) becomes a space', 'no route allows bücher.example', /^sidekey: no route allows b cher\.example \(SIDEKEY_ERR_NO_ROUTE\)$/],
    ['a long message is cut, the code kept', 'x'.repeat(5000), /^sidekey: x{297}\.\.\. \(SIDEKEY_ERR_NO_ROUTE\)$/],
  ]
  for (const [name, message, expected] of cases) {
    const phrase = reasonPhrase(new SidekeyError('SIDEKEY_ERR_NO_ROUTE', message))
    t.match(phrase, expected, name)
    t.match(phrase, /^[\x20-\x7e]+$/, `${name}: visible ASCII and spaces only`)
  }
})

t.test('which failed handshakes are a client rejecting the certificate', async (t) => {
  const alert = (text: string, n: number): Error => new Error(`error:0A000418:SSL routines:ssl3_read_bytes:${text}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:918:SSL alert number ${n}\n`)
  const cases: [string, Error, boolean][] = [
    ['unknown_ca (curl, Python, Node)', alert('tlsv1 alert unknown ca', 48), true],
    ['bad_certificate (Go)', alert('ssl/tls alert bad certificate', 42), true],
    ['certificate_unknown (Java)', alert('sslv3 alert certificate unknown', 46), true],
    ['certificate_expired', alert('sslv3 alert certificate expired', 45), true],
    ['handshake_failure (no shared cipher) is not', alert('sslv3 alert handshake failure', 40), false],
    ['protocol_version is not', alert('tlsv1 alert protocol version', 70), false],
    ['a garbled record is not', new Error('error:0A00010B:SSL routines::wrong version number'), false],
  ]
  for (const [name, err, expected] of cases) t.equal(rejectsCertificate(err), expected, name)
})

t.test('a refusal that quotes a managed secret goes out masked, with its code, details and Retry-After', async (t) => {
  const scanner = new SecretScanner()
  scanner.add('sk-live-0123456789abcdef')
  const err = new SidekeyError('SIDEKEY_ERR_RATE_LIMITED', 'the upstream said sk-live-0123456789abcdef', { retryAfterS: 7, details: { approval_id: 'a1' } })
  const masked = maskedRefusal(err, (text) => scanner.mask(text))
  t.notMatch(masked.message, 'sk-live-0123')
  t.match(masked, { code: 'SIDEKEY_ERR_RATE_LIMITED', status: 429, retryAfterS: 7, details: { approval_id: 'a1' } })
  const body = refusalBody(masked, 'r1', null)
  t.notMatch(body + JSON.stringify(refusalHeaders(masked, body, 'r1')) + reasonPhrase(masked), 'sk-live-0123')
  const clean = new SidekeyError('SIDEKEY_ERR_NO_ROUTE', 'no route allows example.com:443')
  t.equal(maskedRefusal(clean, (text) => scanner.mask(text)), clean, 'one without a secret is the same object')
})
